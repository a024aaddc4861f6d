/**
 * The values of the filter language — states, hosts, ports, marks, devices, cgroup paths —
 * parsed and checked by one set of rules that the text parser and the typed builder share.
 * Failures throw {@link BadValue}; the caller turns it into a positioned `FilterValueError`.
 * @module
 */
import { readFileSync, statSync } from 'node:fs';
import type { SocketState } from '../diag/constants';
import { STATE_NUMBERS } from '../diag/constants';
import { formatIPv6, parseAddressInto } from '../diag/inet/address';
import type { FilterExpr, Host, HostFamily, InetHost, StateWord } from './ast';

/** A rejected value: `reason` says why; `offset` is where in the value text the problem is. */
export class BadValue extends Error {
  /** Offset of the problem inside the value text (0 = the value's start). */
  offset: number;
  /** Creates it. @param reason why the value is rejected. */
  constructor(reason: string, offset = 0) {
    super(reason);
    this.offset = offset;
  }
}

/**
 * The names a filter may contain that only the system can turn into numbers. The default
 * ({@link filesResolver}) reads /etc/hosts, /etc/services and /etc/iproute2/nl_protos.
 */
export interface FilterNameResolver {
  /**
   * Addresses of a host name as text, IPv4 ones first; `family` restricts them to one
   * version. An empty list means the name is unknown.
   */
  hostAddresses(name: string, family: 'inet' | 'inet6' | undefined): string[];
  /** The tcp and udp ports of a service name (either may be missing). */
  servicePorts(name: string): { tcp?: number; udp?: number };
  /** The number of a netlink protocol name (`rtnl`, `tcpdiag`, …), or undefined. */
  netlinkProtocol(name: string): number | undefined;
}

// ---------------------------------------------------------------------------------------
// Numbers, as strtoul(…, 0) reads them (ss accepts 0x hex and 0-prefixed octal everywhere).

/** An unsigned C integer in base 0 (decimal, `0x` hex, `0` octal), or undefined if the text is not one. */
export function cNumber(text: string): number | undefined {
  let m = /^0[xX]([0-9a-fA-F]+)$/.exec(text);
  if (m) return parseInt(m[1], 16);
  m = /^0([0-7]*)$/.exec(text);
  if (m) return m[1] === '' ? 0 : parseInt(m[1], 8);
  if (/^[1-9][0-9]*$/.test(text)) return Number(text);
  return undefined;
}

function u32(text: string, what: string): number {
  const n = cNumber(text);
  if (n === undefined) throw new BadValue(`${what} must be a number (decimal, 0x hex or 0 octal)`);
  if (n > 0xffffffff) throw new BadValue(`${what} ${text} is out of range (0-4294967295)`);
  return n;
}

// ---------------------------------------------------------------------------------------
// States.

const STATE_GROUPS = new Set(['all', 'connected', 'synchronized', 'bucket', 'big']);

/**
 * The canonical word of a state name as ss reads it: case-insensitive, with ss's aliases
 * (`close`/`unconnected` → `closed`, `syn-rcv` → `syn-recv`). `new-syn-recv` is refused, as
 * ss refuses it: it is a kernel detail no user socket is ever in.
 */
export function stateWord(text: string): StateWord {
  const w = text.toLowerCase();
  if (w === 'close' || w === 'unconnected') return 'closed';
  if (w === 'syn-rcv') return 'syn-recv';
  if (STATE_GROUPS.has(w)) return w as StateWord;
  if (w !== 'new-syn-recv' && Object.prototype.hasOwnProperty.call(STATE_NUMBERS, w)) return w as SocketState;
  throw new BadValue(`unknown state name '${text}'`);
}

// ---------------------------------------------------------------------------------------
// Ports.

const MAX_PORT = 65535;

/** A port number check shared by every form (`:22`, `{ port: 22 }`, `dport.eq(22)`). */
export function checkPort(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > MAX_PORT) throw new BadValue(`port ${n} is out of range (0-${MAX_PORT})`);
  return n;
}

/**
 * A port written as a number or a service name. Names are looked up for tcp and udp as ss
 * does with its default tables: a name both know with different ports is ambiguous.
 */
export function portNumber(text: string, resolver: FilterNameResolver): number {
  if (/^[+-]?\d/.test(text)) {
    const neg = text.startsWith('-');
    const n = cNumber(text.replace(/^[+-]/, ''));
    if (n === undefined) throw new BadValue(`'${text}' is not a port number`);
    if (neg && n !== 0) throw new BadValue(`port -${n} is out of range (0-${MAX_PORT})`);
    return checkPort(n);
  }
  const { tcp, udp } = resolver.servicePorts(text);
  if (tcp !== undefined && udp !== undefined && tcp !== udp) throw new BadValue(`service '${text}' is ambiguous (tcp ${tcp}, udp ${udp})`);
  const port = tcp ?? udp;
  if (port === undefined) throw new BadValue(`'${text}' is neither a port number nor a service name in /etc/services`);
  return port;
}

