/**
 * The options of ss(8), read in command-line order with ss's own effects: table and family
 * options add to the selection as ss's `filter_db_set`/`filter_af_set` do, `-a`/`-l`/`-B`
 * set the state filter, `-A` starts a table query, and the options that end ss on the spot
 * (`-h`, `-V`, `-f help`, a bad `-N`, `-F` or `-Z`) do so at their place in the line.
 * @module
 */
import type { Engine } from '../engine';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { GetoptError, LongOption, OptionScanner } from './getopt';
import { AF } from '../diag/constants';
import { SOCKET_KINDS } from '../diag/registry';
import { DEFAULT_AF_STATES, DEFAULT_DB_STATES, SS_ALL, SS_CONN, db, dbBit, stateBit } from './tables';

/**
 * A command line that ends the program before any listing: what to print where, and the
 * exit status (`usage` adds ss's usage text to stderr).
 */
export class CliExit extends Error {
  /**
   * @param status exit status.
   * @param stderr text for stderr ('' for none).
   * @param usage also print the usage text on stderr (as ss's `usage()`).
   * @param stdout text for stdout (help, version).
   */
  constructor(
    readonly status: number,
    readonly stderr: string,
    readonly usage = false,
    readonly stdout = '',
  ) {
    super(stderr || stdout);
  }
}

/** How `--json` prints: one JSON array, or one JSON object per line. */
export type JsonMode = 'array' | 'ndjson';

/** Everything the command line asked for. */
export interface Invocation {
  /** The engine that lists (set by the caller of the command, not by an option; default: the shared one). */
  engine?: Engine;
  /** -n */
  numeric: boolean;
  /** -r */
  resolve: boolean;
  /** -o, also set by -e and -b (ss's show_options). */
  showOptions: boolean;
  /** -e (count). */
  details: number;
  /** -m */
  memory: boolean;
  /** -i */
  info: boolean;
  /** -p (count). */
  processes: number;
  /** -T (count). */
  threads: number;
  /** -b (count). */
  bpf: number;
  /** -E */
  events: boolean;
  /** -s */
  summary: boolean;
  /** -K */
  kill: boolean;
  /** false with -H. */
  header: boolean;
  /** -O */
  oneline: boolean;
  /** false with -Q. */
  queues: boolean;
  /** --tos */
  tos: boolean;
  /** --cgroup */
  cgroup: boolean;
  /** --inet-sockopt */
  inetSockopt: boolean;
  /** --tipcinfo */
  tipcinfo: boolean;
  /** -Z (and -z) */
  processContext: boolean;
  /** -z */
  socketContext: boolean;
  /** --bpf-maps */
  bpfMaps: boolean;
  /** --bpf-map-id (each). */
  bpfMapIds: number[];
  /** --json[=ndjson] */
  json?: JsonMode;
  /** -N: the namespace name (last one wins). */
  netns?: string;
  /** -D FILE ('-' = stdout). */
  dumpFile?: string;
  /** -F FILE's text (read when the option was met, as ss opens it then). */
  filterText?: string;
  /** Tables asked for (DB bits), families (AF numbers) and states, before ss's defaults are merged. */
  dbs: number;
  /** Families asked for (AF numbers). */
  families: Set<number>;
  /** States the table and family options brought (ss's filter.states). */
  states: number;
  /** The family of the last family option (ss's preferred_family); 0 when none. */
  preferredFamily: number;
  /** No table or family option and no -A: ss's `do_default`. */
  doDefault: boolean;
  /** -a, -l, -B or -A's default (ss's state_filter before the state words). */
  stateFilter: number;
  /** The words after the options: state words, then the filter expression. */
  words: string[];
}

/** ss's short options, plus -B and -Q of later ss versions (in its man page). */
const SHORT_OPTIONS = 'dhalBetuwxnro460spTbEf:mMiA:D:F:vVzZN:KHQSO';

