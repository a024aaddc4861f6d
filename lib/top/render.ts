/**
 * sockdiag-top's text: the full screen (sized to the terminal, with optional colour), the
 * plain batch frames, and the NDJSON frames. Pure functions of a {@link Frame}.
 * @module
 */
import { STATE_LABELS } from '../cli/tables';
import type { SocketState } from '../diag/constants';
import { endpoint, HISTORY, type Frame, type GroupKey, type Row, type SortKey } from './model';

/** How the screen is drawn. */
export interface ScreenOptions {
  /** Terminal columns. */
  width: number;
  /** Terminal rows. */
  height: number;
  /** Colour escapes (off with NO_COLOR); inverse video and bold are used either way. */
  color: boolean;
  /** Block characters for sparklines and `…` (off where the locale is not UTF-8). */
  unicode: boolean;
  /** Refresh interval, for the header. */
  intervalMs: number;
  /** What is listed (e.g. `tcp`), for the header. */
  what: string;
  /** The display is frozen. */
  paused: boolean;
  /** First row shown (scrolling). */
  scroll: number;
  /** Show the keys instead of the rows. */
  help: boolean;
  /** A line of status (e.g. why owners or events are missing), shown under the totals. */
  notice?: string;
}

// ---------------------------------------------------------------------------------------
// Numbers

const UNITS = ['B', 'K', 'M', 'G', 'T'];

