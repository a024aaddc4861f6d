/**
 * What the engine needs of a netlink channel, and how it gets one: a {@link ChannelFactory}
 * injected into the {@link Engine}. The default opens the native addon's socket
 * ({@link Channel.open}); tests inject a fake kernel (a function from request bytes to reply
 * datagrams) and run every consumer without privileges.
 * @module
 */
import { Channel, type Datagrams, type NetnsRef } from '../netlink/channel';

/** A netlink socket as the engine uses it. {@link Channel} is one; a fake kernel is another. */
export interface EngineChannel {
  /** The socket's netlink port id (the kernel addresses replies to it). */
  readonly portId: number;
  /** True once {@link EngineChannel.close} has run. */
  readonly closed: boolean;
  /** A fresh sequence number for the next request. */
  nextSeq(): number;
  /** Sends whole netlink messages. */
  send(request: Uint8Array): void;
  /**
   * The next batch of received datagrams. A read pending when the channel closes settles
   * with null; a read on a channel already closed throws `ERR_SOCKDIAG_CLOSED` at once.
   */
  read(): Promise<Datagrams | null>;
  /** Closes the socket; a pending read settles with null. Safe to call twice. */
  close(): void;
}

/** What a channel is opened for. */
export interface ChannelRequest {
  /** Network namespace to open the socket in (default: the caller's). */
  netns?: NetnsRef;
  /** Netlink protocol (default NETLINK_SOCK_DIAG = 4; 0 is NETLINK_ROUTE). */
  protocol?: number;
  /** Multicast group mask to bind to (events). */
  groups?: number;
  /** SO_RCVBUF in bytes. */
  rcvbuf?: number;
  /** Bytes offered to each receive. */
  recvSize?: number;
}

/** Opens channels for an engine. */
export type ChannelFactory = (request: ChannelRequest) => EngineChannel;

/** The default factory: the native addon's NETLINK_SOCK_DIAG (or other protocol) socket. */
export const nativeChannels: ChannelFactory = (request) => Channel.open(request);
