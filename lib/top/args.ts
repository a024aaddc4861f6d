/**
 * sockdiag-top's command line: its own options (`-d`, `-b`, `-n`, `--json`, …) and ss's
 * selection options and FILTER, read by the command's scanner and selection code.
 * @module
 */
import { OptionScanner, GetoptError, type LongOption } from '../cli/getopt';
import { applySelectionOption, newInvocation, systemHost, CliExit, type ArgsHost, type SelectionScan } from '../cli/args';
import { resolveSelection, selectionFilter, stateNames } from '../cli/select';
import type { InetProtocolName } from '../diag/inet';
import type { RateOptions } from '../monitor/rates';
import { GROUP_KEYS, SORT_KEYS, type GroupKey, type SortKey } from './model';

/** What sockdiag-top was asked to do. */
export interface TopConfig {
  /** Refresh interval in ms (`-d SECONDS`). */
  intervalMs: number;
  /** Plain-text frames instead of the full screen (`-b`; also when stdout is not a terminal). */
  batch: boolean;
  /** Frames to show before exiting (`-n N`); undefined: until quit. */
  iterations: number | undefined;
  /** NDJSON frames (`--json`, implies batch). */
  json: boolean;
  /** Rows per batch frame (`--rows N`); undefined: all. */
  maxRows: number | undefined;
  /** Initial ranking (`-o KEY`). */
  sort: SortKey;
  /** Initial grouping (`-g KEY`). */
  group: GroupKey;
  /** What to list, as {@link sampleRates} takes it. */
  list: RateOptions;
  /** The kinds listed, for the header (`tcp`, `tcp,udp`). */
  what: string;
  /** `-N NAME`, as given. */
  netnsName: string | undefined;
}

const SHORT = 'hVbd:n:o:g:p' + 'tuwSMx460alBf:A:F:N:';

const LONG: readonly LongOption[] = [
  ['help', 'h'], ['version', 'V'], ['batch', 'b'], ['delay', 'd', 'required'], ['iterations', 'n', 'required'],
  ['json', 'json'], ['rows', 'rows', 'required'], ['sort', 'o', 'required'], ['group', 'g', 'required'],
  ['processes', 'p'], ['no-processes', 'no-processes'], ['no-events', 'no-events'],
  // ss's selection options (ss's -d, DCCP, is only --dccp here: -d is the delay, as in top).
  ['tcp', 't'], ['udp', 'u'], ['raw', 'w'], ['sctp', 'S'], ['mptcp', 'M'], ['dccp', 'dccp'], ['unix', 'x'],
  ['ipv4', '4'], ['ipv6', '6'], ['packet', '0'], ['all', 'a'], ['listening', 'l'], ['bound-inactive', 'B'],
  ['family', 'f', 'required'], ['query', 'A', 'required'], ['socket', 'A', 'required'], ['filter', 'F', 'required'], ['net', 'N', 'required'],
].map(([name, key, argument]) => ({ name, key, argument: (argument ?? 'none') as LongOption['argument'] }));

const INET: ReadonlySet<string> = new Set(['tcp', 'udp', 'udplite', 'raw', 'mptcp', 'sctp', 'dccp']);

/** The usage text. */
export function usageText(): string {
  return `Usage: sockdiag-top [ OPTIONS ] [ FILTER ]
A live view of the connections, ranked by throughput, from sock_diag (no capture, no privileges).

   -d, --delay SECONDS   refresh interval (default 1; at least 0.05)
   -b, --batch           print frames as plain text (also when stdout is not a terminal)
   -n, --iterations N    stop after N frames
       --json            print NDJSON frames (implies -b)
       --rows N          at most N rows per batch frame
   -o, --sort KEY        rank by ${SORT_KEYS.join(', ')} (default total)
   -g, --group KEY       one row per ${GROUP_KEYS.filter((g) => g !== 'none').join(', ')} (default none: per connection)
       --no-processes    do not look up owning processes (/proc)
       --no-events       do not use the kernel's destroy events
   -h, --help            this message
   -V, --version         output version information

 Selection, as ss (default: TCP connections, not listening):
   -t, --tcp  -u, --udp  -w, --raw  -S, --sctp  -M, --mptcp  --dccp  -A, --query=QUERY
   -4, --ipv4  -6, --ipv6  -f, --family=FAMILY  -a, --all  -l, --listening
   -N, --net=NAME  network namespace      -F, --filter=FILE  read the FILTER from FILE
       FILTER := [ state STATE-FILTER ] [ EXPRESSION ]   (ss(8): dport = :443, src 10.0.0.0/8, …)

 Keys: t s r R x Q sort (total, send, recv, RTT, retrans, queue); p H L c group (process,
 peer host, local port, none); space pause; arrows scroll; h help; q quit.
`;
}

