#!/usr/bin/env node
/**
 * The `sockdiag` command: ss(8)'s options and output over the library.
 *
 * Output is streamed the way ss streams it: ss sizes every column to the widest cell of
 * the rows it has buffered, and renders its buffer at the end or whenever five 1 MiB chunks
 * are full (see table.ts). We render at exactly the same rows, so long listings reach
 * stdout in batches of about 5 MB while the dump is still running, with bounded memory,
 * and every byte matches ss. `--json=ndjson` streams socket by socket.
 * @module
 */
import { streamSockets } from '../api/list';
import type { ListOptions } from '../api/options';
import type { Engine } from '../engine';
import type { Socket } from '../diag/socket';
import type { InetExtension } from '../diag/inet';
import type { Filter } from '../filter/ast';
import { FilterError, formatFilterError } from '../filter/errors';
import { interfaceIndexes } from '../system/links';
import { cgroupPathResolver } from '../system/cgroups';
import { NotSupportedError } from '../errors';
import { AF } from '../diag/constants';
import { socketKind } from '../diag/registry';
import type { InetProtocolName } from '../diag/inet';
import { eachReply } from './replies';
import { writeInetMessageRow, writeRow, FormatOptions } from './format';
import { prepareFormat } from './details';
import { TableRenderer } from './table';
import { CliExit, Invocation, parseCommandLine, strerror, usageText } from './args';
import { checkDevices, resolveSelection, Selection, selectionFilter, stateNames, typeSelected } from './select';
import { JsonWriter } from './json';
import type { ProtocolName } from '../diag/constants';
import { createWriteStream, WriteStream } from 'node:fs';

// -s, -E, -K, -D and the netlink table load their modules when used: start-up counts
// for a command, and the plain listing needs none of them.
type SummaryModule = typeof import('../api/summary');
type WatchModule = typeof import('../api/watch');
type DestroyModule = typeof import('../api/destroy');
type RawModule = typeof import('../api/raw');
/* eslint-disable @typescript-eslint/no-require-imports */
const loadSummary = (): SummaryModule => require('../api/summary') as SummaryModule;
const loadWatch = (): WatchModule => require('../api/watch') as WatchModule;
const loadDestroy = (): DestroyModule => require('../api/destroy') as DestroyModule;
const loadRaw = (): RawModule => require('../api/raw') as RawModule;
/* eslint-enable @typescript-eslint/no-require-imports */

/** Where the command writes; tests and the JSON writer share it. */
export interface Output {
  /** Writes text (or raw bytes, for -D -) to stdout, resolving when it may write more (backpressure). */
  write(text: string | Uint8Array): Promise<void> | void;
  /** Whether everything written so far has left the process (nothing holds the bytes given to `write`). */
  flushed?(): boolean;
}

/** stdout with backpressure; EPIPE (a reader such as `head` went away) ends the program quietly. */
function stdoutOutput(): Output {
  return {
    write(text) {
      if (text.length === 0) return;
      if (!process.stdout.write(text)) return new Promise((resolve) => process.stdout.once('drain', resolve));
    },
    // Files and pipes are written synchronously on Linux; a write that did not complete is queued.
    flushed: () => process.stdout.writableLength === 0,
  };
}

/** The inet extensions ss asks for with these options. */
function extensionsFor(inv: Invocation): InetExtension[] {
  const ext: InetExtension[] = [];
  if (inv.memory) ext.push('meminfo', 'skmeminfo');
  if (inv.info) ext.push('info', 'vegas', 'cong');
  if (inv.tos) ext.push('tos', 'tclass');
  return ext;
}

function listOptions(inv: Invocation, sel: Selection, protocol: ProtocolName, filter: Filter | undefined, json: boolean): ListOptions {
  const opts: ListOptions = {
    protocols: [protocol],
    states: stateNames(sel.states),
    extensions: json ? 'all' : extensionsFor(inv),
  };
  if (sel.inetFamilies.length > 0) opts.families = sel.inetFamilies;
  if (filter) opts.filter = filter;
  if (inv.netns !== undefined) opts.netns = `/var/run/netns/${inv.netns}`;
  if (inv.engine !== undefined) opts.engine = inv.engine;
  const wantProcesses = inv.processes > 0 || inv.threads > 0 || inv.processContext;
  if (wantProcesses) opts.processes = inv.threads > 0 ? { threads: true } : { method: 'auto' };
  return opts;
}

/** Whether a kind is an inet protocol. */
const isInet = (protocol: ProtocolName): boolean => socketKind(protocol).family === 'inet';