// ---------------------------------------------------------------------------------------
// Inet addresses.

/** An IPv4 address as iproute2 reads it: one to four base-0 parts, missing ones zero (`193.233.7` = 193.233.7.0). */
function ipv4(text: string): string | undefined {
  const parts = text.split('.');
  if (parts.length > 4) return undefined;
  const bytes = [0, 0, 0, 0];
  for (let i = 0; i < parts.length; i++) {
    const n = cNumber(parts[i]);
    if (n === undefined || n > 255) return undefined;
    bytes[i] = n;
  }
  return bytes.join('.');
}

/** The inet_ntop text of an address literal, its family, or undefined when it is not a literal. */
export function addressLiteral(text: string): { family: 'inet' | 'inet6'; address: string } | undefined {
  if (text.includes(':')) {
    const b = Buffer.alloc(16);
    try {
      parseAddressInto(text, b, 0);
    } catch {
      return undefined;
    }
    return { family: 'inet6', address: formatIPv6(b, 0) };
  }
  const v4 = /^[0-9a-fA-FxX.]+$/.test(text) ? ipv4(text) : undefined;
  return v4 === undefined ? undefined : { family: 'inet', address: v4 };
}

/** A prefix length: a number, or (as iproute2 allows) a dotted netmask with contiguous bits. */
function prefixLength(text: string, bits: number): number {
  let n = cNumber(text);
  if (n === undefined) {
    const mask = text.includes('.') ? ipv4(text) : undefined;
    if (mask !== undefined) {
      const v = mask.split('.').reduce((acc, p) => acc * 256 + Number(p), 0);
      const host = 0xffffffff - v;
      // A netmask is ones then zeros: its complement plus one is a power of two.
      if ((host & (host + 1)) === 0) n = 32 - Math.log2(host + 1);
    }
  }
  if (n === undefined) throw new BadValue(`'${text}' is not a prefix length`);
  if (n > bits) throw new BadValue(`prefix length ${n} is out of range (0-${bits})`);
  return n;
}

const HOST_NAME = /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;

/**
 * The addresses an inet ADDRESS[/PREFIX] denotes: a literal, or a host name's addresses.
 * `family` restricts the version; `any`, `all` and `default` mean any address, as in iproute2.
 */
function inetAddresses(text: string, family: 'inet' | 'inet6' | undefined, resolver: FilterNameResolver): Array<{ address?: string; prefixLen?: number }> {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  if (addrText === 'any' || addrText === 'all' || addrText === 'default') {
    if (slash >= 0) throw new BadValue(`'${addrText}' takes no prefix length`, slash);
    return [{}];
  }
  const lit = addressLiteral(addrText);
  if (lit) {
    if (family !== undefined && lit.family !== family) throw new BadValue(`an ${family} address is expected rather than '${addrText}'`);
    if (slash < 0) return [{ address: lit.address }];
    try {
      return [{ address: lit.address, prefixLen: prefixLength(text.slice(slash + 1), lit.family === 'inet' ? 32 : 128) }];
    } catch (e) {
      if (e instanceof BadValue) e.offset = slash + 1;
      throw e;
    }
  }
  if (slash >= 0 || !HOST_NAME.test(addrText) || /^[0-9.]+$/.test(addrText)) {
    throw new BadValue(`'${addrText}' is not ${family === 'inet6' ? 'an IPv6' : family === 'inet' ? 'an IPv4' : 'an IP'} address`);
  }
  const found = resolver.hostAddresses(addrText, family);
  if (found.length === 0) {
    throw new BadValue(`host name '${addrText}' is not in /etc/hosts (names are resolved from /etc/hosts only, never by DNS; write the address)`);
  }
  return found.map((a) => {
    const l = addressLiteral(a);
    if (!l) throw new BadValue(`host name '${addrText}' resolved to '${a}', which is not an address`);
    return { address: l.address };
  });
}

// ---------------------------------------------------------------------------------------
// Hosts of every family.

const FAMILY_PREFIXES: ReadonlyArray<[string, HostFamily]> = [
  ['unix:', 'unix'],
  ['link:', 'link'],
  ['netlink:', 'netlink'],
  ['vsock:', 'vsock'],
  ['inet:', 'inet'],
  ['inet6:', 'inet6'],
];

