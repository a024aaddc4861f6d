/**
 * A typed builder for filters, so that nobody concatenates filter strings:
 *
 * ```ts
 * and(state('established'), or(dport.eq(22), sport.eq('ssh')))
 * src('10.0.0.0/8').and(not(dst({ address: '::1', port: 443 })))
 * exclude('time-wait').where(dev('lo'), fwmark(0x1, 0x3))
 * ```
 *
 * Every builder is immutable, has `toFilter()` (the AST the parser would produce for the
 * same text) and `toString()` (ss syntax that parses back to it). Values are checked by the
 * parser's own rules and rejected with a `FilterValueError`.
 * @module
 */
import type { EqOp, Filter, FilterExpr, Host, HostFamily, PortOp, StateClause, StateWord } from './ast';
import { FilterValueError } from './errors';
import { portExpr } from './parse';
import { exprToString, filterToString } from './print';
import {
  BadValue, FilterNameResolver, addressLiteral, cgroupValue, checkPort, defaultResolver, deviceValue, hostExpr, hostValues,
  linkProtocol, markValue, stateWord,
} from './values';

/** Anything that can become a whole {@link Filter}. */
export interface ToFilter {
  /** The filter as data. */
  toFilter(): Filter;
}

/** An expression (no state words): a builder, or a raw {@link FilterExpr}. */
export type ExprLike = ExprBuilder | FilterExpr;

/** Runs a value check; its complaint becomes a FilterValueError about `text`. */
function checked<T>(text: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof BadValue) throw new FilterValueError(text, e.offset, text, e.message);
    throw e;
  }
}

function exprOf(x: ExprLike): FilterExpr {
  return x instanceof ExprBuilder ? x.expr : x;
}

/** Joins operands the way the parser does for `a op b op c`: one node, left operand flattened. */
function combine(kind: 'and' | 'or', operands: FilterExpr[]): FilterExpr {
  let acc = operands[0];
  for (const e of operands.slice(1)) acc = acc.kind === kind ? { kind, items: [...acc.items, e] } : { kind, items: [acc, e] };
  return acc;
}

/** A condition or a combination of conditions: the expression part of a filter. */
export class ExprBuilder implements ToFilter {
  /** The expression as data. */
  readonly expr: FilterExpr;
  /** Wraps an expression. */
  constructor(expr: FilterExpr) {
    this.expr = expr;
  }
  /** This and all of `others` (`this and a and b`). */
  and(...others: ExprLike[]): ExprBuilder {
    return new ExprBuilder(combine('and', [this.expr, ...others.map(exprOf)]));
  }
  /** This or any of `others` (`this or a or b`). */
  or(...others: ExprLike[]): ExprBuilder {
    return new ExprBuilder(combine('or', [this.expr, ...others.map(exprOf)]));
  }
  /** The negation (`not ( this )`). */
  not(): ExprBuilder {
    return new ExprBuilder({ kind: 'not', item: this.expr });
  }
  /** A filter with this expression and no state words. */
  toFilter(): Filter {
    return { states: [], expr: this.expr };
  }
  /** The expression in ss syntax. */
  toString(): string {
    return exprToString(this.expr);
  }
}

/** A whole filter: state words and, optionally, an expression. */
export class FilterBuilder implements ToFilter {
  /** The filter as data. */
  readonly filter: Filter;
  /** Wraps a filter. */
  constructor(filter: Filter) {
    this.filter = filter;
  }
  /** Adds `state WORD` clauses (in order, after the present ones). */
  state(...words: StateWord[]): FilterBuilder {
    return new FilterBuilder({ ...this.filter, states: [...this.filter.states, ...clauses(true, words)] });
  }
  /** Adds `exclude WORD` clauses. */
  exclude(...words: StateWord[]): FilterBuilder {
    return new FilterBuilder({ ...this.filter, states: [...this.filter.states, ...clauses(false, words)] });
  }
  /** Adds conditions, joined with `and` to the expression already there. */
  where(...conditions: ExprLike[]): FilterBuilder {
    const all = [...(this.filter.expr ? [this.filter.expr] : []), ...conditions.map(exprOf)];
    return new FilterBuilder(all.length === 0 ? this.filter : { states: this.filter.states, expr: combine('and', all) });
  }
  /** The filter as data. */
  toFilter(): Filter {
    return this.filter;
  }
  /** The filter in ss syntax. */
  toString(): string {
    return filterToString(this.filter);
  }
}