function seconds(text: string): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || v < 0.05) throw new CliExit(255, `sockdiag-top: bad delay "${text}": seconds, at least 0.05\n`, true);
  return Math.round(v * 1000);
}

function count(flag: string, text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new CliExit(255, `sockdiag-top: ${flag} needs a positive integer, got "${text}"\n`, true);
  return Number(text);
}

function oneOf<T extends string>(flag: string, text: string, keys: readonly T[]): T {
  const k = keys.find((x) => x === text || (text.length > 0 && x.startsWith(text)));
  if (k === undefined) throw new CliExit(255, `sockdiag-top: ${flag} is one of ${keys.join(', ')}, got "${text}"\n`, true);
  return k;
}

/**
 * Reads the command line (the words after the program name). Throws {@link CliExit} for
 * help, version and mistakes (status 255 with the usage, as ss), and for a selection with
 * no inet kind (status 1).
 */
export function parseTopArgs(argv: readonly string[], host: ArgsHost = systemHost): TopConfig {
  const inv = newInvocation();
  const scan: SelectionScan = { program: 'sockdiag-top', usage: usageText, sawQuery: false, sawFilterFile: false };
  const scanner = new OptionScanner(argv, SHORT, LONG);
  const cfg = { intervalMs: 1000, batch: false, iterations: undefined as number | undefined, json: false, maxRows: undefined as number | undefined, sort: 'total' as SortKey, group: 'none' as GroupKey };
  let processes = true;
  let events = true;
  for (;;) {
    let opt;
    try {
      opt = scanner.next();
    } catch (err) {
      if (err instanceof GetoptError) throw new CliExit(255, `sockdiag-top: ${err.message}\n`, true);
      throw err;
    }
    if (!opt) break;
    const value = opt.value ?? '';
    switch (opt.key) {
      case 'h': throw new CliExit(0, '', false, usageText());
      case 'V': throw new CliExit(0, '', false, host.version().replace(/^sockdiag /, 'sockdiag-top ').replace(/ \(ss utility.*\)/, ''));
      case 'b': cfg.batch = true; break;
      case 'd': cfg.intervalMs = seconds(value); break;
      case 'n': cfg.iterations = count(opt.spelling, value); break;
      case 'json': cfg.json = true; cfg.batch = true; break;
      case 'rows': cfg.maxRows = count(opt.spelling, value); break;
      case 'o': cfg.sort = oneOf(opt.spelling, value, SORT_KEYS); break;
      case 'g': cfg.group = oneOf(opt.spelling, value, GROUP_KEYS); break;
      case 'p': processes = true; break;
      case 'no-processes': processes = false; break;
      case 'no-events': events = false; break;
      default:
        if (!applySelectionOption(inv, opt.key === 'dccp' ? 'd' : opt.key, value, scan, host)) throw new CliExit(255, '', true);
    }
  }
  // Which tables were named, before ss's defaults add the rest: by default TCP only.
  const named = inv.dbs !== 0;
  inv.words = scanner.operands;
  const sel = resolveSelection(inv);
  const filter = selectionFilter(inv, sel);
  const protocols = named ? sel.tables.map((t) => t.protocol).filter((p): p is InetProtocolName => INET.has(p)) : (['tcp'] as InetProtocolName[]);
  if (protocols.length === 0 || sel.inetFamilies.length === 0) throw new CliExit(1, 'sockdiag-top: nothing to show: it lists inet connections (tcp, udp, raw, mptcp, sctp, dccp)\n');
  const list: RateOptions = { protocols, families: sel.inetFamilies, states: stateNames(sel.states), events };
  if (filter !== undefined) list.filter = filter;
  if (inv.netns !== undefined) list.netns = `/var/run/netns/${inv.netns}`;
  if (processes) list.processes = true;
  return { ...cfg, list, what: protocols.join(','), netnsName: inv.netns };
}
