/**
 * The ss(8) filter language: parse it, print it, build it in TypeScript.
 * @module
 */
export type { Filter, FilterExpr, StateClause, StateWord, Host, InetHost, UnixHost, LinkHost, NetlinkHost, VsockHost, PortOp, EqOp, HostFamily } from './ast';
export { FilterError, FilterSyntaxError, FilterValueError, formatFilterError } from './errors';
export { parseFilter, parseFilterWords } from './parse';
export type { ParseFilterOptions } from './parse';
export { filterToString, exprToString, hostToString } from './print';
export { filesResolver } from './values';
export type { FilterNameResolver, ResolverFiles } from './values';
export {
  ExprBuilder, FilterBuilder, and, or, not, state, exclude, src, dst, dport, sport, dev, fwmark, cgroup, autobound, toFilter,
} from './builder';
export type { ToFilter, ExprLike, HostSpec, BuilderOptions, PortValue, PortPredicate, EqPredicate } from './builder';
