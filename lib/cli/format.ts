/**
 * One socket → one row of ss's text output: each cell holds exactly the bytes iproute2 6.1's
 * `ss` writes into that column (addresses with their delimiter, `%dev`, service and host
 * names, `*` wildcards); everything after the peer comes from {@link socketDetails}.
 * @module
 */
import type { Socket } from '../diag/socket';
import type { ProtocolName, SocketState } from '../diag/constants';
import type { InetSocket } from '../diag/inet';
import type { NetlinkSocket } from '../diag/netlink';
import type { PacketSocket } from '../diag/packet';
import type { Row } from './table';
import { socketDetails } from './details';
import { ipProtocolName, linkProtocolName, netlinkProtocolName, serviceByPort } from './names';
import { ownPortRange } from '../proc/sysctl';
import { readFileSync } from 'node:fs';

/** What the row formatter needs from the command line. Flags not given are off. */
export interface FormatOptions {
  /** -n: numeric ports, ethertypes, netlink protocols and processes; exact integer rates. */
  numeric: boolean;
  /** -r: host names for addresses (looked up beforehand into {@link FormatOptions.hostNames}). */
  resolve?: boolean;
  /** -p: users:((…)). */
  processes: boolean;
  /** -T: users:((…)) with the thread id of each holder. */
  threads?: boolean;
  /** -e: uid, inode, cookie, v6only, shutdown, and per-family details. */
  extended: boolean;
  /** -m: socket memory. */
  memory?: boolean;
  /** -i: the TCP/MPTCP information line. */
  info?: boolean;
  /** -o: timers (ss also shows them with -e and -b). */
  options?: boolean;
  /** -Z: process security contexts. */
  selinuxProcess?: boolean;
  /** -z: process and socket security contexts. */
  selinuxSocket?: boolean;
  /** --tos: tos, tclass, class_id. */
  tos?: boolean;
  /** --cgroup: the cgroup path. */
  cgroup?: boolean;
  /** --inet-sockopt: inet socket option flags. */
  inetSockopt?: boolean;
  /** -b: the classic BPF filter of packet sockets. */
  bpf?: boolean;
  /** --bpf-maps (not in ss 6.1, which rejects it; nothing is printed for it). */
  bpfMaps?: boolean;
  /** --bpf-map-id (not in ss 6.1; nothing is printed for it). */
  bpfMapIds?: readonly number[];
  /** --tipcinfo: TIPC socket details. */
  tipcinfo?: boolean;
  /** -O: one line per socket (details that ss puts on a new line are joined with a space). */
  oneline?: boolean;
  /** Interface index → name in the listed namespace (`%dev` after bound addresses, packet/xdp devices). */
  ifnames?: ReadonlyMap<number, string>;
  /** -r: address (as the socket has it) → host name; addresses missing print as numbers. */
  hostNames?: ReadonlyMap<string, string>;
  /** cgroup id → path (see `cgroupPathResolver`); default: one built on first use. */
  cgroupPath?: (id: bigint) => string;
  /**
   * The socket tables being listed. ss names MPTCP/SCTP/DCCP ports with the protocol of the
   * last of raw, udp and tcp it listed before them (any protocol when none): tcp by default.
   */
  tables?: ReadonlySet<ProtocolName>;
  /** Ports ss never names (default: this namespace's ip_local_port_range). */
  ephemeralPorts?: readonly [number, number];
}

/** ss's upper-case state names. */
export const STATE_LABELS: Readonly<Record<SocketState, string>> = {
  unknown: 'UNKNOWN',
  established: 'ESTAB',
  'syn-sent': 'SYN-SENT',
  'syn-recv': 'SYN-RECV',
  'fin-wait-1': 'FIN-WAIT-1',
  'fin-wait-2': 'FIN-WAIT-2',
  'time-wait': 'TIME-WAIT',
  closed: 'UNCONN',
  'close-wait': 'CLOSE-WAIT',
  'last-ack': 'LAST-ACK',
  listening: 'LISTEN',
  closing: 'CLOSING',
  'new-syn-recv': 'NEW-SYN-RECV',
  'bound-inactive': 'BOUND-INACTIVE',
};

/** ss's proto_name for inet sockets; raw sockets show their INET_DIAG_PROTOCOL, if any. */
function inetNetid(s: InetSocket): string {
  if (s.protocol !== 'raw') return s.protocol === 'udplite' ? '???' : s.protocol;
  const n = s.protocolNumber ?? 255;
  return n === 0 ? 'raw' : n === 17 ? 'udp' : n === 6 ? 'tcp' : n === 58 ? 'icmp6' : '???';
}

/** The Netid column of a socket (`tcp`, `u_str`, `p_raw`, `nl`, …). */
export function netid(s: Socket): string {
  switch (s.protocol) {
    case 'unix':
      return s.type === 'stream' ? 'u_str' : s.type === 'seqpacket' ? 'u_seq' : 'u_dgr';
    case 'packet':
      return s.type === 'raw' ? 'p_raw' : 'p_dgr';
    case 'netlink':
      return 'nl';
    case 'vsock':
      return s.type === 'stream' ? 'v_str' : s.type === 'dgram' ? 'v_dgr' : '???';
    case 'tipc':
      return s.type === 'stream' ? 'ti_st' : s.type === 'dgram' ? 'ti_dg' : s.type === 'rdm' ? 'ti_rd' : s.type === 'seqpacket' ? 'ti_sq' : '???';
    case 'xdp':
      return 'xdp';
    default:
      return inetNetid(s);
  }
}