/** Splits off a `FAMILY:` prefix (case-sensitive, as ss); `skip` is its length. */
export function familyPrefix(text: string): { family?: HostFamily; skip: number } {
  for (const [p, family] of FAMILY_PREFIXES) if (text.startsWith(p)) return { family, skip: p.length };
  return { skip: 0 };
}

/** Re-bases a BadValue thrown while reading a part of the value that starts at `at`. */
function at<T>(offset: number, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof BadValue) e.offset += offset;
    throw e;
  }
}

/** Ethernet protocol names of ss's table (case-insensitive) and their ethertypes. */
export const LINK_PROTOCOLS: ReadonlyArray<readonly [string, number]> = [
  ['loop', 0x0060], ['pup', 0x0200], ['pupat', 0x0201], ['ip', 0x0800], ['x25', 0x0805], ['arp', 0x0806],
  ['bpq', 0x08ff], ['ieeepup', 0x0a00], ['ieeepupat', 0x0a01], ['dec', 0x6000], ['dna_dl', 0x6001],
  ['dna_rc', 0x6002], ['dna_rt', 0x6003], ['lat', 0x6004], ['diag', 0x6005], ['cust', 0x6006], ['sca', 0x6007],
  ['rarp', 0x8035], ['atalk', 0x809b], ['aarp', 0x80f3], ['ipx', 0x8137], ['ipv6', 0x86dd], ['ppp_disc', 0x8863],
  ['ppp_ses', 0x8864], ['atmmpoa', 0x884c], ['atmfate', 0x8884], ['802_3', 0x0001], ['ax25', 0x0002],
  ['all', 0x0003], ['802_2', 0x0004], ['snap', 0x0005], ['ddcmp', 0x0006], ['wan_ppp', 0x0007],
  ['ppp_mp', 0x0008], ['localtalk', 0x0009], ['can', 0x000c], ['ppptalk', 0x0010], ['tr_802_2', 0x0011],
  ['mobitex', 0x0015], ['control', 0x0016], ['irda', 0x0017], ['econet', 0x0018], ['tipc', 0x88ca],
  ['profinet', 0x8892], ['aoe', 0x88a2], ['ethercat', 0x88a4], ['802.1q', 0x8100], ['802.1ad', 0x88a8],
  ['mpls_uc', 0x8847], ['mpls_mc', 0x8848], ['teb', 0x6558], ['cfm', 0x8902], ['lldp', 0x88cc], ['ipv4', 0x0800],
];

/** An ethertype: a name of {@link LINK_PROTOCOLS} or a number up to 0xffff. */
export function linkProtocol(text: string): number {
  const lower = text.toLowerCase();
  const named = LINK_PROTOCOLS.find(([n]) => n === lower);
  if (named) return named[1];
  const n = cNumber(text);
  if (n === undefined) throw new BadValue(`unknown link protocol '${text}' (a name such as ip, ipv6, arp, all, or a number)`);
  if (n > 0xffff) throw new BadValue(`link protocol ${text} is out of range (0-0xffff)`);
  return n;
}

/**
 * A device: an index (base-0 number, as ss's fallback reads it) or a name. Names are kept as
 * text — the caller resolves them in the namespace being listed — but must be possible
 * interface names.
 */
export function deviceValue(text: string): string | number {
  if (cNumber(text) !== undefined) return u32(text, 'device index');
  if (text.length > 15) throw new BadValue(`device name '${text}' is longer than 15 characters`);
  if (text === '' || text === '.' || text === '..' || /[/:\s]/.test(text)) throw new BadValue(`'${text}' is not a device name`);
  return text;
}

/** `MARK` or `MARK/MASK`, each an unsigned 32-bit number (base 0); the mask defaults to all ones. */
export function markValue(text: string): { mark: number; mask: number } {
  const slash = text.indexOf('/');
  if (slash < 0) return { mark: u32(text, 'mark'), mask: 0xffffffff };
  const mark = u32(text.slice(0, slash), 'mark');
  return { mark, mask: at(slash + 1, () => u32(text.slice(slash + 1), 'mask')) };
}

/** A cgroup path: any non-empty text (resolved to a cgroup v2 id by the caller). */
export function cgroupValue(text: string): string {
  if (text === '' || text.includes('\0')) throw new BadValue('a cgroup path must be non-empty text');
  return text;
}

/** Splits `A:B` at the first colon (ss's find_port for link/netlink/vsock); `portMode` makes the whole text the port. */
function splitFirst(text: string, portMode: boolean): { addr: string; port?: string; portAt: number } {
  if (portMode) return text.startsWith(':') ? { addr: '', port: text.slice(1), portAt: 1 } : { addr: '', port: text, portAt: 0 };
  const c = text.indexOf(':');
  return c < 0 ? { addr: text, portAt: 0 } : { addr: text.slice(0, c), port: text.slice(c + 1), portAt: c + 1 };
}