function clauses(include: boolean, words: readonly StateWord[]): StateClause[] {
  return words.map((w) => ({ include, word: checked(String(w), () => stateWord(String(w))) }));
}

/** `state WORD …`: only sockets in these states (ss's first `state` starts from none). */
export function state(...words: StateWord[]): FilterBuilder {
  return new FilterBuilder({ states: clauses(true, words) });
}

/** `exclude WORD …`: every state but these (ss's first `exclude` starts from all). */
export function exclude(...words: StateWord[]): FilterBuilder {
  return new FilterBuilder({ states: clauses(false, words) });
}

/**
 * All of the parts: expressions are joined with `and`; state builders contribute their state
 * words (in order). Expressions only → an {@link ExprBuilder}; with states → a
 * {@link FilterBuilder}.
 */
export function and(...parts: ExprLike[]): ExprBuilder;
export function and(...parts: Array<ExprLike | FilterBuilder>): FilterBuilder;
export function and(...parts: Array<ExprLike | FilterBuilder>): ExprBuilder | FilterBuilder {
  const exprs: FilterExpr[] = [];
  const states: StateClause[] = [];
  let whole = false;
  for (const p of parts) {
    if (p instanceof FilterBuilder) {
      whole = true;
      states.push(...p.filter.states);
      if (p.filter.expr) exprs.push(p.filter.expr);
    } else {
      exprs.push(exprOf(p));
    }
  }
  if (!whole) {
    if (exprs.length === 0) throw new TypeError('and() needs at least one condition');
    return new ExprBuilder(combine('and', exprs));
  }
  return new FilterBuilder(exprs.length === 0 ? { states } : { states, expr: combine('and', exprs) });
}

/** Any of the conditions (`a or b or …`). */
export function or(first: ExprLike, ...rest: ExprLike[]): ExprBuilder {
  return new ExprBuilder(combine('or', [exprOf(first), ...rest.map(exprOf)]));
}

/** The negation of a condition (`not …`). */
export function not(condition: ExprLike): ExprBuilder {
  return new ExprBuilder({ kind: 'not', item: exprOf(condition) });
}

/**
 * A host given as fields instead of text. inet/inet6 (family optional): `address` (literal
 * or host name, optionally with `/prefix`), `prefixLen`, `port` (number or service name).
 * Other families: the fields of their {@link Host} type.
 */
export type HostSpec =
  | { family?: 'inet' | 'inet6'; address?: string; prefixLen?: number; port?: number | string }
  | Exclude<Host, { family: 'inet' | 'inet6' | undefined }>;

/** Options of the host and port builders. */
export interface BuilderOptions {
  /** Family of host text without a `FAMILY:` prefix (as the parser's option). */
  family?: HostFamily;
  /** Name resolver (as the parser's option). */
  resolver?: FilterNameResolver;
}