// In ss's table order (getopt lists ambiguous candidates in this order).
const LONG_OPTIONS: readonly LongOption[] = [
  ['numeric', 'n'], ['resolve', 'r'], ['options', 'o'], ['extended', 'e'], ['memory', 'm'], ['info', 'i'],
  ['processes', 'p'], ['threads', 'T'], ['bpf', 'b'], ['events', 'E'], ['dccp', 'd'], ['tcp', 't'], ['sctp', 'S'],
  ['udp', 'u'], ['raw', 'w'], ['unix', 'x'], ['tipc', 'tipc'], ['vsock', 'vsock'], ['all', 'a'], ['listening', 'l'],
  ['bound-inactive', 'B'], ['ipv4', '4'], ['ipv6', '6'], ['packet', '0'], ['family', 'f', 'required'],
  ['socket', 'A', 'required'], ['query', 'A', 'required'], ['summary', 's'], ['diag', 'D', 'required'],
  ['filter', 'F', 'required'], ['version', 'V'], ['help', 'h'], ['context', 'Z'], ['contexts', 'z'],
  ['net', 'N', 'required'], ['tipcinfo', 'tipcinfo'], ['tos', 'tos'], ['cgroup', 'cgroup'], ['kill', 'K'],
  ['no-header', 'H'], ['no-queues', 'Q'], ['xdp', 'xdp'], ['mptcp', 'M'], ['oneline', 'O'],
  ['inet-sockopt', 'inet-sockopt'], ['bpf-maps', 'bpf-maps'], ['bpf-map-id', 'bpf-map-id', 'required'],
  ['json', 'json', 'optional'],
].map(([name, key, argument]) => ({ name, key, argument: (argument ?? 'none') as LongOption['argument'] }));

/** What parsing needs from the system; tests replace it. */
export interface ArgsHost {
  /** Text of the filter file (`'-'` = stdin); throws with an errno `code` when it cannot be opened. */
  readFilterFile(path: string): string;
  /** An error message when the namespace cannot be entered, else undefined. */
  checkNetns(name: string): string | undefined;
  /** Whether SELinux is enabled. */
  selinuxEnabled(): boolean;
  /** The text of `-V`. */
  version(): string;
}

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  ELOOP: 'Too many levels of symbolic links',
  EINVAL: 'Invalid argument',
  EPERM: 'Operation not permitted',
};

/** strerror() of a Node error, for the messages ss prints with perror. */
export function strerror(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return (code && ERRNO_TEXT[code]) ?? (err instanceof Error ? err.message : String(err));
}

/** The real system. */
export const systemHost: ArgsHost = {
  readFilterFile(path) {
    if (path === '-') return readFileSync(0, 'utf8');
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      // A directory opens (fopen succeeds) and reads as nothing.
      if ((err as NodeJS.ErrnoException).code === 'EISDIR') return '';
      throw err;
    }
  },
  checkNetns(name) {
    try {
      closeSync(openSync(`/var/run/netns/${name}`, 'r'));
      return undefined;
    } catch (err) {
      return `Cannot open network namespace "${name}": ${strerror(err)}`;
    }
  },
  selinuxEnabled() {
    try {
      return readFileSync('/sys/fs/selinux/enforce', 'utf8').length > 0;
    } catch {
      return false;
    }
  },
  version() {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return `sockdiag ${(require('../../package.json') as { version: string }).version} (ss utility, iproute2-6.1.0 compatible)\n`;
  },
};

/** `-f` names. */
const FAMILY_NAMES: Readonly<Record<string, number>> = {
  inet: AF.INET, inet6: AF.INET6, link: AF.PACKET, unix: AF.UNIX, netlink: AF.NETLINK, tipc: AF.TIPC, vsock: AF.VSOCK, xdp: AF.XDP,
};

/**
 * `-A` names and the tables each stands for, as ss's table: `all`, `inet`, then each table by
 * its name and its Netid, and each kind split into several tables (unix, packet, vsock) by
 * the kind's name.
 */
export const QUERY_NAMES: Readonly<Record<string, readonly number[]>> = (() => {
  const out: Record<string, number[]> = {
    all: [db('udp'), db('dccp'), db('tcp'), db('mptcp'), db('raw'), db('unix_stream'), db('unix_dgram'), db('unix_seqpacket'), db('packet_raw'), db('packet_dgram'), db('netlink'), db('sctp'), db('vsock_stream'), db('vsock_dgram'), db('xdp')],
    inet: [db('udp'), db('dccp'), db('tcp'), db('mptcp'), db('sctp'), db('raw')],
  };
  for (const k of SOCKET_KINDS) {
    for (const t of k.ssTables) {
      out[t.name] = [db(t.name)];
      if (t.netid !== undefined) out[t.netid] = [db(t.name)];
    }
    if (k.ssTables.length > 1) out[k.protocol] = k.ssTables.map((t) => db(t.name));
  }
  return out;
})();

