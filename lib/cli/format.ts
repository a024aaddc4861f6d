/**
 * One socket → one row of ss's text output.
 * @module
 */
import type { Socket } from '../diag/socket';
import type { SocketState } from '../diag/constants';
import type { Row } from './table';
import { serviceName } from './services';

/** What the row formatter needs from the command line. */
export interface FormatOptions {
  /** -n: numeric ports. */
  numeric: boolean;
  /** -p: users:((…)). */
  processes: boolean;
  /** -e: uid, inode, cookie. */
  extended: boolean;
  /** Interface index → name in the listed namespace (for `%dev` after bound addresses). */
  ifnames?: ReadonlyMap<number, string>;
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

/** The Netid column of a socket (`tcp`, `u_str`, `p_raw`, `nl`, …). */
export function netid(s: Socket): string {
  switch (s.protocol) {
    case 'unix':
      return s.type === 'stream' ? 'u_str' : s.type === 'dgram' ? 'u_dgr' : 'u_seq';
    case 'packet':
      return s.type === 'raw' ? 'p_raw' : 'p_dgr';
    case 'netlink':
      return 'nl';
    case 'vsock':
      return s.type === 'stream' ? 'v_str' : s.type === 'dgram' ? 'v_dgr' : 'v_seq';
    default:
      return s.protocol;
  }
}

function port(p: number, proto: string, o: FormatOptions): string {
  if (p === 0) return '*';
  if (!o.numeric) return serviceName(p, proto) ?? String(p);
  return String(p);
}

function inetAddr(address: string, family: string, v6only: boolean | undefined): string {
  if (family === 'inet6') {
    if (address === '::' && v6only !== true) return '*';
    return `[${address}]`;
  }
  return address;
}

function users(s: Socket): string {
  if (!s.processes || s.processes.length === 0) return '';
  return `users:(${s.processes.map((p) => `("${p.command}",pid=${p.pid},fd=${p.fd})`).join(',')})`;
}

/** The row of one socket. */
export function formatRow(s: Socket, o: FormatOptions): Row {
  let localAddr: string;
  let localPort: string;
  let peerAddr: string;
  let peerPort: string;
  const extra: string[] = [];
  if (o.processes) extra.push(users(s));
  switch (s.protocol) {
    case 'unix':
      localAddr = `${s.path ?? '*'} `;
      localPort = String(s.inode);
      peerAddr = '* ';
      peerPort = String(s.peerInode ?? 0);
      break;
    case 'packet':
      localAddr = `${s.packetProtocol === 0 ? '*' : `0x${s.packetProtocol.toString(16).padStart(4, '0')}`}:`;
      localPort = s.ifindex ? String(s.ifindex) : '*';
      peerAddr = '';
      peerPort = '*';
      break;
    case 'netlink':
      localAddr = `${s.netlinkProtocol}:`;
      localPort = String(s.portId);
      peerAddr = '*';
      peerPort = '';
      break;
    case 'tcp':
    case 'udp':
    case 'udplite':
    case 'raw':
    case 'mptcp':
    case 'sctp':
    case 'dccp': {
      const proto = s.protocol === 'udp' || s.protocol === 'udplite' ? 'udp' : 'tcp';
      const v6only = s.v6only;
      const ifname = s.interface ? `%${o.ifnames?.get(s.interface) ?? s.interface}` : '';
      localAddr = `${inetAddr(s.local.address, s.family, v6only)}${ifname}:`;
      localPort = port(s.local.port, proto, o);
      peerAddr = `${inetAddr(s.remote.address, s.family, v6only)}:`;
      peerPort = port(s.remote.port, proto, o);
      break;
    }
    default:
      localAddr = '*:';
      localPort = '*';
      peerAddr = '*:';
      peerPort = '*';
  }
  if (o.extended) {
    if (s.uid) extra.push(`uid:${s.uid}`);
    extra.push(`ino:${s.inode}`, `sk:${s.cookie.toString(16)}`);
  }
  return {
    netid: netid(s),
    state: STATE_LABELS[s.state] ?? 'UNKNOWN',
    recvQ: String(s.recvQ),
    sendQ: String(s.sendQ),
    localAddr,
    localPort,
    peerAddr,
    peerPort,
    process: extra.filter(Boolean).join(' '),
  };
}
