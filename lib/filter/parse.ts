/**
 * The ss(8) filter language, text → {@link Filter}.
 *
 * Grammar, as iproute2's ss reads it (not always as its man page tells):
 * ```
 * FILTER    := { (state | exclude | excl) STATE-NAME }* [ EXPRLIST ]
 * EXPRLIST  := EXPR { [ or | '|' | '||' | and | '&' | '&&' ] EXPR }*
 * EXPR      := '(' EXPRLIST ')' | (not | '!') EXPR | PREDICATE
 * PREDICATE := (dst | src) [ '=' ] HOST
 *            | (dport | sport) [ PORT-OP ] [FAMILY:][:]PORT
 *            | (dev | fwmark | cgroup) [ '=' | '!=' ] VALUE
 *            | autobound
 * ```
 * - `and` and `or` have the SAME precedence and group from the left: `a or b and c` is
 *   `(a or b) and c`. That is what ss has done since 2018 (its bison grammar), whatever the
 *   man page says; the bytecode ss sends proves it. Write parentheses.
 * - Words are separated by blanks; `(` and `)` must be words of their own (`(dport` is one
 *   word). A backslash keeps the next character in the word (`unix:/tmp/a\ b`). Keywords are
 *   case-sensitive; state names are not.
 * - Values: see HOST SYNTAX in ss(8); unknown words are syntax errors here (ss tries them as
 *   host names and usually fails with a value error instead).
 * @module
 */
import type { EqOp, Filter, FilterExpr, HostFamily, PortOp, StateClause } from './ast';
import { FilterSyntaxError, FilterValueError } from './errors';
import { BadValue, FilterNameResolver, cgroupValue, defaultResolver, deviceValue, hostExpr, hostValues, markValue, stateWord } from './values';

/** Options of {@link parseFilter} and {@link parseFilterWords}. */
export interface ParseFilterOptions {
  /**
   * The family of hosts written without a `FAMILY:` prefix, as ss's `-f`/`-4`/`-6`/`-x`…
   * options set it. Undefined: inet or inet6, from the address.
   */
  family?: HostFamily;
  /**
   * Turns host names, service names and netlink protocol names into numbers. Default: the
   * files /etc/hosts, /etc/services and /etc/iproute2/nl_protos (no DNS).
   */
  resolver?: FilterNameResolver;
}

/** A word of the filter: its text with escapes removed, where it starts, and whether it had escapes. */
interface Token {
  text: string;
  pos: number;
  /** A word with a backslash is never a keyword (so that any value can be written). */
  escaped: boolean;
}

/** Splits text into words at blanks; `base` is added to positions. */
function tokenize(text: string, base: number, out: Token[]): void {
  let i = 0;
  const blank = (c: string): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r';
  while (i < text.length) {
    while (i < text.length && blank(text[i])) i++;
    if (i >= text.length) break;
    const pos = i;
    let word = '';
    let escaped = false;
    while (i < text.length && !blank(text[i])) {
      if (text[i] === '\\') {
        escaped = true;
        i++;
        if (i >= text.length) break;
      }
      word += text[i++];
    }
    out.push({ text: word, pos: base + pos, escaped });
  }
}

const OPS: Readonly<Record<string, PortOp>> = {
  '=': '=', '==': '=', eq: '=',
  '!=': '!=', ne: '!=', neq: '!=',
  '>': '>', gt: '>',
  '<': '<', lt: '<',
  '>=': '>=', ge: '>=', geq: '>=',
  '<=': '<=', le: '<=', leq: '<=',
};
/** Own keys only: `constructor` and friends are values, not operators. */
const isOp = (w: string): boolean => Object.prototype.hasOwnProperty.call(OPS, w);
const NOT = new Set(['!', 'not']);
const AND = new Set(['&', '&&', 'and']);
const OR = new Set(['|', '||', 'or']);
const PREDICATES = new Set(['dst', 'src', 'dport', 'sport', 'dev', 'fwmark', 'cgroup', 'autobound']);
const STATE_KEYWORDS = new Set(['state', 'exclude', 'excl']);
const EXPR_START = "a condition (dst, src, dport, sport, dev, fwmark, cgroup, autobound), 'not' or '('";