/**
 * Calls `each` for the sockets of one table as ss shows them: only the socket types of the
 * selected tables, and without our own process among the holders (ss walks /proc before it
 * opens its netlink socket, so it never lists itself). A table this kernel cannot dump is
 * empty, as in ss. A callback rather than a generator: one async step per socket fewer,
 * which shows at 100k sockets. `each` may return a promise to apply backpressure.
 */
async function eachTableSocket(opts: ListOptions, dbs: number, each: (s: Socket) => void | Promise<void>): Promise<void> {
  const protocol = opts.protocols![0];
  const typed = protocol === 'unix' || protocol === 'packet' || protocol === 'vsock';
  const self = process.pid;
  try {
    const sockets = protocol === 'netlink' ? netlinkSockets(opts) : streamSockets(opts);
    for await (const s of sockets) {
      if (typed && !typeSelected(protocol, (s as { type?: string }).type, dbs)) continue;
      if (s.processes && s.processes.some((p) => p.pid === self)) {
        const others = s.processes.filter((p) => p.pid !== self);
        if (others.length === 0) delete s.processes;
        else s.processes = others;
      }
      const p = each(s);
      if (p) await p;
    }
  } catch (err) {
    if (err instanceof NotSupportedError) return;
    throw err;
  }
}

/**
 * Netlink sockets as the kernel lists them. Its dump walks the bound sockets and then those
 * in multicast groups, so a socket in a group comes twice, and ss prints it twice: the
 * listing API drops such duplicates by cookie, so the table reads the raw reply instead.
 */
async function* netlinkSockets(opts: ListOptions): AsyncGenerator<Socket, void, undefined> {
  const { processes: _ignored, ...rest } = opts;
  const out: Socket[] = [];
  await eachReply(
    rest,
    (b, off, len, _protocol, decode) => {
      const s = decode(b, off, len);
      if (s) out.push(s);
    },
    () => undefined,
  );
  yield* out;
}

function formatOptions(inv: Invocation, sel: Selection): FormatOptions {
  return {
    numeric: inv.numeric,
    resolve: inv.resolve,
    processes: inv.processes > 0 || inv.threads > 0,
    threads: inv.threads > 0,
    extended: inv.details > 0,
    memory: inv.memory,
    info: inv.info,
    options: inv.showOptions,
    selinuxProcess: inv.processContext,
    selinuxSocket: inv.socketContext,
    tos: inv.tos,
    cgroup: inv.cgroup,
    inetSockopt: inv.inetSockopt,
    bpf: inv.bpf > 0,
    bpfMaps: inv.bpfMaps,
    bpfMapIds: inv.bpfMapIds,
    tipcinfo: inv.tipcinfo,
    oneline: inv.oneline,
    tables: new Set(sel.tables.map((t) => t.protocol)),
    cgroupPath: cgroupPathResolver({ sysRemounted: inv.netns !== undefined }),
  };
}

/** Interface names of the listed namespace (for `%dev` and packet devices), when a table may need them. */
async function interfaceNames(inv: Invocation, sel: Selection): Promise<Map<number, string> | undefined> {
  if (!sel.tables.some((t) => isInet(t.protocol) || t.protocol === 'packet' || t.protocol === 'xdp')) return undefined;
  try {
    const byName = await interfaceIndexes(inv.netns === undefined ? undefined : `/var/run/netns/${inv.netns}`);
    return new Map([...byName].map(([name, index]) => [index, name]));
  } catch {
    return undefined;
  }
}

function renderer(inv: Invocation, sel: Selection, out: Output, pending: Array<Promise<void>>): TableRenderer {
  const tty = process.stdout.isTTY === true && (process.stdout.columns ?? 0) > 0;
  return new TableRenderer(
    { netid: sel.showNetid, state: sel.showState, queues: inv.queues, header: inv.header, screenWidth: tty ? process.stdout.columns : undefined },
    (text) => {
      const p = out.write(text);
      if (p) pending.push(p);
    },
    () => out.flushed?.() === true,
  );
}

/**
 * The rows of an inet table written straight from the kernel's reply datagrams, with no
 * socket objects (ss's own way): for listings that need nothing but the reply (no process
 * owners, no host names). Rendering waits when stdout is full.
 */
