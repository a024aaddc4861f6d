/**
 * What ss shows for a command line: its state words, its defaults merged into the tables and
 * families asked for, and from those the tables it prints (in its order), the families it
 * dumps, the states, and whether the Netid and State columns appear.
 * @module
 */
import { AF, STATE_NAMES, type SocketState } from '../diag/constants';
import { isProtocolName, socketKind } from '../diag/registry';
import type { Filter, FilterExpr, HostFamily, StateWord } from '../filter/ast';
import { parseFilterWords } from '../filter/parse';
import { FilterError, formatFilterError } from '../filter/errors';
import { BadValue, stateWord } from '../filter/values';
import { stateWordMask as filterWordMask } from '../filter/bytecode';
import { interfaceIndexes } from '../system/links';
import { CliExit, Invocation, QUERY_NAMES } from './args';
import { AF_DBS, DB_COUNT, DB_FAMILIES, DEFAULT_DB_STATES, PRINT_ORDER, SS_ALL, SS_CONN, ShownTable, db, dbBit, stateBit } from './tables';

/** The listing a command line selects. */
export interface Selection {
  /** Tables selected (DB bits, after ss's defaults). */
  dbs: number;
  /** State mask (ss bits). */
  states: number;
  /** Families selected (AF numbers). */
  families: ReadonlySet<number>;
  /** The tables printed, in ss's order; each with the socket types it keeps. */
  tables: ShownTable[];
  /** inet families dumped, in ss's order (IPv4 first unless -6 was the last family option). */
  inetFamilies: ('inet' | 'inet6')[];
  /** Whether the Netid column is shown (several tables selected). */
  showNetid: boolean;
  /** Whether the State column is shown (several states selected). */
  showState: boolean;
  /** The filter expression's words (the words after the state words). */
  expressionWords: string[];
  /** The family hosts in the filter default to (ss's preferred_family), if any. */
  preferredFamily: number;
}

/**
 * ss's state words, as its scan_state reads them (case-insensitive; the filter language's
 * words and groups, which ss 6.1 limits to unknown … closing, bound-inactive aside);
 * undefined when unknown.
 */
export function stateWordMask(word: string): number | undefined {
  let w: StateWord;
  try {
    w = stateWord(word);
  } catch (err) {
    if (err instanceof BadValue) return undefined;
    throw err;
  }
  const mask = filterWordMask(w);
  return w === 'bound-inactive' ? mask : mask & SS_ALL;
}

/**
 * Applies the state words and ss's defaults to a parsed command line. Throws {@link CliExit}
 * for a bad or missing state name (255) and when nothing can be shown (ss's "no socket
 * tables/families/states to show", status 0).
 */
export function resolveSelection(inv: Invocation): Selection {
  let stateFilter = inv.stateFilter;
  let sawStates = false;
  const words = inv.words;
  let k = 0;
  while (k < words.length && (words[k] === 'state' || words[k] === 'exclude' || words[k] === 'excl')) {
    if (k + 1 >= words.length) throw new CliExit(255, 'Command line is not complete. Try option "help"\n');
    const mask = stateWordMask(words[k + 1]);
    if (mask === undefined) throw new CliExit(255, `sockdiag: wrong state name: ${words[k + 1]}\n`);
    if (words[k] === 'state') {
      if (!sawStates) stateFilter = 0;
      stateFilter |= mask;
    } else {
      if (!sawStates) stateFilter = SS_ALL;
      stateFilter &= ~mask;
    }
    sawStates = true;
    k += 2;
  }
  let dbs = inv.dbs;
  let states = inv.states;
  const families = new Set(inv.families);
  if (inv.doDefault) {
    stateFilter = stateFilter || SS_CONN;
    for (const db of QUERY_NAMES.all) {
      states |= DEFAULT_DB_STATES[db];
      dbs |= dbBit(db);
    }
  }
  if (stateFilter) states = stateFilter;
  // ss's filter_merge_defaults: a table brings its families, a family its tables.
  for (let db = 0; db < DB_COUNT; db++) {
    if (!(dbs & dbBit(db))) continue;
    if (!DB_FAMILIES[db].some((af) => families.has(af))) DB_FAMILIES[db].forEach((af) => families.add(af));
  }
  for (const af of [...families]) {
    const afDbs = AF_DBS[af] ?? 0;
    if (!(afDbs & dbs)) dbs |= afDbs;
  }
  if (dbs === 0) throw new CliExit(0, 'sockdiag: no socket tables to show with such filter.\n');
  if (families.size === 0) throw new CliExit(0, 'sockdiag: no families to show with such filter.\n');
  if (states === 0) throw new CliExit(0, 'sockdiag: no socket states to show with such filter.\n');

  const hasInet = families.has(AF.INET) || families.has(AF.INET6);
  const closed = (states & stateBit('closed')) !== 0;
  const tables = PRINT_ORDER.filter((t) => {
    if (!(t.dbs & dbs)) return false;
    const kind = socketKind(t.protocol);
    if (kind.family === 'inet') return hasInet;
    // ss 6.1's tipc_show does not look at the families.
    if (kind.family === 'tipc') return true;
    return families.has(kind.af[0]) && (closed || !kind.stateless);
  }).map((t) => ({ protocol: t.protocol, dbs: t.dbs & dbs }));
  // ss dumps IPv4 then IPv6, or only the family of the last -4/-6/-f option when it is one of them.
  const dumped = inv.preferredFamily === AF.INET ? [AF.INET] : inv.preferredFamily === AF.INET6 ? [AF.INET6] : [AF.INET, AF.INET6];
  const inetFamilies = dumped.filter((af) => families.has(af)).map((af) => (af === AF.INET ? 'inet' : 'inet6') as 'inet' | 'inet6');
  return {
    dbs,
    states,
    families,
    tables,
    inetFamilies,
    showNetid: (dbs & (dbs - 1)) !== 0,
    showState: (states & (states - 1)) !== 0,
    expressionWords: words.slice(k),
    preferredFamily: inv.preferredFamily,
  };
}