const anyPart = (s: string | undefined): boolean => s === undefined || s === '' || s === '*';

/**
 * The hosts a HOST text denotes (`[FAMILY:]ADDRESS[:PORT]`); several when a host name has
 * several addresses. `portMode` reads the text as `dport`/`sport` do: all of it is the port.
 */
export function hostValues(text: string, defaultFamily: HostFamily | undefined, portMode: boolean, resolver: FilterNameResolver): Host[] {
  const pre = familyPrefix(text);
  const family = pre.family ?? defaultFamily;
  const rest = text.slice(pre.skip);
  return at(pre.skip, () => hostOfFamily(rest, family, portMode, resolver));
}

function hostOfFamily(text: string, family: HostFamily | undefined, portMode: boolean, resolver: FilterNameResolver): Host[] {
  switch (family) {
    case 'unix':
      return [{ family: 'unix', pattern: text }];
    case 'link': {
      const { addr, port, portAt } = splitFirst(text, portMode);
      const h: Host = { family: 'link' };
      if (!anyPart(addr)) h.protocol = linkProtocol(addr);
      if (!anyPart(port)) h.device = at(portAt, () => deviceValue(port as string));
      return [h];
    }
    case 'netlink': {
      const { addr, port, portAt } = splitFirst(text, portMode);
      const h: Host = { family: 'netlink' };
      if (!anyPart(addr)) {
        const n = resolver.netlinkProtocol(addr) ?? cNumber(addr);
        if (n === undefined || n > 255) throw new BadValue(`unknown netlink protocol '${addr}' (a name from /etc/iproute2/nl_protos or 0-255)`);
        h.protocol = n;
      }
      if (!anyPart(port)) h.portId = port === 'kernel' ? 0 : at(portAt, () => u32(port as string, 'netlink port id'));
      return [h];
    }
    case 'vsock': {
      const { addr, port, portAt } = splitFirst(text, portMode);
      const h: Host = { family: 'vsock' };
      if (!anyPart(addr)) h.cid = u32(addr, 'vsock CID');
      // ss reads an empty port after the colon as a number and fails; so do we.
      if (port !== undefined && port !== '*') h.port = at(portAt, () => u32(port, 'vsock port'));
      return [h];
    }
    default:
      return inetHosts(text, family, portMode, resolver);
  }
}

function inetHosts(text: string, family: 'inet' | 'inet6' | undefined, portMode: boolean, resolver: FilterNameResolver): InetHost[] {
  let addr: string | undefined;
  let port: string | undefined;
  let portAt = 0;
  if (portMode) {
    [port, portAt] = text.startsWith(':') ? [text.slice(1), 1] : [text, 0];
  } else if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw new BadValue("missing ']' after the IPv6 address");
    addr = text.slice(1, close);
    const after = text.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) throw new BadValue("expected ':PORT' after ']' (a prefix goes inside the brackets: [::1/64])", close + 1);
    if (after !== '') [port, portAt] = [after.slice(1), close + 2];
  } else if (text.startsWith('*')) {
    if (text !== '*' && !text.startsWith('*:')) throw new BadValue("expected ':PORT' after '*'", 1);
    if (text !== '*') [port, portAt] = [text.slice(2), 2];
  } else {
    // The port follows the last colon, but only after a prefix's slash (so ::1/128 has none).
    const slash = text.indexOf('/');
    const colon = text.lastIndexOf(':');
    if (colon > slash) [addr, port, portAt] = [text.slice(0, colon), text.slice(colon + 1), colon + 1];
    else addr = text;
  }
  const base: InetHost = { family };
  if (!anyPart(port)) base.port = at(portAt, () => portNumber(port as string, resolver));
  const addrAt = text.startsWith('[') ? 1 : 0;
  if (anyPart(addr)) return [base];
  const addrs = at(addrAt, () => inetAddresses(addr as string, family, resolver));
  return addrs.map((a) => {
    const h: InetHost = { family };
    if (a.address !== undefined) h.address = a.address;
    if (a.prefixLen !== undefined) h.prefixLen = a.prefixLen;
    if (base.port !== undefined) h.port = base.port;
    return h;
  });
}

/** Several hosts of one condition match when any matches: an `or` of host conditions, as ss chains them. */
export function hostExpr(side: 'src' | 'dst', hosts: Host[]): FilterExpr {
  const items: FilterExpr[] = hosts.map((host) => ({ kind: 'host', side, host }));
  return items.length === 1 ? items[0] : { kind: 'or', items };
}