/** An invocation with nothing asked for yet (ss's defaults apply later, in resolveSelection). */
export function newInvocation(): Invocation {
  return {
    numeric: false, resolve: false, showOptions: false, details: 0, memory: false, info: false, processes: 0, threads: 0,
    bpf: 0, events: false, summary: false, kill: false, header: true, oneline: false, queues: true, tos: false,
    cgroup: false, inetSockopt: false, tipcinfo: false, processContext: false, socketContext: false, bpfMaps: false,
    bpfMapIds: [], dbs: 0, families: new Set(), states: 0, preferredFamily: 0, doDefault: true, stateFilter: 0, words: [],
  };
}

function setDb(inv: Invocation, db: number, enable: boolean): void {
  if (enable) {
    inv.states |= DEFAULT_DB_STATES[db];
    inv.dbs |= dbBit(db);
  } else {
    inv.dbs &= ~dbBit(db);
  }
  inv.doDefault = false;
}

function setFamily(inv: Invocation, af: number): void {
  inv.states |= DEFAULT_AF_STATES[af] ?? 0;
  inv.families.add(af);
  inv.doDefault = false;
  inv.preferredFamily = af;
}

/** Applies one `-A` item (`tcp`, `!tcp`); false when the name is unknown. */
export function applyQuery(inv: Invocation, item: string): boolean {
  const enable = !item.startsWith('!');
  const name = enable ? item : item.slice(1);
  const dbs = Object.prototype.hasOwnProperty.call(QUERY_NAMES, name) ? QUERY_NAMES[name] : undefined;
  if (!dbs) return false;
  for (const db of dbs) setDb(inv, db, enable);
  return true;
}

/** `strtoul(s, &end, 0)` over the whole string, or undefined. */
function parseCNumber(s: string): number | undefined {
  const m = /^\s*[+]?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const t = m[1];
  return t.length > 1 && (t[1] === 'x' || t[1] === 'X') ? parseInt(t.slice(2), 16) : t.length > 1 && t[0] === '0' ? parseInt(t, 8) : parseInt(t, 10);
}

/** What the selection options remember while one command line is read. */
export interface SelectionScan {
  /** The program name messages start with. */
  program: string;
  /** The usage text `-f help` prints. */
  usage: () => string;
  /** An `-A` was met (the first one clears the tables). */
  sawQuery: boolean;
  /** An `-F` was met (a second one is an error). */
  sawFilterFile: boolean;
}

/**
 * Applies one of ss's selection options to `inv`, with ss's effect at its place in the line:
 * tables (`-t -u -d -w -S -M`, `-A QUERY`), families (`-4 -6 -0 -x`, `--vsock`, `--tipc`,
 * `--xdp`, `-f FAMILY`), states (`-a -l -B`), the namespace (`-N NAME`) and the filter file
 * (`-F FILE`), by the keys {@link parseCommandLine}'s scanner reports. Returns false when `key`
 * is none of them; throws {@link CliExit} where ss stops. Shared by the commands that select
 * sockets as ss does (sockdiag, sockdiag-top).
 */
