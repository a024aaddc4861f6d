/**
 * The filter AST evaluated in userspace on a decoded socket of any family: the fallback for
 * what the kernel cannot filter (unix, packet, netlink, vsock dumps) and the re-check after
 * an inexact kernel pre-filter.
 *
 * Semantics follow ss(8)'s `run_ssfilter`, with one deliberate exception: for inet sockets,
 * host conditions follow the kernel's hostcond (a v4 condition on an IPv6 socket matches
 * only a v4-mapped address; a v6 condition never matches an IPv4 socket), so that a program
 * compiled by `compileFilter` and this evaluator agree exactly. ss's userspace check compares
 * the raw bytes in that case, which only shows when the condition is negated.
 * @module
 */
import type { Socket } from '../diag/socket';
import type { InetSocket } from '../diag/inet';
import { parseAddressInto } from '../diag/inet/address';
import type { FilterExpr, Host, InetHost } from './ast';

/** What the evaluator needs from the system, resolved in the listed namespace. */
export interface EvaluateContext {
  /** Device name → interface index (`dev NAME`, `link:PROTO:DEV`). */
  ifindex?(name: string): number | undefined;
  /** cgroup path → cgroup v2 id (`cgroup PATH`). */
  cgroupId?(path: string): bigint | undefined;
  /**
   * The ephemeral port range `autobound` uses for inet sockets: net.ipv4.ip_local_port_range
   * of the listed namespace (`ephemeralPortRange` of lib/system/sysctl reads it). Default:
   * Linux's default, 32768–60999, what a new namespace starts with.
   */
  ephemeralPorts?: readonly [number, number];
  /**
   * Overrides ss's `autobound` rule for a socket when the caller knows better — e.g. the
   * kernel's answer (port not bound by the user), which no dump reports. Return undefined
   * to fall back to the rule.
   */
  autobound?(socket: Socket): boolean | undefined;
}

/** Linux's default net.ipv4.ip_local_port_range, which every new network namespace starts with. */
export const LINUX_EPHEMERAL_PORTS: readonly [number, number] = [32768, 60999];

function ephemeralRange(ctx: EvaluateContext | undefined): readonly [number, number] {
  return ctx?.ephemeralPorts ?? LINUX_EPHEMERAL_PORTS;
}

// Address text → 16 bytes (v4 in the first 4). Dumps repeat a few addresses: cache them.
const addrCache = new Map<string, { v6: boolean; b: Buffer }>();
function addr(text: string): { v6: boolean; b: Buffer } {
  let a = addrCache.get(text);
  if (!a) {
    const b = Buffer.alloc(16);
    a = { v6: parseAddressInto(text, b, 0) === 10, b };
    if (addrCache.size > 4096) addrCache.clear();
    addrCache.set(text, a);
  }
  return a;
}

function prefixMatch(a: Buffer, aOff: number, c: Buffer, bits: number): boolean {
  const bytes = bits >> 3;
  for (let i = 0; i < bytes; i++) if (a[aOff + i] !== c[i]) return false;
  const rest = bits & 7;
  return rest === 0 || ((a[aOff + bytes] ^ c[bytes]) & (0xff00 >> rest) & 0xff) === 0;
}

function isMapped(b: Buffer): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** The kernel's hostcond on an inet socket's address and port. */
function inetHostMatches(h: InetHost, sockV6: boolean, address: string, port: number): boolean {
  if (h.port !== undefined && h.port !== port) return false;
  if (h.address === undefined) return true;
  const cond = addr(h.address);
  const bits = h.prefixLen ?? (cond.v6 ? 128 : 32);
  const sock = addr(address);
  if (cond.v6 !== sockV6) {
    // Only a v4 condition on a v4-mapped IPv6 address can match across families.
    return sockV6 && !cond.v6 && isMapped(sock.b) && prefixMatch(sock.b, 12, cond.b, bits);
  }
  return bits === 0 || prefixMatch(sock.b, 0, cond.b, bits);
}

/**
 * fnmatch(3) with FNM_CASEFOLD and no other flag, as ss matches unix names: `*` any run
 * (slashes and leading dots included), `?` one character, `[…]` a set with ranges, `!`/`^`
 * negation and `[:class:]`, `\` quotes the next character. A `[` with no closing `]` is an
 * ordinary character.
 */