/**
 * How deep `( … )` and `not` may nest. Everything that walks a filter tree (printing,
 * compiling, evaluating) recurses once per level, so a limit keeps any input off the edge
 * of the stack; a deeper filter is a syntax error at the word that goes too deep.
 */
export const MAX_FILTER_DEPTH = 256;

class Parser {
  private i = 0;
  private depth = 0;
  constructor(
    private readonly input: string,
    private readonly tokens: Token[],
    private readonly opts: ParseFilterOptions,
    /** False in the argv form, where ss takes state words only as whole words. */
    private readonly statesHere = true,
  ) {}

  private peek(): Token | undefined {
    return this.tokens[this.i];
  }

  /** The keyword the current token is, if it is one. */
  private keyword(): string | undefined {
    const t = this.peek();
    if (t === undefined || t.escaped) return undefined;
    const w = t.text;
    if (w === '(' || w === ')' || NOT.has(w) || AND.has(w) || OR.has(w) || PREDICATES.has(w) || isOp(w)) return w;
    return undefined;
  }

  private fail(expected: string, hint?: string): never {
    const t = this.peek();
    throw new FilterSyntaxError(this.input, t ? t.pos : this.input.length, t ? t.text : '', expected, hint);
  }

  /** Hints for the usual mistakes with a word that is no keyword. */
  private hintFor(t: Token | undefined): string | undefined {
    if (t === undefined) return undefined;
    if (!t.escaped && STATE_KEYWORDS.has(t.text)) return 'state filters go before the expression';
    if (/^[()]|[()]$/.test(t.text) && t.text.length > 1) return "'(' and ')' must be separate words";
    if (!t.escaped && /^[A-Z]+$/.test(t.text) && PREDICATES.has(t.text.toLowerCase())) return 'keywords are lower case';
    if (!t.escaped && ['AND', 'OR', 'NOT'].includes(t.text)) return 'keywords are lower case';
    return undefined;
  }

  parse(): Filter {
    const states = this.statesHere ? this.states() : [];
    const filter: Filter = { states };
    if (this.peek() === undefined) return filter;
    filter.expr = this.exprList();
    if (this.peek() !== undefined) {
      if (this.keyword() === ')') this.fail("an operator or the end of the filter", "')' without a matching '('");
      this.fail(`an operator, ${EXPR_START} or the end of the filter`, this.hintFor(this.peek()));
    }
    return filter;
  }

  /** Leading `state WORD` / `exclude WORD` pairs (one-string form). */
  states(): StateClause[] {
    const out: StateClause[] = [];
    for (let t = this.peek(); t && !t.escaped && STATE_KEYWORDS.has(t.text); t = this.peek()) {
      this.i++;
      out.push({ include: t.text === 'state', word: this.stateName() });
    }
    return out;
  }

  private stateName(): StateClause['word'] {
    const t = this.peek();
    const expected = 'a state name (a TCP state such as established, or all, connected, synchronized, bucket, big)';
    if (t === undefined) this.fail(expected);
    try {
      const w = stateWord(t.text);
      this.i++;
      return w;
    } catch (e) {
      if (e instanceof BadValue) this.fail(expected, e.message);
      throw e;
    }
  }