/** ss's ll_index_to_name. */
function ifname(index: number, o: FormatOptions): string {
  return o.ifnames?.get(index) ?? `if${index}`;
}

/** The protocol ss resolves a port's service name with (its dg_proto); undefined = any. */
function serviceProtocol(s: InetSocket, o: FormatOptions): string | undefined {
  switch (s.protocol) {
    case 'tcp':
      return 'tcp';
    case 'udp':
    case 'udplite':
      return 'udp';
    case 'raw':
      return 'raw';
    default: {
      const t = o.tables;
      if (!t) return 'tcp';
      return t.has('tcp') ? 'tcp' : t.has('udp') ? 'udp' : t.has('raw') ? 'raw' : undefined;
    }
  }
}

/** ss's resolve_service. */
function portText(port: number, proto: string | undefined, o: FormatOptions): string {
  if (port === 0) return '*';
  if (o.numeric) return String(port);
  if (proto === 'raw') return ipProtocolName(port);
  const [lo, hi] = o.ephemeralPorts ?? ownPortRange();
  if (port >= lo && port <= hi) return String(port);
  return serviceByPort(port, proto) ?? String(port);
}

/** ss's inet_addr_print address part: `*` for a dual-stack `::`, IPv6 in brackets, or the host name. */
function hostText(address: string, v6: boolean, v6only: boolean, o: FormatOptions): string {
  if (!v6) return o.hostNames?.get(address) ?? address;
  if (!v6only && address === '::') return '*';
  const name = o.hostNames?.get(address) ?? address;
  return name.includes(':') ? `[${name}]` : name;
}

/** ss's netlink "port": `*`, `kernel`, `comm/pid` of the process with that pid, or the number. */
function netlinkOwner(s: NetlinkSocket, o: FormatOptions): string {
  const pid = s.portId | 0;
  if (pid === -1) return '*';
  if (o.numeric) return String(pid);
  if (pid === 0) return 'kernel';
  if (pid > 0) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      // "%*d (%[^)])": the name up to the first ')'.
      const m = /^\s*\d+ \(([^)]+)\)/.exec(stat);
      if (m) return `${m[1]}/${pid}`.slice(0, 63);
    } catch {
      /* not a pid of ours: the number */
    }
  }
  return String(pid);
}

function packetLocal(s: PacketSocket, o: FormatOptions): [string, string] {
  const addr = s.packetProtocol === 3 ? '*' : linkProtocolName(s.packetProtocol, o.numeric);
  const ifindex = s.ifindex ?? 0;
  return [`${addr}:`, ifindex === 0 ? '*' : ifname(ifindex, o)];
}

const VMADDR_ANY = 0xffffffff;
const vsockPart = (n: number): string => (n >>> 0 === VMADDR_ANY ? '*' : String(n >>> 0));

/** The row of one socket. */
export function formatRow(s: Socket, o: FormatOptions): Row {
  let localAddr: string;
  let localPort: string;
  // Unconnected packet, netlink and xdp sockets print a lone `*` in the peer address column.
  let peerAddr = '*';
  let peerPort = '';
  switch (s.protocol) {
    case 'unix':
      localAddr = `${s.path ?? '*'} `;
      localPort = String(s.inode >>> 0);
      peerAddr = '* ';
      peerPort = String((s.peerInode ?? 0) >>> 0);
      break;
    case 'packet':
      [localAddr, localPort] = packetLocal(s, o);
      break;
    case 'netlink':
      localAddr = `${netlinkProtocolName(s.netlinkProtocol, o.numeric)}:`;
      localPort = netlinkOwner(s, o);
      if (s.connected) {
        peerAddr = `${s.dstGroup | 0}:`;
        peerPort = String(s.dstPortId | 0);
      }
      break;
    case 'vsock':
      localAddr = `${vsockPart(s.local.cid)}:`;
      localPort = vsockPart(s.local.port);
      peerAddr = `${vsockPart(s.remote.cid)}:`;
      peerPort = vsockPart(s.remote.port);
      break;
    case 'tipc':
      localAddr = `${(s.node ?? 0) >>> 0}:`;
      localPort = String((s.port ?? 0) >>> 0);
      if (s.connection) {
        peerAddr = `${(s.connection.node ?? 0) >>> 0}:`;
        peerPort = String((s.connection.port ?? 0) >>> 0);
      } else {
        peerAddr = '-';
      }
      break;
    case 'xdp':
      if (s.ifindex) {
        localAddr = `${ifname(s.ifindex, o)}:`;
        localPort = `q${(s.queueId ?? 0) | 0}`;
      } else {
        localAddr = '*';
        localPort = '';
      }
      break;
    default: {
      const v6 = s.family === 'inet6';
      // Only AF_INET6 sockets carry INET_DIAG_SKV6ONLY; reading it decodes the attributes, so only then.
      const v6only = v6 && (s.local.address === '::' || s.remote.address === '::') ? s.v6only === true : false;
      const proto = serviceProtocol(s, o);
      const dev = s.interface ? `%${ifname(s.interface, o)}` : '';
      localAddr = `${hostText(s.local.address, v6, v6only, o)}${dev}:`;
      localPort = portText(s.local.port, proto, o);
      peerAddr = `${hostText(s.remote.address, v6, v6only, o)}:`;
      peerPort = portText(s.remote.port, proto, o);
    }
  }
  return {
    netid: netid(s),
    state: STATE_LABELS[s.state] ?? 'UNKNOWN',
    recvQ: String(s.recvQ | 0),
    sendQ: String(s.sendQ | 0),
    localAddr,
    localPort,
    peerAddr,
    peerPort,
    process: socketDetails(s, o),
  };
}