// ---------------------------------------------------------------------------------------
// The default resolver: files only (Node has no synchronous DNS, and a parser must not block).

const NETLINK_PROTOCOLS: ReadonlyArray<readonly [number, string]> = [
  [0, 'rtnl'], [1, 'unused'], [2, 'usersock'], [3, 'fw'], [4, 'tcpdiag'], [5, 'nflog'], [6, 'xfrm'],
  [7, 'selinux'], [8, 'iscsi'], [9, 'audit'], [10, 'fiblookup'], [11, 'connector'], [12, 'nft'],
  [13, 'ip6fw'], [14, 'dec-rt'], [15, 'uevent'], [16, 'genl'], [18, 'scsi-trans'], [19, 'ecryptfs'],
  [20, 'rdma'], [21, 'crypto'],
];

const fileCache = new Map<string, { mtimeMs: number; value: unknown }>();
/** Reads and parses a file, again only when its mtime changes; undefined when unreadable. */
function cachedFile<T>(path: string, parse: (text: string) => T): T | undefined {
  let mtimeMs: number;
  try {
    mtimeMs = statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
  const hit = fileCache.get(path);
  if (hit && hit.mtimeMs === mtimeMs) return hit.value as T;
  let value: T;
  try {
    value = parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
  fileCache.set(path, { mtimeMs, value });
  return value;
}

function lines(text: string): string[][] {
  return text.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter((l) => l !== '').map((l) => l.split(/\s+/));
}

/** Paths the default resolver reads. */
export interface ResolverFiles {
  /** Default `/etc/hosts`. */
  hosts?: string;
  /** Default `/etc/services`. */
  services?: string;
  /** Default `/etc/iproute2/nl_protos`, then `/usr/lib/iproute2/nl_protos`, then `/usr/share/iproute2/nl_protos`. */
  nlProtos?: string[];
}

/**
 * A resolver that reads the usual files: host names from /etc/hosts (case-insensitive, every
 * matching line, as glibc's files backend), services from /etc/services, netlink protocol
 * names from the nl_protos file over ss's built-in table. It never queries DNS.
 */
export function filesResolver(files: ResolverFiles = {}): FilterNameResolver {
  const hostsPath = files.hosts ?? '/etc/hosts';
  const servicesPath = files.services ?? '/etc/services';
  const nlPaths = files.nlProtos ?? ['/etc/iproute2/nl_protos', '/usr/lib/iproute2/nl_protos', '/usr/share/iproute2/nl_protos'];
  return {
    hostAddresses(name, family) {
      const table = cachedFile(hostsPath, (t) => lines(t)) ?? [];
      const v4: string[] = [];
      const v6: string[] = [];
      for (const [addr, ...names] of table) {
        if (!names.some((n) => n.toLowerCase() === name.toLowerCase())) continue;
        const lit = addressLiteral(addr);
        if (!lit) continue;
        const list = lit.family === 'inet' ? v4 : v6;
        if (!list.includes(lit.address)) list.push(lit.address);
      }
      return family === 'inet' ? v4 : family === 'inet6' ? v6 : [...v4, ...v6];
    },
    servicePorts(name) {
      const table =
        cachedFile(servicesPath, (t) => {
          const m = new Map<string, { tcp?: number; udp?: number }>();
          for (const [service, portProto, ...aliases] of lines(t)) {
            const pp = /^(\d+)\/(tcp|udp)$/.exec(portProto ?? '');
            if (!pp) continue;
            for (const n of [service, ...aliases]) {
              const e = m.get(n) ?? {};
              // The first line wins, as getservbyname's linear scan.
              if (e[pp[2] as 'tcp' | 'udp'] === undefined) e[pp[2] as 'tcp' | 'udp'] = Number(pp[1]);
              m.set(n, e);
            }
          }
          return m;
        }) ?? new Map();
      return table.get(name) ?? {};
    },
    netlinkProtocol(name) {
      const byId = new Map<number, string>(NETLINK_PROTOCOLS.map(([id, n]) => [id, n]));
      for (const p of nlPaths) {
        const entries = cachedFile(p, (t) => lines(t));
        if (entries === undefined) continue;
        for (const [id, n] of entries) {
          const num = cNumber(id);
          if (num !== undefined && num < 256 && n !== undefined) byId.set(num, n);
        }
        break;
      }
      for (const [id, n] of byId) if (n === name) return id;
      return undefined;
    },
  };
}

/** The resolver used when none is given. */
export const defaultResolver: FilterNameResolver = filesResolver();
