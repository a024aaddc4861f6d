/**
 * What every decoded socket has, whatever its family.
 * @module
 */
import type { FamilyName, ProtocolName, SocketState } from '../constants';
import type { RawAttribute } from '../../netlink/attributes';

/** A process holding a socket open (from /proc/PID/fd), as `ss -p` shows it. */
export interface SocketProcess {
  /** Process id. */
  pid: number;
  /** Thread id, when `threads: true` was asked (ss -T). */
  tid?: number;
  /** Command name (comm) from /proc/PID/stat. */
  command: string;
  /** The file descriptor number in that process. */
  fd: number;
  /** SELinux context of the process, or of the thread with `threads` (ss -Z `proc_ctx`), with `processes: { contexts: true }`; `'unavailable'` when unknown or SELinux is off. */
  processContext?: string;
  /** SELinux context of the socket (ss -z `sock_ctx`), with `processes: { contexts: true }`; `'unavailable'` when unknown or SELinux is off. */
  socketContext?: string;
}

/** Fields every socket has. */
export interface BaseSocket {
  /** Socket kind; discriminates the {@link Socket} union. */
  protocol: ProtocolName;
  /** Address family. */
  family: FamilyName;
  /** State, by the names `ss` filters use (`'established'`, `'listening'`, …). */
  state: SocketState;
  /** Inode number of the socket (the `socket:[N]` of /proc/PID/fd links); 0 for sockets not attached to a file. */
  inode: number;
  /** Owner's uid; undefined where the family does not report it. */
  uid: number | undefined;
  /** The kernel's 64-bit socket cookie (`sk:` in `ss -e`), unique within a boot. */
  cookie: bigint;
  /** Receive queue, as `ss` shows it in Recv-Q (bytes for most sockets; see the family's docs). */
  recvQ: number;
  /** Send queue, as `ss` shows it in Send-Q. */
  sendQ: number;
  /** Attributes this version does not know, kept raw. */
  unknown?: RawAttribute[];
  /** Processes holding the socket, when listed with `processes: true`. */
  processes?: SocketProcess[];
}