/** A state mask as the library's state names (a SYN-RECV request brings the kernel's NEW_SYN_RECV along). */
export function stateNames(mask: number): SocketState[] {
  let m = mask;
  if (m & stateBit('syn-recv')) m |= stateBit('new-syn-recv');
  const names: SocketState[] = [];
  for (let i = 0; i < STATE_NAMES.length; i++) if (m & (1 << i)) names.push(STATE_NAMES[i]);
  return names;
}

/** Whether a socket of this type (`stream`, `dgram`, …) is in one of the selected tables of its protocol. */
export function typeSelected(protocol: string, type: string | undefined, dbs: number): boolean {
  if (!isProtocolName(protocol)) return true;
  const table = socketKind(protocol).ssTables.find((t) => t.type !== undefined && t.type === type);
  return table === undefined || (dbs & dbBit(db(table.name))) !== 0;
}

const PREFERRED_HOST_FAMILY: Readonly<Record<number, HostFamily>> = {
  [AF.INET]: 'inet', [AF.INET6]: 'inet6', [AF.UNIX]: 'unix', [AF.PACKET]: 'link', [AF.NETLINK]: 'netlink', [AF.VSOCK]: 'vsock',
};

/**
 * The filter expression: the words after the state words, then the lines of the -F file
 * (ss skips lines starting with '#' or '0'). State words are only recognised before the
 * expression on the command line; elsewhere ss takes them for a host and fails.
 */
export function selectionFilter(inv: Invocation, sel: Selection): Filter | undefined {
  const words = [...sel.expressionWords];
  if (inv.filterText !== undefined) {
    for (const line of inv.filterText.split('\n')) {
      if (line.startsWith('#') || line.startsWith('0') || line.trim() === '') continue;
      words.push(line);
    }
  }
  if (words.length === 0) return undefined;
  if (words[0] === 'state' || words[0] === 'exclude' || words[0] === 'excl') {
    throw new CliExit(1, `Error: an inet prefix is expected rather than "${words[0]}".\nCannot parse dst/src address.\n`);
  }
  const family = PREFERRED_HOST_FAMILY[sel.preferredFamily];
  try {
    const f = parseFilterWords(words, family === undefined ? {} : { family });
    return f.expr === undefined ? undefined : { states: [], expr: f.expr };
  } catch (err) {
    if (err instanceof FilterError) throw new CliExit(err.exitStatus, `${formatFilterError(err)}\n`);
    throw err;
  }
}

/** Device names of the expression (`dev NAME`, `src link:…:NAME`). */
function deviceNames(e: FilterExpr, out: Set<string>): Set<string> {
  if (e.kind === 'and' || e.kind === 'or') e.items.forEach((i) => deviceNames(i, out));
  else if (e.kind === 'not') deviceNames(e.item, out);
  else if (e.kind === 'dev' && typeof e.device === 'string') out.add(e.device);
  else if (e.kind === 'host' && e.host.family === 'link' && typeof e.host.device === 'string') out.add(e.host.device);
  return out;
}

/** ss resolves device names while it parses the filter and stops (status 1) at an unknown one; `netns` is a name under /var/run/netns. */
export async function checkDevices(netns: string | undefined, filter: Filter | undefined): Promise<void> {
  if (!filter?.expr) return;
  const names = deviceNames(filter.expr, new Set());
  if (names.size === 0) return;
  const known = await interfaceIndexes(netns === undefined ? undefined : `/var/run/netns/${netns}`);
  for (const name of names) if (!known.has(name)) throw new CliExit(1, 'Cannot parse device.\n');
}