export function fnmatch(pattern: string, text: string): boolean {
  const p = [...pattern];
  const t = [...text].map((c) => c.toLowerCase());
  let pi = 0;
  let ti = 0;
  let starP = -1;
  let starT = 0;
  while (ti < t.length) {
    if (pi < p.length) {
      const c = p[pi];
      if (c === '*') {
        while (pi < p.length && p[pi] === '*') pi++;
        if (pi === p.length) return true;
        starP = pi;
        starT = ti;
        continue;
      }
      const step = matchOne(p, pi, t[ti]);
      if (step > 0) {
        pi += step;
        ti++;
        continue;
      }
    }
    // Mismatch: let the last `*` swallow one more character, or fail.
    if (starP < 0) return false;
    pi = starP;
    ti = ++starT;
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

const CLASSES: Record<string, (c: string) => boolean> = {
  alpha: (c) => /^[a-z]$/i.test(c),
  digit: (c) => /^[0-9]$/.test(c),
  alnum: (c) => /^[a-z0-9]$/i.test(c),
  upper: (c) => /^[a-z]$/i.test(c), // case-insensitive: upper and lower both mean letters
  lower: (c) => /^[a-z]$/i.test(c),
  space: (c) => /^\s$/.test(c),
  blank: (c) => c === ' ' || c === '\t',
  xdigit: (c) => /^[0-9a-f]$/i.test(c),
  punct: (c) => /^[!-/:-@[-`{-~]$/.test(c),
  print: (c) => c >= ' ' && c <= '~',
  graph: (c) => c > ' ' && c <= '~',
  cntrl: (c) => c < ' ' || c === '\x7f',
};

/** Length of the pattern element at `pi` when it matches `c` (lower case), else 0. */
function matchOne(p: string[], pi: number, c: string): number {
  const ch = p[pi];
  if (ch === '?') return 1;
  if (ch === '\\' && pi + 1 < p.length) return p[pi + 1].toLowerCase() === c ? 2 : 0;
  if (ch === '[') {
    const set = parseSet(p, pi);
    if (set) return set.test(c) ? set.len : 0;
  }
  return ch.toLowerCase() === c ? 1 : 0;
}

function parseSet(p: string[], start: number): { len: number; test(c: string): boolean } | undefined {
  let i = start + 1;
  let negate = false;
  if (p[i] === '!' || p[i] === '^') {
    negate = true;
    i++;
  }
  const tests: ((c: string) => boolean)[] = [];
  let first = true;
  while (i < p.length) {
    if (p[i] === ']' && !first) {
      const len = i + 1 - start;
      return { len, test: (c) => tests.some((f) => f(c)) !== negate };
    }
    first = false;
    if (p[i] === '[' && p[i + 1] === ':') {
      const end = p.indexOf(':', i + 2);
      if (end > 0 && p[end + 1] === ']') {
        const f = CLASSES[p.slice(i + 2, end).join('')];
        if (f) {
          tests.push(f);
          i = end + 2;
          continue;
        }
      }
    }
    let lo = p[i];
    if (lo === '\\' && i + 1 < p.length) lo = p[++i];
    i++;
    if (p[i] === '-' && i + 1 < p.length && p[i + 1] !== ']') {
      let hi = p[i + 1];
      i += 2;
      if (hi === '\\' && i < p.length) hi = p[i++];
      const l = lo;
      const h = hi;
      // Case-insensitive: either case of the character may fall in the range.
      tests.push((c) => (c >= l && c <= h) || (c.toUpperCase() >= l && c.toUpperCase() <= h));
    } else {
      const l = lo.toLowerCase();
      tests.push((c) => c === l);
    }
  }
  return undefined;
}

/** ss's `lport`/`rport` of a socket: what port conditions compare (undefined: never matches). */
function ports(s: Socket): [number, number] | undefined {
  switch (s.protocol) {
    case 'unix':
      return [s.inode, s.peerInode ?? 0];
    case 'packet':
      return [s.ifindex ?? 0, 0];
    case 'netlink':
      return [s.portId, -1];
    case 'vsock':
      return [s.local.port, s.remote.port];
    case 'tipc':
    case 'xdp':
      return undefined;
    default:
      return [s.local.port, s.remote.port];
  }
}

function isInet(s: Socket): s is InetSocket {
  return s.family === 'inet' || s.family === 'inet6';
}

function resolveDevice(device: string | number, ctx: EvaluateContext | undefined): number | undefined {
  return typeof device === 'number' ? device : ctx?.ifindex?.(device);
}

function hostMatches(side: 'src' | 'dst', h: Host, s: Socket, ctx: EvaluateContext | undefined): boolean {
  const src = side === 'src';
  switch (h.family) {
    case 'unix':
      // ss never fills the peer's name in, so `dst` matches the pattern against "".
      return s.protocol === 'unix' && fnmatch(h.pattern, src ? (s.path ?? '') : '');
    case 'link': {
      if (s.protocol !== 'packet') return false;
      if (h.device !== undefined) {
        const index = resolveDevice(h.device, ctx);
        if (index === undefined || index !== (src ? (s.ifindex ?? 0) : 0)) return false;
      }
      return h.protocol === undefined || h.protocol === (src ? s.packetProtocol : 0);
    }
    case 'netlink':
      if (s.protocol !== 'netlink') return false;
      // ss gives the remote end port -1 and protocol 0.
      if (h.portId !== undefined && h.portId !== (src ? s.portId : -1)) return false;
      return h.protocol === undefined || h.protocol === (src ? s.netlinkProtocol : 0);
    case 'vsock': {
      if (s.protocol !== 'vsock') return false;
      const end = src ? s.local : s.remote;
      if (h.port !== undefined && h.port !== end.port) return false;
      return h.cid === undefined || h.cid === end.cid;
    }
    default: {
      if (isInet(s)) {
        const end = src ? s.local : s.remote;
        return inetHostMatches(h, s.family === 'inet6', end.address, end.port);
      }
      // `*:PORT` compares ss's port of other families; an inet address never matches them.
      if (h.address !== undefined) return false;
      const p = ports(s);
      return p !== undefined && (h.port === undefined || h.port === (src ? p[0] : p[1]));
    }
  }
}

function autobound(s: Socket, ctx: EvaluateContext | undefined): boolean {
  switch (s.protocol) {
    case 'unix':
      return s.path === undefined || /^@[0-9a-f]{5}$/.test(s.path);
    case 'packet':
      return (s.ifindex ?? 0) === 0 && s.packetProtocol === 0;
    case 'netlink':
      return s.portId < 0;
    case 'vsock':
      return s.local.port > 1023;
    case 'tipc':
    case 'xdp':
      return false;
    default: {
      const [lo, hi] = ephemeralRange(ctx);
      return s.local.port >= lo && s.local.port <= hi;
    }
  }
}

function interfaceOf(s: Socket): number {
  if (isInet(s)) return s.interface;
  if (s.protocol === 'packet') return s.ifindex ?? 0;
  const x = s as { ifindex?: unknown };
  return typeof x.ifindex === 'number' ? x.ifindex : 0;
}

/**
 * Whether `socket` satisfies `expr`, for every family:
 *
 * - inet `src`/`dst`: address with prefix (kernel hostcond rules, v4-mapped included) and port;
 *   unix: fnmatch, case-insensitive, on the path (`@name` for abstract; "" when unnamed);
 *   link: ethertype and device; netlink: protocol and port id; vsock: CID and port. A host of
 *   another family than the socket's never matches (ss lists only that family).
 * - `sport`/`dport`: ss's ports — inet/vsock ports, unix inode/peer inode, packet ifindex,
 *   netlink port id (remote: -1).
 * - `autobound`: ss's rule — inet: local port in the ephemeral range; unix: unnamed or
 *   `@xxxxx`; packet: no protocol and no device; netlink: negative port id; vsock: port > 1023.
 * - `dev`: interface index (inet bound device, packet ifindex); `fwmark`: `(mark & mask) ==
 *   value`; `cgroup`: cgroup v2 id. Sockets without a mark/cgroup count as 0. A device or
 *   cgroup that `ctx` cannot resolve matches no socket.
 */
export function matchesFilter(expr: FilterExpr, socket: Socket, ctx?: EvaluateContext): boolean {
  switch (expr.kind) {
    case 'and':
      return expr.items.every((e) => matchesFilter(e, socket, ctx));
    case 'or':
      return expr.items.some((e) => matchesFilter(e, socket, ctx));
    case 'not':
      return !matchesFilter(expr.item, socket, ctx);
    case 'host':
      return hostMatches(expr.side, expr.host, socket, ctx);
    case 'port': {
      const p = ports(socket);
      if (p === undefined) return false;
      const v = expr.side === 'src' ? p[0] : p[1];
      switch (expr.op) {
        case '=':
          return v === expr.port;
        case '!=':
          return v !== expr.port;
        case '<':
          return v < expr.port;
        case '<=':
          return v <= expr.port;
        case '>':
          return v > expr.port;
        case '>=':
          return v >= expr.port;
      }
      return false;
    }
    case 'autobound':
      return ctx?.autobound?.(socket) ?? autobound(socket, ctx);
    case 'dev': {
      const index = resolveDevice(expr.device, ctx);
      const eq = index !== undefined && index === interfaceOf(socket);
      return expr.op === '=' ? eq : !eq;
    }
    case 'fwmark': {
      const mark = isInet(socket) ? (socket.mark ?? 0) : 0;
      const eq = ((mark & expr.mask) >>> 0) === expr.mark >>> 0;
      return expr.op === '=' ? eq : !eq;
    }
    case 'cgroup': {
      const id = ctx?.cgroupId?.(expr.path);
      const own = isInet(socket) ? (socket.cgroupId ?? 0n) : 0n;
      const eq = id !== undefined && id === own;
      return expr.op === '=' ? eq : !eq;
    }
  }
  return false;
}