  exprList(): FilterExpr {
    let left = this.expr();
    for (;;) {
      const k = this.keyword();
      let kind: 'and' | 'or';
      if (k !== undefined && (AND.has(k) || OR.has(k))) {
        kind = OR.has(k) ? 'or' : 'and';
        this.i++;
        if (this.peek() === undefined || this.keyword() === ')') this.fail(`${EXPR_START} after '${this.tokens[this.i - 1].text}'`);
      } else if (k !== undefined && (k === '(' || NOT.has(k) || PREDICATES.has(k))) {
        kind = 'and'; // two conditions side by side: ss's implicit and
      } else {
        return left;
      }
      const right = this.expr();
      // ss folds from the left, ((a or b) or c): a run of one operator becomes one node (its
      // items grow in place: a run of n terms costs n, not n²).
      if (left.kind === kind) left.items.push(right);
      else left = { kind, items: [left, right] };
    }
  }

  expr(): FilterExpr {
    const t = this.peek();
    const k = this.keyword();
    if (t === undefined || k === undefined || !(k === '(' || NOT.has(k) || PREDICATES.has(k))) this.fail(EXPR_START, this.hintFor(t));
    if (k === '(' || NOT.has(k)) {
      if (this.depth >= MAX_FILTER_DEPTH) this.fail(`at most ${MAX_FILTER_DEPTH} levels of '( )' and 'not'`, 'the filter nests too deeply');
      this.depth++;
      try {
        return this.nested(t, k);
      } finally {
        this.depth--;
      }
    }
    return this.condition(k);
  }

  private nested(t: Token, k: string): FilterExpr {
    if (k === '(') {
      this.i++;
      if (this.keyword() === ')') this.fail(`${EXPR_START} inside '( )'`);
      if (this.peek() === undefined) this.fail(`${EXPR_START} after '('`);
      const inner = this.exprList();
      if (this.keyword() !== ')') {
        if (this.peek() === undefined) this.fail(`')' to close the '(' at ${t.pos}`);
        this.fail(`an operator, ${EXPR_START} or ')'`, this.hintFor(this.peek()));
      }
      this.i++;
      return inner;
    }
    if (NOT.has(k)) {
    }
    this.i++;
    return { kind: 'not', item: this.expr() };
  }

  private condition(k: string): FilterExpr {
    this.i++;
    switch (k) {
      case 'dst':
      case 'src': {
        if (this.keyword() !== undefined && OPS[this.keyword() as string] === '=') this.i++;
        const v = this.value('a host ([FAMILY:]ADDRESS[:PORT])', `only '=' can come between ${k} and the host`);
        return this.convert(v, () => hostExpr(k, hostValues(v.text, this.opts.family, false, this.resolver())));
      }
      case 'dport':
      case 'sport': {
        const kw = this.keyword();
        let op: PortOp = '=';
        if (kw !== undefined && isOp(kw)) {
          op = OPS[kw];
          this.i++;
        }
        const v = this.value('a port ([FAMILY:]:PORT)');
        return this.convert(v, () => portExpr(k === 'dport' ? 'dst' : 'src', op, v.text, this.opts.family, this.resolver()));
      }
      case 'dev':
      case 'fwmark':
      case 'cgroup': {
        const op = this.eqOp();
        const what = k === 'dev' ? 'a device name or index' : k === 'fwmark' ? 'a mark (MARK or MARK/MASK)' : 'a cgroup path';
        const v = this.value(what, "only '=' or '!=' can come here");
        if (k === 'dev') return this.convert(v, () => ({ kind: 'dev', op, device: deviceValue(v.text) }));
        if (k === 'fwmark') return this.convert(v, () => ({ kind: 'fwmark', op, ...markValue(v.text) }));
        return this.convert(v, () => ({ kind: 'cgroup', op, path: cgroupValue(v.text) }));
      }
      default:
        return { kind: 'autobound' };
    }
  }

  private eqOp(): EqOp {
    const kw = this.keyword();
    if (kw !== undefined && (OPS[kw] === '=' || OPS[kw] === '!=')) {
      this.i++;
      return OPS[kw] as EqOp;
    }
    return '=';
  }

  /** The value word of a predicate: anything but a keyword. */
  private value(expected: string, opHint?: string): Token {
    const t = this.peek();
    if (t === undefined) this.fail(expected);
    const k = this.keyword();
    if (k !== undefined) this.fail(expected, isOp(k) ? opHint : undefined);
    this.i++;
    return t;
  }