/** Bytes per second in 4 to 6 characters, 1024-based: `0`, `980B`, `19.5K`, `1.0M`; `-` when unknown. */
export function formatRate(v: number | undefined): string {
  if (v === undefined) return '-';
  if (v < 0.5) return '0';
  let u = 0;
  while (v >= 1000 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  if (u === 0) return `${Math.round(v)}B`;
  return `${v < 9.95 ? v.toFixed(2) : v < 99.5 ? v.toFixed(1) : Math.round(v).toString()}${UNITS[u]}`;
}

/** Microseconds as milliseconds: `0.05ms`, `12.3ms`, `250ms`; `-` when unknown. */
export function formatRtt(us: number | undefined): string {
  if (us === undefined || !(us > 0)) return '-';
  const ms = us / 1000;
  return `${ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : Math.round(ms).toString()}ms`;
}

/** Retransmissions per second: `0`, `0.5`, `12`; `-` when unknown. */
export function formatPerSec(v: number | undefined): string {
  if (v === undefined) return '-';
  if (v === 0) return '0';
  return v < 10 ? v.toFixed(1) : Math.round(v).toString();
}

const BLOCKS = '▁▂▃▄▅▆▇█';
const ASCII_LEVELS = '_.:-=+*#';

/** A sparkline of `values` (oldest first) scaled to their maximum, right-aligned in `width`. */
export function sparkline(values: readonly number[], width: number, unicode: boolean): string {
  const levels = unicode ? BLOCKS : ASCII_LEVELS;
  const shown = values.slice(-width);
  const max = Math.max(0, ...shown);
  let s = '';
  for (const v of shown) s += max < 1 ? levels[0] : levels[Math.min(levels.length - 1, Math.round((v / max) * (levels.length - 1)))];
  return ' '.repeat(width - shown.length) + s;
}

// ---------------------------------------------------------------------------------------
// Columns

/** A column: its title, how its cells are made, and how it gives way on a narrow screen. */
interface Column {
  title: string;
  right: boolean;
  cell(r: Row): string;
  /** Cells that can be cut down to this width (keeping their end when `keepEnd`). */
  minWidth?: number;
  keepEnd?: boolean;
  /** Dropped first on a narrow screen: lower goes first; undefined is never dropped. */
  drop?: number;
  /** How the cell is coloured. */
  style?: (r: Row) => string;
}

const STATE_COLOR = (state: SocketState | undefined): string => (state === undefined || state === 'established' ? '' : SGR.yellow);

function connectionColumns(unicode: boolean): Column[] {
  return [
    { title: 'Local Address:Port', right: false, cell: (r) => endpoint(r.connection!.family, r.connection!.local), minWidth: 12, keepEnd: true },
    { title: 'Peer Address:Port', right: false, cell: (r) => endpoint(r.connection!.family, r.connection!.remote), minWidth: 12, keepEnd: true },
    { title: 'State', right: false, cell: (r) => STATE_LABELS[r.connection!.state] ?? 'UNKNOWN', drop: 4, style: (r) => STATE_COLOR(r.connection!.state) },
    ...rateColumns(unicode),
    { title: 'Cwnd', right: true, cell: (r) => (r.cwnd === undefined ? '-' : String(r.cwnd)), drop: 1 },
    ...queueColumns(),
    { title: 'Process', right: false, cell: (r) => r.process, minWidth: 8, drop: 0 },
  ];
}

const GROUP_TITLES: Readonly<Record<Exclude<GroupKey, 'none'>, string>> = { process: 'Process', peer: 'Peer Host', port: 'Local Port' };

function groupColumns(group: Exclude<GroupKey, 'none'>, unicode: boolean): Column[] {
  return [
    { title: GROUP_TITLES[group], right: false, cell: (r) => r.group!, minWidth: 12, keepEnd: group !== 'process' },
    { title: 'Conns', right: true, cell: (r) => String(r.connections) },
    ...rateColumns(unicode),
    ...queueColumns(),
    ...(group === 'process' ? [] : [{ title: 'Processes', right: false, cell: (r: Row) => r.process, minWidth: 8, drop: 0 }]),
  ];
}

function rateColumns(unicode: boolean): Column[] {
  return [
    { title: 'Send/s', right: true, cell: (r) => formatRate(r.send) },
    { title: 'Recv/s', right: true, cell: (r) => formatRate(r.recv) },
    { title: 'Trend', right: false, cell: (r) => sparkline(r.history, HISTORY, unicode), drop: 3, style: () => SGR.green },
    { title: 'RTT', right: true, cell: (r) => formatRtt(r.rttUs), drop: 5 },
    { title: 'Retr/s', right: true, cell: (r) => formatPerSec(r.retrans), drop: 6, style: (r) => ((r.retrans ?? 0) > 0 ? SGR.red : '') },
  ];
}

function queueColumns(): Column[] {
  return [
    { title: 'Recv-Q', right: true, cell: (r) => String(r.recvQ), drop: 2 },
    { title: 'Send-Q', right: true, cell: (r) => String(r.sendQ), drop: 2 },
  ];
}

function columnsFor(group: GroupKey, unicode: boolean): Column[] {
  return group === 'none' ? connectionColumns(unicode) : groupColumns(group, unicode);
}

/** Cuts `s` to `width` with an ellipsis, keeping its end (addresses: the port) or its start. */
function fit(s: string, width: number, keepEnd: boolean, unicode: boolean): string {
  if (s.length <= width) return s;
  if (width <= 0) return '';
  const dots = unicode ? '…' : '~';
  return keepEnd ? dots + s.slice(s.length - width + 1) : s.slice(0, width - 1) + dots;
}

function pad(s: string, width: number, right: boolean): string {
  return right ? s.padStart(width) : s.padEnd(width);
}

/** Address cells are first cut to this width on a narrow screen (long IPv6 addresses), before whole columns go. */
const SOFT_WIDTH = 28;
/** Columns dropped before the addresses are cut below {@link SOFT_WIDTH}: drop order up to this. */
const DROP_EARLY = 3;

/**
 * Widths for the columns so the line fits `width` (undefined: natural widths). What gives
 * way, in order: the last column (processes) down to its minimum, long addresses down to 28
 * characters, the process, cwnd, queue and trend columns, the addresses down to their
 * minimum, then state, RTT and retransmissions. Returns the columns kept and their widths.
 */
function layout(cols: Column[], cells: string[][], width: number | undefined): { cols: Column[]; widths: number[] } {
  let kept = cols.map((c, i) => ({ c, w: Math.max(c.title.length, ...cells.map((row) => row[i].length)) }));
  if (width === undefined) return { cols: kept.map((k) => k.c), widths: kept.map((k) => k.w) };
  const total = (): number => kept.reduce((n, k) => n + k.w, 0) + kept.length - 1;
  const shrink = (k: (typeof kept)[number], floor: number): void => {
    if (total() > width) k.w = Math.max(Math.min(k.w, floor), k.w - (total() - width));
  };
  const drop = (upTo: number): void => {
    for (const k of kept.filter((x) => x.c.drop !== undefined && x.c.drop <= upTo).sort((a, b) => a.c.drop! - b.c.drop!)) {
      if (total() > width) kept = kept.filter((x) => x !== k);
    }
  };
  const last = kept[kept.length - 1];
  if (last.c.drop !== undefined && last.c.minWidth !== undefined) shrink(last, last.c.minWidth);
  const cuttable = kept.filter((k) => k.c.minWidth !== undefined && k !== last);
  for (const k of cuttable) shrink(k, SOFT_WIDTH);
  drop(DROP_EARLY);
  for (const k of cuttable) shrink(k, k.c.minWidth!);
  drop(Infinity);
  // Still too wide (a very narrow terminal): lines are cut at the edge.
  return { cols: kept.map((k) => k.c), widths: kept.map((k) => k.w) };
}

// ---------------------------------------------------------------------------------------
// Screen

/** Select Graphic Rendition sequences. */
const SGR = { reset: '\x1b[0m', bold: '\x1b[1m', inverse: '\x1b[7m', red: '\x1b[31m', green: '\x1b[32m', yellow: '\x1b[33m', cyan: '\x1b[36m' };

function stateSummary(states: Map<SocketState, number>): string {
  return [...states].sort((a, b) => b[1] - a[1]).map(([s, n]) => `${n} ${STATE_LABELS[s] ?? s}`).join(', ');
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(2))}s`;
}

function clock(at: number): string {
  const d = new Date(at);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** The totals line, shared by the screen and the batch frames. */
function totalsLine(f: Frame): string {
  const t = f.totals;
  const states = t.states.size > 0 ? ` (${stateSummary(t.states)})` : '';
  const measured = f.elapsedMs > 0;
  const r = (v: number): string => (measured ? `${formatRate(v)}/s` : '-');
  return `${t.connections} connections${states}  send ${r(t.send)}  recv ${r(t.recv)}  retrans ${measured ? formatPerSec(t.retrans) : '-'}/s  closed ${t.closed}`;
}

/** The keys, as the help screen lists them. */
export const HELP_LINES: readonly string[] = [
  'Keys',
  '',
  '  t  sort by total rate (default)    s  sort by send rate       r  sort by receive rate',
  '  R  sort by RTT                     x  sort by retransmissions  Q  sort by queues (Recv-Q + Send-Q)',
  '  < >  previous / next sort column',
  '  p  group by process                H  group by peer host       L  group by local port',
  '  c  one row per connection          g  next grouping',
  '  space  pause / resume              Up Down PgUp PgDn Home End  scroll',
  '  h ?  this help (any key closes it)                             q Ctrl-C  quit',
];

/**
 * The whole screen for `frame` (undefined before the first sample): cursor home, every line
 * cleared to its end, and the rest of the screen cleared. Lines never exceed the width.
 */
export function renderScreen(frame: Frame | undefined, o: ScreenOptions): string {
  const width = Math.max(1, o.width);
  const style = (code: string, s: string): string => (code === '' || (!o.color && code !== SGR.bold && code !== SGR.inverse) ? s : `${code}${s}${SGR.reset}`);
  const lines: string[] = [];
  const left = `sockdiag-top  ${frame ? clock(frame.at) : '--:--:--'}  every ${seconds(o.intervalMs)}  ${o.what}  sort: ${frame?.sort ?? '-'}  group: ${frame?.group ?? '-'}`;
  const right = `${o.paused ? 'PAUSED  ' : ''}h help  q quit`;
  const gap = width - left.length - right.length;
  lines.push(gap >= 2 ? style(SGR.bold, left) + ' '.repeat(gap) + (o.paused ? style(SGR.inverse, 'PAUSED') + '  h help  q quit' : right) : style(SGR.bold, fit(left, width, false, o.unicode)));
  if (frame === undefined) {
    lines.push(fit(`waiting for the first sample${o.unicode ? '…' : '...'}`, width, false, o.unicode));
    return screenText(lines, o.height);
  }
  let status = totalsLine(frame);
  const bodyHeight = Math.max(0, o.height - 3 - (o.notice ? 1 : 0));
  const scroll = Math.max(0, Math.min(o.scroll, frame.rows.length - bodyHeight));
  if (frame.rows.length > bodyHeight && !o.help) status += `  rows ${scroll + 1}-${Math.min(frame.rows.length, scroll + bodyHeight)} of ${frame.rows.length}`;
  lines.push(fit(status, width, false, o.unicode));
  if (o.notice) lines.push(style(SGR.cyan, fit(o.notice, width, false, o.unicode)));
  if (o.help) {
    lines.push('');
    for (const l of HELP_LINES) lines.push(fit(l, width, false, o.unicode));
    return screenText(lines, o.height);
  }
  const shown = frame.rows.slice(scroll, scroll + bodyHeight);
  const cols = columnsFor(frame.group, o.unicode);
  const cells = shown.map((r) => cols.map((c) => c.cell(r)));
  const { cols: kept, widths } = layout(cols, cells, width);
  const index = kept.map((c) => cols.indexOf(c));
  const title = kept.map((c, k) => pad(fit(c.title, widths[k], false, o.unicode), widths[k], c.right)).join(' ');
  lines.push(style(SGR.inverse, title.slice(0, width).padEnd(width)));
  shown.forEach((r, i) => {
    let line = '';
    let used = 0;
    kept.forEach((c, k) => {
      const sep = k > 0 ? 1 : 0;
      if (used + sep >= width) return;
      const text = pad(fit(cells[i][index[k]], widths[k], c.keepEnd === true, o.unicode), widths[k], c.right).slice(0, width - used - sep);
      line += (sep ? ' ' : '') + style(c.style?.(r) ?? '', text);
      used += text.length + sep;
    });
    lines.push(line);
  });
  return screenText(lines, o.height);
}

function screenText(lines: string[], height: number): string {
  return `\x1b[H${lines.slice(0, Math.max(1, height)).map((l) => `${l}\x1b[K`).join('\r\n')}\x1b[J`;
}

// ---------------------------------------------------------------------------------------
// Batch

/**
 * One batch frame as plain text: a header line (time, totals, ranking), the column titles,
 * the rows in rank order (at most `maxRows`), and an empty line.
 */
export function renderBatch(frame: Frame, o: { maxRows?: number; unicode: boolean }): string {
  const rows = o.maxRows === undefined ? frame.rows : frame.rows.slice(0, o.maxRows);
  const cols = columnsFor(frame.group, o.unicode);
  const cells = rows.map((r) => cols.map((c) => c.cell(r)));
  const { widths } = layout(cols, cells, undefined);
  const line = (texts: string[]): string => texts.map((t, k) => (k === cols.length - 1 && !cols[k].right ? t : pad(t, widths[k], cols[k].right))).join(' ').trimEnd();
  const out = [`sockdiag-top ${new Date(frame.at).toISOString()}  ${totalsLine(frame)}  sort ${frame.sort}  group ${frame.group}`, line(cols.map((c) => c.title))];
  for (const c of cells) out.push(line(c));
  return `${out.join('\n')}\n\n`;
}

/** One frame as a JSON-ready object (the NDJSON of `--json`); cookies as decimal strings. */
export function frameJson(frame: Frame, maxRows?: number): object {
  const rows = maxRows === undefined ? frame.rows : frame.rows.slice(0, maxRows);
  const t = frame.totals;
  return {
    at: new Date(frame.at).toISOString(),
    elapsedMs: Math.round(frame.elapsedMs),
    sort: frame.sort satisfies SortKey,
    group: frame.group,
    totals: { connections: t.connections, states: Object.fromEntries(t.states), sendBytesPerSec: t.send, recvBytesPerSec: t.recv, retransPerSec: t.retrans, closed: t.closed },
    rows: rows.map((r) => {
      const c = r.connection;
      const common = {
        sendBytesPerSec: r.send ?? null, recvBytesPerSec: r.recv ?? null, retransPerSec: r.retrans ?? null, rttUs: r.rttUs ?? null,
        recvQ: r.recvQ, sendQ: r.sendQ, history: r.history,
      };
      if (c === undefined) return { group: r.group, connections: r.connections, ...common, processes: r.process === '' ? [] : r.process.split(',') };
      return {
        cookie: String(c.cookie), protocol: c.protocol, local: c.local, peer: c.remote, state: c.state, ...common, cwnd: c.cwnd ?? null,
        deliveryRateBytesPerSec: c.deliveryRateBytesPerSec ?? null, bytesAcked: c.bytesAcked ?? null, bytesReceived: c.bytesReceived ?? null,
        processes: (c.processes ?? []).map((p) => ({ pid: p.pid, command: p.command })),
      };
    }),
  };
}