async function printInetReplies(opts: ListOptions, table: TableRenderer, fmt: FormatOptions, pending: Array<Promise<void>>): Promise<void> {
  try {
    await eachReply(
      opts,
      (b, off, len, protocol, decode) => {
        table.beginRow();
        writeInetMessageRow(table, b, off, len, protocol as InetProtocolName, decode, fmt);
      },
      // A render wrote to a full pipe: wait until it drains.
      () => (pending.length > 0 ? Promise.all(pending.splice(0)).then(() => undefined) : undefined),
    );
  } catch (err) {
    if (err instanceof NotSupportedError) return;
    throw err;
  }
}

/** Adds a socket's row to the table, its cells written straight into the table's buffer. */
function addRow(table: TableRenderer, s: Socket, fmt: FormatOptions): void {
  table.beginRow();
  writeRow(table, s, fmt);
}

/** The listing in ss's text. */
async function printTables(inv: Invocation, sel: Selection, filter: Filter | undefined, out: Output): Promise<void> {
  const fmt = formatOptions(inv, sel);
  const ifnames = await interfaceNames(inv, sel);
  if (ifnames) fmt.ifnames = ifnames;
  const pending: Array<Promise<void>> = [];
  const table = renderer(inv, sel, out, pending);
  for (const t of sel.tables) {
    const opts = listOptions(inv, sel, t.protocol, filter, false);
    if (isInet(t.protocol) && !inv.resolve && opts.processes === undefined) {
      await printInetReplies(opts, table, fmt, pending);
    } else if (inv.resolve) {
      // -r needs host names looked up (asynchronously) before the rows are formatted.
      const sockets: Socket[] = [];
      await eachTableSocket(opts, t.dbs, (s) => void sockets.push(s));
      Object.assign(fmt, await prepareFormat(sockets, fmt));
      for (const s of sockets) addRow(table, s, fmt);
    } else {
      await eachTableSocket(opts, t.dbs, (s) => {
        addRow(table, s, fmt);
        // A render wrote to a full pipe: wait until it drains.
        if (pending.length > 0) return Promise.all(pending.splice(0)).then(() => undefined);
      });
    }
  }
  table.end();
  await Promise.all(pending);
}

/** The listing as JSON. */
async function printJson(inv: Invocation, sel: Selection, filter: Filter | undefined, out: Output): Promise<void> {
  const writer = new JsonWriter(inv.json ?? 'array', out);
  await writer.begin();
  for (const t of sel.tables) {
    await eachTableSocket(listOptions(inv, sel, t.protocol, filter, true), t.dbs, (s) => writer.item(s));
  }
  await writer.end();
}

/** -K: kill what the listing selects (inet sockets only, as ss), then print what was closed. */
async function killSockets(inv: Invocation, sel: Selection, filter: Filter | undefined, out: Output, err: Pick<Output, 'write'>): Promise<void> {
  const fmt = formatOptions(inv, sel);
  const pending: Array<Promise<void>> = [];
  const table = inv.json ? undefined : renderer(inv, sel, out, pending);
  const writer = inv.json ? new JsonWriter(inv.json, out) : undefined;
  await writer?.begin();
  for (const t of sel.tables) {
    if (!isInet(t.protocol)) continue;
    const opts = listOptions(inv, sel, t.protocol, filter, inv.json !== undefined);
    let result;
    try {
      result = await loadDestroy().destroySockets(opts);
    } catch (e) {
      if (e instanceof NotSupportedError) continue;
      throw e;
    }
    for (const r of result.results) {
      // ss prints what it closed and silently skips what was gone or cannot be closed.
      if (r.outcome !== 'destroyed' && r.outcome !== 'lingering') {
        if (r.error && r.error.code !== 'ENOENT' && r.error.code !== 'EOPNOTSUPP') await err.write(`SOCK_DESTROY answers: ${r.error.message}\n`);
        continue;
      }
      if (writer) await writer.item(r.socket);
      else addRow(table!, r.socket, fmt);
    }
  }
  table?.end();
  await writer?.end();
  await Promise.all(pending);
}