function hostsFromSpec(spec: HostSpec, resolver: FilterNameResolver): Host[] {
  switch (spec.family) {
    case 'unix':
      if (typeof spec.pattern !== 'string') throw new BadValue('a unix host needs a pattern');
      return [{ family: 'unix', pattern: spec.pattern }];
    case 'link': {
      const h: Host = { family: 'link' };
      if (spec.protocol !== undefined) h.protocol = linkProtocol(String(spec.protocol));
      if (spec.device !== undefined) h.device = deviceValue(String(spec.device));
      return [h];
    }
    case 'netlink': {
      const h: Host = { family: 'netlink' };
      if (spec.protocol !== undefined) h.protocol = u32Field(spec.protocol, 255, 'netlink protocol');
      if (spec.portId !== undefined) h.portId = u32Field(spec.portId, 0xffffffff, 'netlink port id');
      return [h];
    }
    case 'vsock': {
      const h: Host = { family: 'vsock' };
      if (spec.cid !== undefined) h.cid = u32Field(spec.cid, 0xffffffff, 'vsock CID');
      if (spec.port !== undefined) h.port = u32Field(spec.port, 0xffffffff, 'vsock port');
      return [h];
    }
    default: {
      const family = spec.family;
      const port = spec.port === undefined ? undefined : typeof spec.port === 'number' ? checkPort(spec.port) : hostPort(spec.port, family, resolver);
      let hosts: Host[] = [{ family }];
      if (spec.address !== undefined && spec.address !== '*') {
        // The address alone, through the text rules (literal or host name, optional /prefix).
        const lit = addressLiteral(spec.address.split('/')[0]);
        const text = lit?.family === 'inet6' ? `[${spec.address}]` : spec.address;
        if (spec.address.includes(':') && !lit) throw new BadValue(`'${spec.address}' is not an IPv6 address`);
        hosts = hostValues(text, family, false, resolver);
        if (spec.prefixLen !== undefined) {
          const bits = lit?.family === 'inet' ? 32 : 128;
          if (!lit || !Number.isInteger(spec.prefixLen) || spec.prefixLen < 0 || spec.prefixLen > bits) {
            throw new BadValue(`prefix length ${spec.prefixLen} is out of range for '${spec.address}' (0-${bits})`);
          }
          hosts = hosts.map((h) => ({ ...h, prefixLen: spec.prefixLen }));
        }
      } else if (spec.prefixLen !== undefined) {
        throw new BadValue('a prefix length needs an address');
      }
      return port === undefined ? hosts : hosts.map((h) => ({ ...h, port }));
    }
  }
}

function hostPort(text: string, family: 'inet' | 'inet6' | undefined, resolver: FilterNameResolver): number {
  const [h] = hostValues(text, family, true, resolver);
  if (h.family === 'unix' || h.family === 'link' || h.family === 'netlink' || h.family === 'vsock' || h.port === undefined) {
    throw new BadValue(`'${text}' is not a port`);
  }
  return h.port;
}

function u32Field(n: number, max: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > max) throw new BadValue(`${what} ${n} is out of range (0-${max})`);
  return n;
}

function hostCondition(side: 'src' | 'dst', host: string | HostSpec, opts: BuilderOptions): ExprBuilder {
  const resolver = opts.resolver ?? defaultResolver;
  if (typeof host === 'string') return new ExprBuilder(checked(host, () => hostExpr(side, hostValues(host, opts.family, false, resolver))));
  return new ExprBuilder(checked(JSON.stringify(host), () => hostExpr(side, hostsFromSpec(host, resolver))));
}

/** `src HOST`: the local address matches. Text is HOST SYNTAX (`'10.0.0.0/8'`, `'[::1]:22'`, `'unix:/run/*'`). */
export function src(host: string | HostSpec, options: BuilderOptions = {}): ExprBuilder {
  return hostCondition('src', host, options);
}

/** `dst HOST`: the remote address matches. */
export function dst(host: string | HostSpec, options: BuilderOptions = {}): ExprBuilder {
  return hostCondition('dst', host, options);
}

/** A port: a number, or text as after `dport =` (`'ssh'`, `':22'`, `'inet6::https'`, `'*'`). */
export type PortValue = number | string;

/** `sport`/`dport` as a builder: call it with an operator, or use a method per operator. */
export interface PortPredicate {
  /** `PORT-COND OP PORT`. */
  (op: PortOp, port: PortValue, options?: BuilderOptions): ExprBuilder;
  /** `= PORT`. */
  eq(port: PortValue, options?: BuilderOptions): ExprBuilder;
  /** `!= PORT`. */
  ne(port: PortValue, options?: BuilderOptions): ExprBuilder;
  /** `< PORT`. */
  lt(port: PortValue, options?: BuilderOptions): ExprBuilder;
  /** `<= PORT`. */
  le(port: PortValue, options?: BuilderOptions): ExprBuilder;
  /** `> PORT`. */
  gt(port: PortValue, options?: BuilderOptions): ExprBuilder;
  /** `>= PORT`. */
  ge(port: PortValue, options?: BuilderOptions): ExprBuilder;
}

