/**
 * One socket → one row of ss's text output: each cell holds exactly the bytes iproute2 6.1's
 * `ss` writes into that column (addresses with their delimiter, `%dev`, service and host
 * names, `*` wildcards); everything after the peer comes from {@link socketDetails}, or for
 * inet sockets from their reply bytes (inet-details.ts).
 * @module
 */
import type { Socket } from '../diag/socket';
import type { ProtocolName, SocketState } from '../diag/constants';
import type { InetSocket, InetProtocolName } from '../diag/inet';
import type { NetlinkSocket } from '../diag/netlink';
import type { PacketSocket } from '../diag/packet';
import { CellWriter, writeRowCells, type Row, type RowSink } from './table';
import { socketDetails } from './details';
import { protocolNumber, v6only as v6onlyOf, writeInetDetails } from './inet-details';
import { formatIPv4, formatIPv6 } from '../diag/inet/address';
import { InetMessage, InetSocketView, readInetMessage, INET_PROTOCOLS } from '../diag/inet/view';
import { stateName } from '../diag/constants';
import { STATE_LABELS } from './tables';
import { ipProtocolName, linkProtocolName, netlinkProtocolName, serviceByPort } from './names';
import { ownPortRange } from '../system/sysctl';
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
  /**
   * The view inet rows are read through, rebound for each row so that a listing allocates
   * none per row (made on first use; rows are written synchronously, one at a time).
   */
  inetView?: InetMessage;
}


/** ss's proto_name for inet sockets; raw sockets show their INET_DIAG_PROTOCOL, if any. */
function inetNetid(s: InetSocket): string {
  if (s.protocol !== 'raw') return s.protocol === 'udplite' ? '???' : s.protocol;
  return rawNetid(s.protocolNumber ?? 255);
}

/** The Netid of a raw socket with this INET_DIAG_PROTOCOL. */
function rawNetid(n: number): string {
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
function serviceProtocol(protocol: InetProtocolName, o: FormatOptions): string | undefined {
  switch (protocol) {
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

/**
 * An inet socket's row, written cell by cell from its reply bytes. Every inet socket the
 * library makes carries them; the text has one implementation, in inet-details.ts.
 */
function writeInetRow(sink: RowSink, s: InetSocket, o: FormatOptions): void {
  const m = InetSocketView.message(s, (o.inetView ??= new InetMessage()));
  if (m === undefined) throw new TypeError('an inet socket is printed from its reply bytes; this one has none (it was not made by sockdiag)');
  writeReplyRow(sink, m.check(), o);
}

/** An address cell of the message `m` (without its delimiter). */
function writeReplyAddress(w: CellWriter, m: InetMessage, off: number, v6only: boolean, o: FormatOptions): void {
  const b = m.buffer;
  if (!m.v6) {
    if (o.hostNames) {
      w.text(hostText(formatIPv4(b, off), false, false, o));
      return;
    }
    w.uint(b[off]);
    w.byte(0x2e);
    w.uint(b[off + 1]);
    w.byte(0x2e);
    w.uint(b[off + 2]);
    w.byte(0x2e);
    w.uint(b[off + 3]);
    return;
  }
  if (!v6only && m.isAny6(off)) {
    w.byte(0x2a);
    return;
  }
  w.text(hostText(formatIPv6(b, off), true, v6only, o));
}

/** The row of the inet reply message `m`. */
function writeReplyRow(sink: RowSink, m: InetMessage, o: FormatOptions): void {
  const w = sink.out;
  const protocol = m.protocolName;
  w.text(protocol === 'raw' ? rawNetid(protocolNumber(m)) : protocol === 'udplite' ? '???' : protocol);
  sink.endCell();
  w.text(STATE_LABELS[stateName(m.state)] ?? 'UNKNOWN');
  sink.endCell();
  // ss prints the queues with %d.
  w.int(m.rqueue | 0);
  sink.endCell();
  w.int(m.wqueue | 0);
  sink.endCell();
  // ss prints `::` as `*` unless the socket is IPv6-only.
  const v6only = m.v6 && (m.isAny6(m.src) || m.isAny6(m.dst)) ? v6onlyOf(m) === true : false;
  const proto = serviceProtocol(protocol, o);
  writeReplyAddress(w, m, m.src, v6only, o);
  const ifindex = m.ifindex;
  if (ifindex) {
    w.byte(0x25);
    w.text(ifname(ifindex, o));
  }
  w.byte(0x3a);
  sink.endCell();
  writePort(w, m.sport, proto, o);
  sink.endCell();
  writeReplyAddress(w, m, m.dst, v6only, o);
  w.byte(0x3a);
  sink.endCell();
  writePort(w, m.dport, proto, o);
  sink.endCell();
  writeInetDetails(w, m, o);
  sink.endCell();
}

/**
 * Writes the row of one inet reply message (`off` at its nlmsghdr, `len` = nlmsg_len) from
 * its bytes, without decoding it into a socket object unless a rare option needs one (the
 * message's view makes it then; `decode` is not used). Throws {@link DecodeError} on
 * malformed bytes, as decoding does.
 */
export function writeInetMessageRow(sink: RowSink, b: Buffer, off: number, len: number, protocol: InetProtocolName, decode: unknown, o: FormatOptions): void {
  writeReplyRow(sink, readInetMessage(b, off, len, INET_PROTOCOLS[protocol], (o.inetView ??= new InetMessage())), o);
}

function writePort(w: CellWriter, port: number, proto: string | undefined, o: FormatOptions): void {
  if (port !== 0 && o.numeric) w.uint(port);
  else w.text(portText(port, proto, o));
}

/**
 * Writes one socket's row into `sink` cell by cell (for the table: no intermediate strings
 * for inet sockets, whose details are read from their reply bytes).
 */
export function writeRow(sink: RowSink, s: Socket, o: FormatOptions): void {
  if (s.family === 'inet' || s.family === 'inet6') {
    writeInetRow(sink, s as InetSocket, o);
    return;
  }
  writeRowCells(sink, formatRow(s, o));
}

/** Collects the cells {@link writeRow} writes, as strings. */
class RowCollector implements RowSink {
  readonly out = new CellWriter(1024);
  private readonly ends: number[] = [];

  endCell(): void {
    this.ends.push(this.out.pos);
  }

  row(): Row {
    const b = this.out.buf;
    const e = this.ends;
    const cell = (i: number): string => b.toString('utf8', i === 0 ? 0 : e[i - 1], e[i]);
    return { netid: cell(0), state: cell(1), recvQ: cell(2), sendQ: cell(3), localAddr: cell(4), localPort: cell(5), peerAddr: cell(6), peerPort: cell(7), process: cell(8) };
  }
}

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
      // inet: one writer for the table and for this.
      const c = new RowCollector();
      writeInetRow(c, s, o);
      return c.row();
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
