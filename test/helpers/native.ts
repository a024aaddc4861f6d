/**
 * Helpers of the test/native-*.test.ts files: child node processes (plain-JS scripts in
 * test/fixtures/, run inside a private namespace so that a crash is an exit signal, not
 * a dead jest worker), raw netlink exchanges on a {@link Channel}, and process counters.
 */
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Channel, Datagrams } from '../../lib/netlink/channel';
import { pidAlive, runCommand, type ExecResult, type Netns } from './netns';

export const FIXTURES = path.join(__dirname, '..', 'fixtures');
const ROOT = path.join(__dirname, '..', '..');

let addonCopy: string | undefined;

/**
 * /tmp/<prefix>-<pid>, made fresh for this process and removed when it exits; copies left by
 * earlier runs whose process is gone are removed first (those this user may remove: a run
 * as another user, root say, leaves its own).
 */
export function processTmpDir(prefix: string): string {
  const own = new RegExp(`^${prefix}-(\\d+)$`);
  for (const name of readdirSync(tmpdir())) {
    const m = own.exec(name);
    if (!m || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) continue;
    try {
      rmSync(path.join(tmpdir(), name), { recursive: true, force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EACCES' && (e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
    }
  }
  const dir = path.join(tmpdir(), `${prefix}-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * The addon file the child scripts load: SOCKDIAG_ADDON when set, else the one lib loads
 * (node-gyp-build: build/Release, else prebuilds/). It is copied to a private directory
 * (/tmp/sockdiag-addon-<pid>, removed when this process ends or by a later run once the
 * pid is gone), world-readable, because children that drop privileges cannot read a
 * checkout under a private directory; a fresh copy also survives a rebuild of build/.
 */
export function addonForChildren(): string {
  if (addonCopy !== undefined) return addonCopy;
  const dir = processTmpDir('sockdiag-addon');
  chmodSync(dir, 0o755);
  // While that rebuild runs there may be no addon at all for a moment: wait for one that
  // loads (up to 2 minutes) rather than fail.
  const deadline = Date.now() + 120_000;
  for (;;) {
    // A fresh name per attempt: never overwrite a file a process may have mapped.
    const copy = path.join(dir, `sockdiag-${randomBytes(6).toString('hex')}.node`);
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const source = process.env.SOCKDIAG_ADDON ?? (require('node-gyp-build') as { path(dir: string): string }).path(ROOT);
      copyFileSync(source, copy);
      chmodSync(copy, 0o755);
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      if (typeof (require(copy) as { Channel?: unknown }).Channel !== 'function') throw new Error(`${source} has no Channel`);
      addonCopy = copy;
      return copy;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    }
  }
}


export const fdCount = (): number => readdirSync('/proc/self/fd').length;
export const threadCount = (): number => readdirSync('/proc/self/task').length;

/** Threads of this process with that name (comm), e.g. the addon's 'sockdiag-reader'. */
export function threadsNamed(name: string): number {
  let n = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      if (readFileSync(`/proc/self/task/${tid}/comm`, 'latin1').trim() === name) n++;
    } catch {
      /* the thread ended meanwhile */
    }
  }
  return n;
}
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The `net:[inode]` link of every thread of this process, by thread id. */
export function threadNetns(): Map<string, string> {
  const out = new Map<string, string>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      out.set(tid, readlinkSync(`/proc/self/task/${tid}/ns/net`));
    } catch {
      /* the thread ended meanwhile */
    }
  }
  return out;
}

/** This process's fds open on the file with that device and inode (e.g. a namespace's nsfs inode). */
export function fdsOpenOn(file: { dev: number; ino: number }): number[] {
  const out: number[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const st = statSync(`/proc/self/fd/${fd}`);
      if (st.ino === file.ino && st.dev === file.dev) out.push(Number(fd));
    } catch {
      /* closed meanwhile, or not stat-able */
    }
  }
  return out;
}

function execDirect(argv: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<ExecResult> {
  return runCommand(argv[0], argv.slice(1), { env, timeoutMs });
}

export interface ChildRun<T> extends ExecResult {
  /** The last JSON line the child printed, if any. */
  json: T | undefined;
  /** Date.now() when the child had exited. */
  endedAt: number;
  /** Wall time of the whole run, ms. */
  ms: number;
}

/**
 * Runs `node [nodeArgs] test/fixtures/<script> [args]` inside `ns` (optionally behind a
 * prefix such as setpriv or strace) and parses its last stdout line as JSON. With `ns`
 * null the argv runs as is: only for a prefix that makes its own namespace (`unshare -n`).
 */
let fixturesCopy: string | undefined;

/**
 * The child scripts, copied beside the addon copy: children that drop privileges cannot
 * read a checkout that lives under a private directory (mktemp -d is mode 0700).
 */
function fixturesForChildren(addon: string): string {
  if (fixturesCopy !== undefined) return fixturesCopy;
  const dir = path.join(path.dirname(addon), 'fixtures');
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  // The scripts only: recorded data lives in folders there (fixtures/dumps).
  for (const f of readdirSync(FIXTURES, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name)) {
    copyFileSync(path.join(FIXTURES, f), path.join(dir, f));
    chmodSync(path.join(dir, f), 0o644);
  }
  fixturesCopy = dir;
  return dir;
}

export async function runChild<T>(
  ns: Pick<Netns, 'exec'> | null,
  script: string,
  args: string[] = [],
  opts: { prefix?: string[]; nodeArgs?: string[]; timeoutMs?: number } = {},
): Promise<ChildRun<T>> {
  const t0 = Date.now();
  const addon = addonForChildren();
  const argv = [...(opts.prefix ?? []), process.execPath, ...(opts.nodeArgs ?? []), path.join(fixturesForChildren(addon), script), ...args];
  const env = { ...process.env, SOCKDIAG_ADDON: addon };
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const r = ns === null ? await execDirect(argv, env, timeoutMs) : await ns.exec(argv, { env, timeoutMs });
  const endedAt = Date.now();
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
  let json: T | undefined;
  try {
    json = lines.length > 0 ? (JSON.parse(lines[lines.length - 1]) as T) : undefined;
  } catch {
    json = undefined;
  }
  return { ...r, json, endedAt, ms: endedAt - t0 };
}

/**
 * How a child ended, for `expect(exitOf(r)).toEqual({ status: 0, signal: null })`: its
 * stderr is added only when it failed, so that the failure shows why.
 */
export function exitOf(r: ExecResult): { status: number | null; signal: NodeJS.Signals | null; stderr?: string } {
  const ok = r.status === 0 && r.signal === null;
  return ok ? { status: r.status, signal: r.signal } : { status: r.status, signal: r.signal, stderr: r.stderr.trim().slice(0, 4000) };
}

/** One netlink message as read off a channel. */
export interface RawMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** Sender port id of the datagram it came in (0 = the kernel). */
  sender: number;
  /** For NLMSG_ERROR / NLMSG_DONE: the int at the start of the payload. */
  status: number | undefined;
  payload: Buffer;
}

/** Every message of a batch, whoever sent it. */
export function rawMessages(batch: Datagrams): RawMessage[] {
  const out: RawMessage[] = [];
  const b = batch.data;
  for (let i = 0; i < batch.offsets.length; i++) {
    let off = batch.offsets[i];
    const end = off + batch.lengths[i];
    while (off + 16 <= end) {
      const len = b.readUInt32LE(off);
      if (len < 16 || off + len > end) throw new Error(`bad nlmsg_len ${len} at ${off}`);
      const type = b.readUInt16LE(off + 4);
      out.push({
        type,
        flags: b.readUInt16LE(off + 6),
        seq: b.readUInt32LE(off + 8),
        pid: b.readUInt32LE(off + 12),
        sender: batch.senders[i],
        status: (type === 2 || type === 3) && len >= 20 ? b.readInt32LE(off + 16) : undefined,
        payload: b.subarray(off + 16, off + len),
      });
      off += (len + 3) & ~3;
    }
  }
  return out;
}

const pendingReads = new WeakMap<Channel, Promise<Datagrams | null>>();

/**
 * `channel.read()`, or 'timeout' after `ms`. A read that timed out stays pending and is
 * the one the next call waits for (a channel allows one pending read).
 */
export async function readWithin(channel: Channel, ms: number): Promise<Datagrams | null | 'timeout'> {
  let read = pendingReads.get(channel);
  if (read === undefined) {
    read = channel.read();
    read.catch(() => undefined);
    pendingReads.set(channel, read);
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    const r = await Promise.race([
      read,
      new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), ms);
      }),
    ]);
    if (r !== 'timeout') pendingReads.delete(channel);
    return r;
  } catch (e) {
    pendingReads.delete(channel);
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Reads raw messages until `until` says stop (or `ms` elapse: then throws, so that a
 * hang is a test failure with a message). Rejected reads are collected in `errors`.
 */
export async function readUntil(
  channel: Channel,
  until: (m: RawMessage) => boolean,
  ms = 5000,
): Promise<{ messages: RawMessage[]; errors: unknown[] }> {
  const deadline = Date.now() + ms;
  const messages: RawMessage[] = [];
  const errors: unknown[] = [];
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`no end after ${ms} ms (${messages.length} messages, ${errors.length} errors)`);
    let batch: Datagrams | null | 'timeout';
    try {
      batch = await readWithin(channel, left);
    } catch (e) {
      errors.push(e);
      continue;
    }
    if (batch === 'timeout') continue;
    if (batch === null) throw new Error('channel closed');
    for (const m of rawMessages(batch)) {
      messages.push(m);
      if (until(m)) return { messages, errors };
    }
  }
}