function portPredicate(side: 'src' | 'dst'): PortPredicate {
  const f = (op: PortOp, port: PortValue, options: BuilderOptions = {}): ExprBuilder => {
    // Numbers go through the text rules too, so that both forms give the parser's AST.
    const text = typeof port === 'number' ? String(port) : port;
    return new ExprBuilder(checked(text, () => portExpr(side, op, text, options.family, options.resolver ?? defaultResolver)));
  };
  return Object.assign(f, {
    eq: (p: PortValue, o?: BuilderOptions) => f('=', p, o),
    ne: (p: PortValue, o?: BuilderOptions) => f('!=', p, o),
    lt: (p: PortValue, o?: BuilderOptions) => f('<', p, o),
    le: (p: PortValue, o?: BuilderOptions) => f('<=', p, o),
    gt: (p: PortValue, o?: BuilderOptions) => f('>', p, o),
    ge: (p: PortValue, o?: BuilderOptions) => f('>=', p, o),
  });
}

/** `dport OP PORT`: the remote port. `dport.eq(443)`, `dport.ge(1024)`, `dport('<', 'http')`. */
export const dport: PortPredicate = portPredicate('dst');
/** `sport OP PORT`: the local port. `sport.eq('ssh')`. */
export const sport: PortPredicate = portPredicate('src');

/** A `=`/`!=` predicate: call it for `=`, or `.ne(…)` for `!=`. */
export interface EqPredicate<A extends unknown[]> {
  /** `= VALUE`. */
  (...args: A): ExprBuilder;
  /** `!= VALUE`. */
  ne(...args: A): ExprBuilder;
}

function eqPredicate<A extends unknown[]>(make: (op: EqOp, ...args: A) => FilterExpr): EqPredicate<A> {
  return Object.assign((...args: A) => new ExprBuilder(make('=', ...args)), { ne: (...args: A) => new ExprBuilder(make('!=', ...args)) });
}

/** `dev = DEVICE` (name or index; names are resolved in the namespace listed). `dev.ne('lo')`. */
export const dev: EqPredicate<[device: string | number]> = eqPredicate((op, device) => {
  const text = String(device);
  if (typeof device === 'number') return { kind: 'dev', op, device: checked(text, () => u32Field(device, 0xffffffff, 'device index')) };
  return { kind: 'dev', op, device: checked(text, () => deviceValue(text)) };
});

/** `fwmark = MARK[/MASK]`: `(mark & mask) == MARK`; the mask defaults to all ones. `fwmark(0x1, 0x3)`. */
export const fwmark: EqPredicate<[mark: number | string, mask?: number]> = eqPredicate((op, mark, mask) => {
  const text = typeof mark === 'string' ? mark : mask === undefined ? String(mark) : `${mark}/${mask}`;
  if (typeof mark === 'string') return { kind: 'fwmark', op, ...checked(text, () => markValue(mark)) };
  return {
    kind: 'fwmark',
    op,
    mark: checked(text, () => u32Field(mark, 0xffffffff, 'mark')),
    mask: mask === undefined ? 0xffffffff : checked(text, () => u32Field(mask, 0xffffffff, 'mask')),
  };
});

/** `cgroup = PATH` (resolved to a cgroup v2 id by the caller). `cgroup('/system.slice')`. */
export const cgroup: EqPredicate<[path: string]> = eqPredicate((op, path) => ({ kind: 'cgroup', op, path: checked(path, () => cgroupValue(path)) }));

/** `autobound`: the local port or path was assigned by the kernel. */
export function autobound(): ExprBuilder {
  return new ExprBuilder({ kind: 'autobound' });
}

/** The {@link Filter} of a builder, a raw expression, or a filter (returned as is). */
export function toFilter(x: ToFilter | FilterExpr | Filter): Filter {
  if (x instanceof ExprBuilder || x instanceof FilterBuilder) return x.toFilter();
  if ('states' in x) return x;
  if ('toFilter' in x && typeof x.toFilter === 'function') return x.toFilter();
  return { states: [], expr: x as FilterExpr };
}
