#!/usr/bin/env node
/**
 * The `sockdiag` command: `ss`-style options over {@link listSockets}.
 * This is the first cut; the full option set of ss(8) is being added.
 * @module
 */
import { listSockets } from '../api/list';
import type { ListOptions } from '../api/options';
import type { ProtocolName, SocketState } from '../diag/constants';
import type { Socket } from '../diag/socket';
import { SockdiagError } from '../errors';
import { formatRow } from './format';
import { layout } from './table';
import { readFileSync } from 'node:fs';
import type { Filter } from '../filter/ast';
import { parseFilterWords } from '../filter/parse';
import { filterStateMask } from '../filter/bytecode';
import { interfaceIndexes } from '../filter/resolve';
import { stateMask } from '../diag/constants';
import { FilterError, formatFilterError } from '../filter/errors';

const USAGE = `Usage: sockdiag [ OPTIONS ]
   -h, --help          this message
   -V, --version       output version information
   -n, --numeric       don't resolve service names
   -a, --all           display all sockets
   -l, --listening     display listening sockets
   -e, --extended      show detailed socket information
   -p, --processes     show process using socket
   -4, --ipv4          display only IP version 4 sockets
   -6, --ipv6          display only IP version 6 sockets
   -t, --tcp           display only TCP sockets
   -M, --mptcp         display only MPTCP sockets
   -u, --udp           display only UDP sockets
   -w, --raw           display only RAW sockets
   -x, --unix          display only Unix domain sockets
   -0, --packet        display PACKET sockets
   -H, --no-header     Suppress header line
   -N, --net=NSNAME    switch to the specified network namespace name
   -F, --filter=FILE   read filter information from FILE
       FILTER := [ state STATE-FILTER ] [ EXPRESSION ]
       --json          print the sockets as JSON
`;

interface Parsed {
  protocols: Set<ProtocolName>;
  all: boolean;
  listening: boolean;
  numeric: boolean;
  extended: boolean;
  processes: boolean;
  header: boolean;
  v4: boolean;
  v6: boolean;
  netns?: string;
  json: boolean;
  /** FILTER words, in the order given (ss lets them come before, between or after options). */
  filterWords: string[];
  /** -F FILE ('-' = stdin). */
  filterFile?: string;
}

class UsageError extends Error {}

const SHORT: Record<string, (p: Parsed) => void> = {
  n: (p) => (p.numeric = true),
  a: (p) => (p.all = true),
  l: (p) => (p.listening = true),
  e: (p) => (p.extended = true),
  p: (p) => (p.processes = true),
  '4': (p) => (p.v4 = true),
  '6': (p) => (p.v6 = true),
  t: (p) => p.protocols.add('tcp'),
  M: (p) => p.protocols.add('mptcp'),
  u: (p) => p.protocols.add('udp'),
  w: (p) => p.protocols.add('raw'),
  x: (p) => p.protocols.add('unix'),
  '0': (p) => p.protocols.add('packet'),
  H: (p) => (p.header = false),
};
const LONG: Record<string, string> = {
  numeric: 'n', all: 'a', listening: 'l', extended: 'e', processes: 'p', ipv4: '4', ipv6: '6',
  tcp: 't', mptcp: 'M', udp: 'u', raw: 'w', unix: 'x', packet: '0', 'no-header': 'H',
};

function parse(argv: string[]): Parsed | 'help' | 'version' {
  const p: Parsed = { protocols: new Set(), all: false, listening: false, numeric: false, extended: false, processes: false, header: true, v4: false, v6: false, json: false, filterWords: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') return 'help';
    if (a === '-V' || a === '--version') return 'version';
    if (a === '--json') p.json = true;
    else if (a === '-N' || a === '--net') {
      if (i + 1 >= argv.length) throw new UsageError(`option requires an argument -- 'N'`);
      p.netns = argv[++i];
    } else if (a.startsWith('--net=')) p.netns = a.slice(6);
    else if (a === '-F' || a === '--filter') {
      if (i + 1 >= argv.length) throw new UsageError(`option requires an argument -- 'F'`);
      p.filterFile = argv[++i];
    } else if (a.startsWith('--filter=')) p.filterFile = a.slice(9);
    else if (a.startsWith('--')) {
      const short = LONG[a.slice(2)];
      if (!short) throw new UsageError(`unrecognized option '${a}'`);
      SHORT[short](p);
    } else if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j];
        if (c === 'N' || c === 'F') {
          const value = a.slice(j + 1) || argv[++i];
          if (value === undefined) throw new UsageError(`option requires an argument -- '${c}'`);
          if (c === 'N') p.netns = value;
          else p.filterFile = value;
          break;
        }
        const f = SHORT[c];
        if (!f) throw new UsageError(`invalid option -- '${c}'`);
        f(p);
      }
    } else {
      p.filterWords.push(a);
    }
  }
  return p;
}

