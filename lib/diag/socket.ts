/**
 * The {@link Socket} union: every kind of socket a listing returns, discriminated on `protocol`.
 * @module
 */
import type { InetSocket } from './inet';
import type { UnixSocket } from './unix';
import type { PacketSocket } from './packet';
import type { NetlinkSocket } from './netlink';
import type { VsockSocket } from './vsock';
import type { TipcSocket } from './tipc';
import type { XdpSocket } from './xdp';

/** Any socket. Narrow on `protocol` (`'tcp'`, `'unix'`, …) to reach the kind's own fields. */
export type Socket = InetSocket | UnixSocket | PacketSocket | NetlinkSocket | VsockSocket | TipcSocket | XdpSocket;