  private resolver(): FilterNameResolver {
    return this.opts.resolver ?? defaultResolver;
  }

  /** Runs a value conversion, turning its complaint into a positioned FilterValueError. */
  private convert<T>(t: Token, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof BadValue)) throw e;
      throw new FilterValueError(this.input, t.pos + (t.escaped ? 0 : e.offset), t.text, e.message);
    }
  }
}

/**
 * A `dport`/`sport` condition. For inet it is a port comparison; `*` (any port) only makes
 * sense with `=`/`!=` and becomes the host condition ss builds for it. Other families' "ports"
 * (link device, netlink port id, vsock port, unix pattern) are host conditions as in ss.
 */
export function portExpr(side: 'src' | 'dst', op: PortOp, text: string, family: HostFamily | undefined, resolver: FilterNameResolver): FilterExpr {
  const [host] = hostValues(text, family, true, resolver);
  const isInet = host.family === undefined || host.family === 'inet' || host.family === 'inet6';
  if (isInet && host.port !== undefined) {
    const e: FilterExpr = { kind: 'port', side, op, port: host.port };
    if (host.family !== undefined) e.family = host.family;
    return e;
  }
  if (op !== '=' && op !== '!=') {
    throw new BadValue(isInet ? `'${op}' needs a port number, not any port` : `'${op}' compares inet ports only; use '=' or '!=' for a ${host.family} host`);
  }
  const e: FilterExpr = { kind: 'host', side, host };
  return op === '=' ? e : { kind: 'not', item: e };
}

/**
 * Parses the one-string form of a filter, as the library takes it:
 * `'state established ( dport = :ssh or sport = :ssh )'`. State words come first, then the
 * expression. Empty text is an empty filter (no states, no expression), as in ss.
 *
 * @throws {@link FilterSyntaxError} when the text breaks the grammar, {@link FilterValueError}
 *   when a value is malformed (address, prefix, port, service, mark, device, cgroup); both
 *   carry the 0-based position in `text`.
 */
export function parseFilter(text: string, options: ParseFilterOptions = {}): Filter {
  const tokens: Token[] = [];
  tokenize(text, 0, tokens);
  return new Parser(text, tokens, options).parse();
}

/**
 * Parses the command-line form: ss's argv words after the options
 * (`['state', 'established', '( dport = :ssh or sport = :ssh )']`). As in ss, `state` and
 * `exclude` are recognised only as whole words before the expression (and take the whole
 * next word as the state name); the remaining words are split at blanks.
 *
 * Positions in errors refer to `words.join(' ')`, which is also the error's `input`: word
 * `k` starts at the sum of the lengths of the words before it plus `k`.
 */
export function parseFilterWords(words: readonly string[], options: ParseFilterOptions = {}): Filter {
  const input = words.join(' ');
  const starts: number[] = [];
  let at = 0;
  for (const w of words) {
    starts.push(at);
    at += w.length + 1;
  }
  const states: StateClause[] = [];
  let k = 0;
  while (k < words.length && STATE_KEYWORDS.has(words[k])) {
    const expected = 'a state name (a TCP state such as established, or all, connected, synchronized, bucket, big)';
    if (k + 1 >= words.length) throw new FilterSyntaxError(input, input.length, '', expected);
    try {
      states.push({ include: words[k] === 'state', word: stateWord(words[k + 1]) });
    } catch (e) {
      if (e instanceof BadValue) throw new FilterSyntaxError(input, starts[k + 1], words[k + 1], expected, e.message);
      throw e;
    }
    k += 2;
  }
  const tokens: Token[] = [];
  for (let j = k; j < words.length; j++) tokenize(words[j], starts[j], tokens);
  const { expr } = new Parser(input, tokens, options, false).parse();
  return expr === undefined ? { states } : { states, expr };
}
