/**
 * {@link Filter} → ss filter text that {@link parseFilter} reads back to the same AST.
 * @module
 */
import type { Filter, FilterExpr, Host, StateClause } from './ast';
import { LINK_PROTOCOLS } from './values';

// Every word the parser treats as a keyword; a value spelled like one is written with a
// leading backslash (a word with an escape is never a keyword).
const KEYWORDS = new Set([
  '(', ')', '!', 'not', '&', '&&', 'and', '|', '||', 'or', 'dst', 'src', 'dport', 'sport', 'dev', 'fwmark',
  'cgroup', 'autobound', '=', '==', 'eq', '!=', 'ne', 'neq', '>', 'gt', '<', 'lt', '>=', 'ge', 'geq', '<=', 'le', 'leq',
  'state', 'exclude', 'excl',
]);

/** A value as one word: blanks and backslashes escaped, keywords disarmed. */
function word(text: string): string {
  const w = text.replace(/[\\ \t\n\r]/g, (c) => `\\${c}`);
  return KEYWORDS.has(w) ? `\\${w}` : w;
}

function linkProtocolName(n: number): string {
  const named = LINK_PROTOCOLS.find(([, id]) => id === n);
  return named ? named[0] : `0x${n.toString(16)}`;
}

/** The HOST word of a `src`/`dst` condition, always with its family prefix when it has one. */
export function hostToString(h: Host): string {
  switch (h.family) {
    case 'unix':
      return word(`unix:${h.pattern}`);
    case 'link':
      return word(`link:${h.protocol === undefined ? '*' : linkProtocolName(h.protocol)}${h.device === undefined ? '' : `:${h.device}`}`);
    case 'netlink':
      return `netlink:${h.protocol ?? '*'}${h.portId === undefined ? '' : `:${h.portId}`}`;
    case 'vsock':
      return `vsock:${h.cid ?? '*'}${h.port === undefined ? '' : `:${h.port}`}`;
    default: {
      const prefix = h.family === undefined ? '' : `${h.family}:`;
      const port = h.port === undefined ? '' : `:${h.port}`;
      if (h.address === undefined) return `${prefix}*${port}`;
      const addr = h.address + (h.prefixLen === undefined ? '' : `/${h.prefixLen}`);
      // IPv6 goes in brackets so that the port separator is unambiguous; the prefix goes inside.
      return prefix + (h.address.includes(':') ? `[${addr}]` : addr) + port;
    }
  }
}

/** One expression as text; `a op b` operands that are themselves and/or get parentheses as needed. */
export function exprToString(e: FilterExpr): string {
  switch (e.kind) {
    case 'and':
    case 'or': {
      if (e.items.length === 0) throw new TypeError(`an empty '${e.kind}' has no ss syntax`);
      // ss groups and/or from the left with equal precedence, while its man page claims `and`
      // binds tighter: parenthesise every operand the two readings could disagree on.
      return e.items
        .map((item, i) => {
          const s = exprToString(item);
          const nested = item.kind === 'and' || item.kind === 'or';
          return nested && (i > 0 || item.kind !== e.kind) ? `( ${s} )` : s;
        })
        .join(` ${e.kind} `);
    }
    case 'not': {
      const s = exprToString(e.item);
      return e.item.kind === 'and' || e.item.kind === 'or' ? `not ( ${s} )` : `not ${s}`;
    }
    case 'host':
      return `${e.side} ${hostToString(e.host)}`;
    case 'port':
      return `${e.side === 'src' ? 'sport' : 'dport'} ${e.op} ${e.family === undefined ? '' : `${e.family}:`}:${e.port}`;
    case 'dev':
      return `dev ${e.op} ${typeof e.device === 'number' ? e.device : word(e.device)}`;
    case 'fwmark':
      return `fwmark ${e.op} 0x${e.mark.toString(16)}${e.mask === 0xffffffff ? '' : `/0x${e.mask.toString(16)}`}`;
    case 'cgroup':
      return `cgroup ${e.op} ${word(e.path)}`;
    case 'autobound':
      return 'autobound';
  }
}

/** The state words of a filter, e.g. `state established exclude closed`. */
export function statesToString(states: readonly StateClause[]): string {
  return states.map((c) => `${c.include ? 'state' : 'exclude'} ${c.word}`).join(' ');
}

/**
 * A filter as ss syntax in the one-string form: state words, then the expression, with
 * canonical operators (`=`, `!=`, `<`, …, `and`, `or`, `not`), minimal parentheses, every
 * host with its family prefix, fwmarks in hex. {@link parseFilter} reads it back to the same
 * AST (for ASTs in the parser's shape: no single-item and/or; and/or items never start with
 * a node of the same operator).
 */
export function filterToString(f: Filter): string {
  const parts: string[] = [];
  if (f.states.length > 0) parts.push(statesToString(f.states));
  if (f.expr !== undefined) parts.push(exprToString(f.expr));
  return parts.join(' ');
}
