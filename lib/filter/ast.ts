/**
 * The filter language of ss(8) as data: a state set plus an expression tree. The parser
 * produces it, the typed builder produces it, the bytecode compiler and the userspace
 * evaluator consume it, and `filterToString` prints it back as ss syntax.
 * @module
 */
import type { SocketState } from '../diag/constants';

/** Comparison operators of `sport`/`dport` (every alias of the man page maps to one of these). */
export type PortOp = '<' | '<=' | '=' | '!=' | '>=' | '>';

/** Equality operators of `dev`, `fwmark`, `cgroup`. */
export type EqOp = '=' | '!=';

/** The families a host condition can name (`-f` families of ss). */
export type HostFamily = 'inet' | 'inet6' | 'unix' | 'link' | 'netlink' | 'vsock';

/**
 * An inet/inet6 host: address with prefix, and/or port. `address` undefined means `*`
 * (any address), `port` undefined means any port. Addresses are kept as text in the form
 * inet_ntop prints (host names are resolved by the parser).
 */
export interface InetHost {
  family: 'inet' | 'inet6' | undefined;
  /** Textual address; undefined for `*`. */
  address?: string;
  /** Prefix length in bits; undefined = the whole address. */
  prefixLen?: number;
  /** Port number; undefined = any. */
  port?: number;
}

/** A unix host: an fnmatch(3) pattern, matched case-insensitively against the path (`@name` for abstract). */
export interface UnixHost {
  family: 'unix';
  pattern: string;
}

/** A link (packet) host: ethernet protocol and/or device. */
export interface LinkHost {
  family: 'link';
  /** Ethertype number; undefined = any. */
  protocol?: number;
  /** Device name or index; undefined = any. */
  device?: string | number;
}

/** A netlink host: netlink protocol and/or port id (0 = `kernel`). */
export interface NetlinkHost {
  family: 'netlink';
  protocol?: number;
  portId?: number;
}

/** A vsock host: CID and/or port. */
export interface VsockHost {
  family: 'vsock';
  cid?: number;
  port?: number;
}

/** Any host of a `src`/`dst` condition. */
export type Host = InetHost | UnixHost | LinkHost | NetlinkHost | VsockHost;

/** A node of the expression tree. */
export type FilterExpr =
  | { kind: 'and'; items: FilterExpr[] }
  | { kind: 'or'; items: FilterExpr[] }
  | { kind: 'not'; item: FilterExpr }
  /** `src HOST` / `dst HOST`. */
  | { kind: 'host'; side: 'src' | 'dst'; host: Host }
  /** `sport OP PORT` / `dport OP PORT`. */
  | { kind: 'port'; side: 'src' | 'dst'; op: PortOp; port: number; family?: 'inet' | 'inet6' }
  /** `dev [=|!=] DEVICE` (name or index). */
  | { kind: 'dev'; op: EqOp; device: string | number }
  /** `fwmark [=|!=] MARK[/MASK]`. */
  | { kind: 'fwmark'; op: EqOp; mark: number; mask: number }
  /** `cgroup [=|!=] PATH`. */
  | { kind: 'cgroup'; op: EqOp; path: string }
  /** `autobound`. */
  | { kind: 'autobound' };

/** The words `state`/`exclude` take: a state, or one of ss's groups. */
export type StateWord = SocketState | 'all' | 'connected' | 'synchronized' | 'bucket' | 'big';

/** One `state WORD` (include) or `exclude WORD` (include: false), in the order written. */
export interface StateClause {
  include: boolean;
  word: StateWord;
}

/**
 * A whole filter: which states, and which sockets among them. As in ss, the first `state`
 * word starts from no state and the first `exclude` from all of them; later words add or
 * remove.
 */
export interface Filter {
  /** The state words in order; empty = none were given (the caller's default applies). */
  states: StateClause[];
  /** The expression; undefined = every socket. */
  expr?: FilterExpr;
}