/** -E: print sockets as they are destroyed, until interrupted. */
async function followEvents(inv: Invocation, sel: Selection, out: Output, err: Pick<Output, 'write'>): Promise<void> {
  const protocols: ('tcp' | 'udp')[] = [];
  if (sel.tables.some((t) => t.protocol === 'tcp')) protocols.push('tcp');
  if (sel.tables.some((t) => t.protocol === 'udp')) protocols.push('udp');
  const families = (['inet', 'inet6'] as const).filter((f) => sel.families.has(f === 'inet' ? AF.INET : AF.INET6));
  if (protocols.length === 0 || families.length === 0) return;
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const fmt = formatOptions(inv, sel);
  const pending: Array<Promise<void>> = [];
  const table = inv.json ? undefined : renderer(inv, sel, out, pending);
  const { watchSockets } = loadWatch();
  const watch = watchSockets({ protocols, families: [...families], signal: controller.signal, ...(inv.engine === undefined ? {} : { engine: inv.engine }), ...(inv.netns === undefined ? {} : { netns: `/var/run/netns/${inv.netns}` }) });
  try {
    for await (const ev of watch) {
      if (inv.json) {
        await out.write(`${JsonWriter.stringify(ev)}\n`);
        continue;
      }
      if (ev.type !== 'destroy') {
        await err.write(`sockdiag: events lost (${ev.lost ?? 'unknown number'})\n`);
        continue;
      }
      addRow(table!, ev.socket, fmt);
      table!.flush();
      await Promise.all(pending.splice(0));
    }
  } catch (e) {
    if (!controller.signal.aborted) throw e;
  } finally {
    watch.close();
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  }
}

/** -D FILE: the raw reply datagrams of the TCP dump (the filter expression is not applied, as in ss 6.1). */
async function dumpRaw(inv: Invocation, sel: Selection, out: Output): Promise<void> {
  const opts: ListOptions = { protocols: ['tcp'], states: stateNames(sel.states), extensions: extensionsFor(inv) };
  if (sel.inetFamilies.length > 0) opts.families = sel.inetFamilies;
  if (inv.netns !== undefined) opts.netns = `/var/run/netns/${inv.netns}`;
  if (inv.engine !== undefined) opts.engine = inv.engine;
  const toStdout = inv.dumpFile!.startsWith('-');
  let file: WriteStream | undefined;
  if (!toStdout) {
    file = createWriteStream(inv.dumpFile!);
    await new Promise<void>((resolve, reject) => {
      file!.once('open', () => resolve());
      file!.once('error', (err) => reject(new CliExit(255, `fopen dump file: ${strerror(err)}\n`)));
    });
  }
  try {
    for await (const datagram of loadRaw().rawDump(opts)) {
      if (file) {
        if (!file.write(datagram)) await new Promise<void>((resolve) => file!.once('drain', () => resolve()));
      } else {
        await out.write(datagram);
      }
    }
  } finally {
    if (file) await new Promise<void>((resolve) => file!.end(resolve));
  }
}

/**
 * Runs the command with `argv` (the words after the program name) and returns its exit
 * status. Output goes to `out`, messages to `err` (stdout and stderr by default).
 */
export async function run(
  argv: readonly string[],
  out: Output = stdoutOutput(),
  err: Pick<Output, 'write'> = { write: (t) => void process.stderr.write(t) },
  options: { engine?: Engine } = {},
): Promise<number> {
  try {
    const inv = parseCommandLine(argv);
    if (options.engine !== undefined) inv.engine = options.engine;
    if (inv.summary) {
      const { summary, formatSummary } = loadSummary();
      const s = await summary(inv.netns === undefined ? {} : { netns: `/var/run/netns/${inv.netns}` });
      await out.write(inv.json ? `${JsonWriter.stringify(s)}\n` : formatSummary(s));
      if (inv.doDefault && inv.words.length === 0) return 0;
    }
    const sel = resolveSelection(inv);
    if (inv.dumpFile !== undefined) {
      if (!sel.tables.some((t) => t.protocol === 'tcp')) throw new CliExit(0, 'sockdiag: tcpdiag dump requested and no tcp in filter.\n');
      await dumpRaw(inv, sel, out);
      return 0;
    }
    const filter = selectionFilter(inv, sel);
    await checkDevices(inv.netns, filter);
    if (inv.events) await followEvents(inv, sel, out, err);
    else if (inv.kill) await killSockets(inv, sel, filter, out, err);
    else if (inv.json) await printJson(inv, sel, filter, out);
    else await printTables(inv, sel, filter, out);
    return 0;
  } catch (e) {
    if (e instanceof CliExit) {
      if (e.stdout) await out.write(e.stdout);
      if (e.stderr) await err.write(e.stderr);
      if (e.usage) await err.write(usageText());
      return e.status;
    }
    if (e instanceof FilterError) {
      await err.write(`${formatFilterError(e)}\n`);
      return e.exitStatus;
    }
    await err.write(`sockdiag: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

if (require.main === module) {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    // The reader went away (`sockdiag … | head`): stop quietly, as ss does on SIGPIPE.
    if (err.code === 'EPIPE') process.exit(0);
    process.stderr.write(`sockdiag: stdout: ${err.message}\n`);
    process.exit(1);
  });
  run(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`sockdiag: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