export function applySelectionOption(inv: Invocation, key: string, value: string, scan: SelectionScan, host: ArgsHost): boolean {
  switch (key) {
    case 'd': setDb(inv, db('dccp'), true); break;
    case 't': setDb(inv, db('tcp'), true); break;
    case 'S': setDb(inv, db('sctp'), true); break;
    case 'u': setDb(inv, db('udp'), true); break;
    case 'w': setDb(inv, db('raw'), true); break;
    case 'M': setDb(inv, db('mptcp'), true); break;
    case 'x': setFamily(inv, AF.UNIX); break;
    case 'vsock': setFamily(inv, AF.VSOCK); break;
    case 'tipc': setFamily(inv, AF.TIPC); break;
    case 'xdp': setFamily(inv, AF.XDP); break;
    case '4': setFamily(inv, AF.INET); break;
    case '6': setFamily(inv, AF.INET6); break;
    case '0': setFamily(inv, AF.PACKET); break;
    case 'a': inv.stateFilter = SS_ALL; break;
    case 'l': inv.stateFilter = stateBit('listening') | stateBit('closed'); break;
    case 'B': inv.stateFilter = stateBit('bound-inactive'); break;
    case 'f': {
      if (value === 'help') throw new CliExit(0, '', false, scan.usage());
      const af = Object.prototype.hasOwnProperty.call(FAMILY_NAMES, value) ? FAMILY_NAMES[value] : undefined;
      if (af === undefined) throw new CliExit(255, `${scan.program}: "${value}" is invalid family\n`, true);
      setFamily(inv, af);
      break;
    }
    case 'A': {
      if (!scan.sawQuery) {
        inv.dbs = 0;
        inv.stateFilter = inv.stateFilter || SS_CONN;
        scan.sawQuery = true;
        inv.doDefault = false;
      }
      for (const item of value.split(',')) {
        if (!applyQuery(inv, item)) throw new CliExit(255, `${scan.program}: "${item}" is illegal socket table id\n`, true);
      }
      break;
    }
    case 'F': {
      if (scan.sawFilterFile) throw new CliExit(255, 'More than one filter file\n');
      scan.sawFilterFile = true;
      try {
        // ss takes any word starting with '-' as stdin.
        inv.filterText = host.readFilterFile(value.startsWith('-') ? '-' : value);
      } catch (err) {
        throw new CliExit(255, `fopen filter file: ${strerror(err)}\n`);
      }
      break;
    }
    case 'N': {
      const problem = host.checkNetns(value);
      if (problem !== undefined) throw new CliExit(1, `${problem}\n`);
      inv.netns = value;
      break;
    }
    default:
      return false;
  }
  return true;
}

/**
 * Reads the command line (the words after the program name). Returns what it asks for, or
 * throws {@link CliExit} where ss would stop: bad options (status 255 with the usage), `-h`
 * and `-f help` (usage on stdout, 0), `-V` (0), an unusable `-N` namespace or `-Z`/`-z`
 * without SELinux (1), an unreadable `-F` file (255).
 */
export function parseCommandLine(argv: readonly string[], host: ArgsHost = systemHost): Invocation {
  const inv = newInvocation();
  const scanner = new OptionScanner(argv, SHORT_OPTIONS, LONG_OPTIONS);
  const scan: SelectionScan = { program: 'sockdiag', usage: usageText, sawQuery: false, sawFilterFile: false };
  for (;;) {
    let opt;
    try {
      opt = scanner.next();
    } catch (err) {
      if (err instanceof GetoptError) throw new CliExit(255, `sockdiag: ${err.message}\n`, true);
      throw err;
    }
    if (!opt) break;
    const value = opt.value ?? '';
    if (applySelectionOption(inv, opt.key, value, scan, host)) continue;
    switch (opt.key) {
      case 'n': inv.numeric = true; break;
      case 'r': inv.resolve = true; break;
      case 'o': inv.showOptions = true; break;
      case 'e': inv.showOptions = true; inv.details++; break;
      case 'm': inv.memory = true; break;
      case 'i': inv.info = true; break;
      case 'p': inv.processes++; break;
      case 'T': inv.threads++; break;
      case 'b': inv.showOptions = true; inv.bpf++; break;
      case 'E': inv.events = true; break;
      case 's': inv.summary = true; break;
      case 'D': inv.dumpFile = value; break;
      case 'v':
      case 'V':
        throw new CliExit(0, '', false, host.version());
      case 'z':
      case 'Z':
        if (opt.key === 'z') inv.socketContext = true;
        if (!host.selinuxEnabled()) throw new CliExit(1, 'sockdiag: SELinux is not enabled.\n');
        inv.processContext = true;
        break;
      case 'tipcinfo': inv.tipcinfo = true; break;
      case 'tos': inv.tos = true; break;
      case 'cgroup': inv.cgroup = true; break;
      case 'K': inv.kill = true; break;
      case 'H': inv.header = false; break;
      case 'Q': inv.queues = false; break;
      case 'O': inv.oneline = true; break;
      case 'inet-sockopt': inv.inetSockopt = true; break;
      case 'bpf-maps':
        if (inv.bpfMapIds.length > 0) throw new CliExit(255, 'sockdiag: --bpf-maps and --bpf-map-id cannot be used together\n');
        inv.bpfMaps = true;
        break;
      case 'bpf-map-id': {
        if (inv.bpfMaps) throw new CliExit(1, 'sockdiag: --bpf-maps and --bpf-map-id cannot be used together\n');
        const id = parseCNumber(value);
        if (id === undefined || id === 0 || id >= 0xffffffff) throw new CliExit(1, `sockdiag: invalid BPF map ID ${value}\n`);
        if (!inv.bpfMapIds.includes(id)) inv.bpfMapIds.push(id);
        break;
      }
      case 'json':
        if (opt.value !== undefined && opt.value !== 'ndjson' && opt.value !== 'array') {
          throw new CliExit(255, `sockdiag: "${opt.value}" is not a JSON mode (use --json or --json=ndjson)\n`, true);
        }
        inv.json = opt.value === 'ndjson' ? 'ndjson' : 'array';
        break;
      case 'h':
        throw new CliExit(0, '', false, usageText());
      default:
        throw new CliExit(255, '', true);
    }
  }
  inv.words = scanner.operands;
  return inv;
}