function states(p: Parsed): SocketState[] | undefined {
  if (p.all) return undefined;
  if (p.listening) return ['listening', 'closed'];
  // ss's default: connected sockets only.
  return ['established', 'syn-sent', 'fin-wait-1', 'fin-wait-2', 'close-wait', 'last-ack', 'closing'];
}

/**
 * The filter of the command line: its FILTER words, or -F FILE, whose lines are joined into
 * one expression (state words are not allowed there, as in ss).
 */
function readFilter(p: Parsed): Filter | undefined {
  if (p.filterFile !== undefined) {
    if (p.filterWords.length > 0) throw new UsageError('a filter on the command line and -F cannot be combined');
    const text = readFileSync(p.filterFile === '-' ? 0 : p.filterFile, 'utf8');
    const words = text.split('\n').filter((l) => !/^\s*#/.test(l)).join(' ').split(/\s+/).filter(Boolean);
    const f = parseFilterWords(words);
    if (f.states.length > 0) throw new UsageError('state words are not allowed in a filter file');
    return f;
  }
  if (p.filterWords.length === 0) return undefined;
  return parseFilterWords(p.filterWords);
}

/** A socket as a plain object (inet sockets decode their attributes for it). */
function toPlain(s: Socket): unknown {
  const toJSON = (s as unknown as { toJSON?: () => unknown }).toJSON;
  return toJSON ? toJSON.call(s) : s;
}

/** JSON has no bigint: safe ones become numbers, others strings; bytes become hex. */
function jsonValue(this: unknown, _key: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  const buf = v as { type?: unknown; data?: unknown } | null;
  if (buf && buf.type === 'Buffer' && Array.isArray(buf.data)) return Buffer.from(buf.data as number[]).toString('hex');
  return v;
}

async function main(argv: string[]): Promise<number> {
  let p: ReturnType<typeof parse>;
  try {
    p = parse(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`sockdiag: ${err.message}\n${USAGE}`);
      return 255;
    }
    throw err;
  }
  if (p === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (p === 'version') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    process.stdout.write(`sockdiag ${(require('../../package.json') as { version: string }).version}\n`);
    return 0;
  }
  let filter: Filter | undefined;
  try {
    filter = readFilter(p);
  } catch (err) {
    if (err instanceof FilterError) {
      process.stderr.write(`${formatFilterError(err)}\n`);
      return err.exitStatus;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`sockdiag: ${err.message}\n`);
      return 255;
    }
    throw err;
  }
  const opts: ListOptions = { processes: p.processes };
  if (filter) opts.filter = filter;
  if (p.protocols.size > 0) opts.protocols = [...p.protocols];
  const st = states(p);
  if (st) opts.states = st;
  if (p.v4 !== p.v6) opts.families = p.v4 ? ['inet'] : ['inet6'];
  if (p.netns !== undefined) opts.netns = p.netns;
  const sockets = await listSockets(opts);
  if (p.json) {
    process.stdout.write(`${JSON.stringify(sockets.map(toPlain), jsonValue, 2)}\n`);
    return 0;
  }
  // Names of the interfaces sockets are bound to, looked up in the listed namespace.
  const bound = sockets.some((s) => 'interface' in s && s.interface !== 0);
  const ifnames = bound ? new Map([...(await interfaceIndexes(p.netns))].map(([name, index]) => [index, name])) : undefined;
  const fmt = { numeric: p.numeric, processes: p.processes, extended: p.extended, ifnames };
  const rows = sockets.map((s) => formatRow(s, fmt));
  const showNetid = new Set(rows.map((r) => r.netid)).size > 1 || p.protocols.size !== 1;
  const mask = filter && filter.states.length > 0 ? filterStateMask(filter.states, stateMask(st)) : stateMask(st);
  const showState = (mask & (mask - 1)) !== 0;
  const lines = layout(rows, { showNetid, showState, header: p.header });
  if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const msg = err instanceof SockdiagError || err instanceof Error ? err.message : String(err);
    process.stderr.write(`sockdiag: ${msg}\n`);
    process.exitCode = 1;
  },
);
