/**
 * The name tables `ss` prints with: ethertypes (packet sockets), netlink protocols,
 * IP protocols (raw sockets' "port") and services, read the way iproute2 6.1 and glibc's
 * files backend read them.
 * @module
 */
import { readFileSync } from 'node:fs';

/** iproute2's `llproto_names`, in its order (the first entry for a number wins). */
const LINK_PROTOCOL_NAMES: ReadonlyArray<readonly [number, string]> = [
  [0x0060, 'loop'], [0x0200, 'pup'], [0x0201, 'pupat'], [0x0800, 'ip'], [0x0805, 'x25'], [0x0806, 'arp'],
  [0x08ff, 'bpq'], [0x0a00, 'ieeepup'], [0x0a01, 'ieeepupat'], [0x6000, 'dec'], [0x6001, 'dna_dl'],
  [0x6002, 'dna_rc'], [0x6003, 'dna_rt'], [0x6004, 'lat'], [0x6005, 'diag'], [0x6006, 'cust'], [0x6007, 'sca'],
  [0x8035, 'rarp'], [0x809b, 'atalk'], [0x80f3, 'aarp'], [0x8137, 'ipx'], [0x86dd, 'ipv6'], [0x8863, 'ppp_disc'],
  [0x8864, 'ppp_ses'], [0x884c, 'atmmpoa'], [0x8884, 'atmfate'], [0x0001, '802_3'], [0x0002, 'ax25'],
  [0x0003, 'all'], [0x0004, '802_2'], [0x0005, 'snap'], [0x0006, 'ddcmp'], [0x0007, 'wan_ppp'],
  [0x0008, 'ppp_mp'], [0x0009, 'localtalk'], [0x000c, 'can'], [0x0010, 'ppptalk'], [0x0011, 'tr_802_2'],
  [0x0015, 'mobitex'], [0x0016, 'control'], [0x0017, 'irda'], [0x0018, 'econet'], [0x88ca, 'tipc'],
  [0x8892, 'profinet'], [0x88a2, 'aoe'], [0x88a4, 'ethercat'], [0x8100, '802.1Q'], [0x88a8, '802.1ad'],
  [0x8847, 'mpls_uc'], [0x8848, 'mpls_mc'], [0x6558, 'teb'], [0x88cc, 'LLDP'],
];
const LINK_BY_NUMBER = new Map<number, string>();
for (const [n, name] of LINK_PROTOCOL_NAMES) if (!LINK_BY_NUMBER.has(n)) LINK_BY_NUMBER.set(n, name);

/** ss's `ll_proto_n2a`: an ethertype's name, or `[N]` (decimal) when unknown or with `-n`. */
export function linkProtocolName(ethertype: number, numeric: boolean): string {
  const name = numeric ? undefined : LINK_BY_NUMBER.get(ethertype);
  return name ?? `[${ethertype}]`;
}

/** iproute2's built-in netlink protocol names (rt_names.c), before the nl_protos file. */
const NETLINK_PROTOCOL_NAMES: ReadonlyArray<readonly [number, string]> = [
  [0, 'rtnl'], [1, 'unused'], [2, 'usersock'], [3, 'fw'], [4, 'tcpdiag'], [5, 'nflog'], [6, 'xfrm'],
  [7, 'selinux'], [8, 'iscsi'], [9, 'audit'], [10, 'fiblookup'], [11, 'connector'], [12, 'nft'],
  [13, 'ip6fw'], [14, 'dec-rt'], [15, 'uevent'], [16, 'genl'], [18, 'scsi-trans'], [19, 'ecryptfs'],
  [20, 'rdma'], [21, 'crypto'],
];

/** Where iproute2 6.1 (Debian's build) reads `nl_protos`. */
export const NL_PROTOS_FILE = '/etc/iproute2/nl_protos';

let netlinkNames: Map<number, string> | undefined;

/** `ID NAME` lines (decimal or 0x hex ids, `#` comments), as rt_names.c's fread_id_name reads them. */
function readIdNames(path: string, into: Map<number, string>, size: number): void {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch {
    return;
  }
  for (const raw of text.split('\n')) {
    const line = raw.replace(/^[ \t]+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(0x[0-9a-fA-F]+|-?\d+)\s+(\S+)/.exec(line);
    // iproute2 stops reading a corrupted file at the first bad line.
    if (!m) return;
    const id = m[1].startsWith('0x') ? parseInt(m[1].slice(2), 16) : parseInt(m[1], 10);
    if (id < 0 || id > size) continue;
    into.set(id, m[2]);
  }
}

/** ss's `nl_proto_n2a`: the netlink protocol's name (nl_protos file over the built-in table), or its number. */
export function netlinkProtocolName(protocol: number, numeric: boolean): string {
  if (numeric || protocol < 0 || protocol >= 256) return String(protocol);
  if (netlinkNames === undefined) {
    netlinkNames = new Map(NETLINK_PROTOCOL_NAMES);
    readIdNames(NL_PROTOS_FILE, netlinkNames, 256);
  }
  return netlinkNames.get(protocol) ?? String(protocol);
}

interface ServiceEntry {
  name: string;
  port: number;
  proto: string;
}

let services: { byPortProto: Map<string, string>; byPort: Map<number, string> } | undefined;

/** /etc/services, as glibc's files backend scans it: the first line for a port (and protocol) wins. */
function loadServices(): NonNullable<typeof services> {
  const byPortProto = new Map<string, string>();
  const byPort = new Map<number, string>();
  let text = '';
  try {
    text = readFileSync('/etc/services', 'latin1');
  } catch {
    text = '';
  }
  for (const line of text.split('\n')) {
    const body = line.replace(/#.*/, '').trim();
    if (!body) continue;
    const [name, portProto] = body.split(/\s+/);
    const m = /^(\d+)\/(\S+)$/.exec(portProto ?? '');
    if (!m) continue;
    const e: ServiceEntry = { name, port: Number(m[1]), proto: m[2] };
    const key = `${e.port}/${e.proto}`;
    if (!byPortProto.has(key)) byPortProto.set(key, e.name);
    if (!byPort.has(e.port)) byPort.set(e.port, e.name);
  }
  return { byPortProto, byPort };
}

/** `getservbyport(port, proto)`: the service name, or undefined; `proto` undefined matches any protocol. */
export function serviceByPort(port: number, proto: string | undefined): string | undefined {
  services ??= loadServices();
  return proto === undefined ? services.byPort.get(port) : services.byPortProto.get(`${port}/${proto}`);
}

let protocols: Map<number, string> | undefined;

/** ss's `inet_proto_n2a` (raw sockets show their IP protocol as the port): /etc/protocols, else `ipproto-N`. */
export function ipProtocolName(protocol: number): string {
  if (protocols === undefined) {
    protocols = new Map();
    let text = '';
    try {
      text = readFileSync('/etc/protocols', 'latin1');
    } catch {
      text = '';
    }
    for (const line of text.split('\n')) {
      const [name, num] = line.replace(/#.*/, '').trim().split(/\s+/);
      if (!name || num === undefined || !/^\d+$/.test(num)) continue;
      if (!protocols.has(Number(num))) protocols.set(Number(num), name);
    }
  }
  return protocols.get(protocol) ?? `ipproto-${protocol}`;
}