/** The usage text (ss's, with sockdiag's additions). */
export function usageText(): string {
  return `Usage: sockdiag [ OPTIONS ]
       sockdiag [ OPTIONS ] [ FILTER ]
   -h, --help          this message
   -V, --version       output version information
   -n, --numeric       don't resolve service names
   -r, --resolve       resolve host names
   -a, --all           display all sockets
   -l, --listening     display listening sockets
   -B, --bound-inactive display TCP bound but inactive sockets
   -o, --options       show timer information
   -e, --extended      show detailed socket information
   -m, --memory        show socket memory usage
   -p, --processes     show process using socket
   -T, --threads       show thread using socket
   -i, --info          show internal TCP information
       --tipcinfo      show internal tipc socket information
   -s, --summary       show socket usage summary
       --tos           show tos and priority information
       --cgroup        show cgroup information
   -b, --bpf           show bpf filter socket information
   -E, --events        continually display sockets as they are destroyed
   -Z, --context       display task SELinux security contexts
   -z, --contexts      display task and socket SELinux security contexts
   -N, --net           switch to the specified network namespace name
       --bpf-maps      show all BPF socket-local storage maps
       --bpf-map-id=MAP-ID    show a BPF socket-local storage map

   -4, --ipv4          display only IP version 4 sockets
   -6, --ipv6          display only IP version 6 sockets
   -0, --packet        display PACKET sockets
   -t, --tcp           display only TCP sockets
   -M, --mptcp         display only MPTCP sockets
   -S, --sctp          display only SCTP sockets
   -u, --udp           display only UDP sockets
   -d, --dccp          display only DCCP sockets
   -w, --raw           display only RAW sockets
   -x, --unix          display only Unix domain sockets
       --tipc          display only TIPC sockets
       --vsock         display only vsock sockets
       --xdp           display only XDP sockets
   -f, --family=FAMILY display sockets of type FAMILY
       FAMILY := {inet|inet6|link|unix|netlink|vsock|tipc|xdp|help}

   -K, --kill          forcibly close sockets, display what was closed
   -H, --no-header     Suppress header line
   -Q, --no-queues     Suppress sending and receiving queue columns
   -O, --oneline       socket's data printed on a single line
       --inet-sockopt  show various inet socket options
       --json[=ndjson] print the sockets as JSON (one array, or one object per line)

   -A, --query=QUERY, --socket=QUERY
       QUERY := {all|inet|tcp|mptcp|udp|raw|unix|unix_dgram|unix_stream|unix_seqpacket|packet|packet_raw|packet_dgram|netlink|dccp|sctp|vsock_stream|vsock_dgram|tipc|xdp}[,QUERY]

   -D, --diag=FILE     Dump raw information about TCP sockets to FILE
   -F, --filter=FILE   read filter information from FILE
       FILTER := [ state STATE-FILTER ] [ EXPRESSION ]
       STATE-FILTER := {all|connected|synchronized|bucket|big|TCP-STATES}
         TCP-STATES := {established|syn-sent|syn-recv|fin-wait-{1,2}|time-wait|closed|close-wait|last-ack|listening|closing}
          connected := {established|syn-sent|syn-recv|fin-wait-{1,2}|time-wait|close-wait|last-ack|closing}
       synchronized := {established|syn-recv|fin-wait-{1,2}|time-wait|close-wait|last-ack|closing}
             bucket := {syn-recv|time-wait}
                big := {established|syn-sent|fin-wait-{1,2}|closed|close-wait|last-ack|listening|closing}
`;
}
