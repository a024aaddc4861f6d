/**
 * AF_TIPC sock_diag (`linux/tipc_sockets_diag.h`, kernel `net/tipc/diag.c`): the request
 * and the decoder of its replies.
 *
 * A TIPC reply has no fixed structure: right after the `nlmsghdr` comes one nested
 * `TIPC_NLA_SOCK` attribute holding everything (see `./attributes`). Sockets whose state
 * is not in the request's mask still produce a message, an empty one (the kernel starts
 * the message before it checks the state); the decoder returns `undefined` for those.
 * @module
 */
import { attributesSize, decodeAttributes, emitAttributes, AttributeCursor, AttrContext, AttrValues, RawAttribute } from '../../netlink/attributes';
import { defineStruct, encodeStruct } from '../../netlink/struct';
import { checkMessage } from '../../netlink/fixed-message';
import { NLMSG_HDRLEN, NLM_F, writeHeader } from '../../netlink/message';
import { DecodeError } from '../../errors';
import { AF, SOCK_DIAG_BY_FAMILY, SocketState, stateMask, ALL_STATES_MASK } from '../constants';
import { requestMessage } from '../request';
import type { BaseSocket } from '../common/socket';
import { tipcAttributes, tipcSockAttributes, TIPC_NLA_SOCK, TipcType, TipcConnection, TipcSockStats, TipcGroup } from './attributes';

export * from './attributes';

/** `struct tipc_sock_diag_req`: the dump request. */
export const tipcSockDiagReq = defineStruct('tipc_sock_diag_req', 8, [
  { name: 'family', orig: 'sdiag_family', type: 'u8', offset: 0 },
  { name: 'protocol', orig: 'sdiag_protocol', type: 'u8', offset: 1 },
  { name: 'pad', orig: 'pad', type: 'u16', offset: 2 },
  { name: 'states', orig: 'tidiag_states', type: 'u32', offset: 4 },
] as const);

/** An AF_TIPC socket, as the tipc sock_diag reply describes it. */
export interface TipcSocket extends BaseSocket {
  /** Always `'tipc'`. */
  protocol: 'tipc';
  /** Always `'tipc'`. */
  family: 'tipc';
  /**
   * State (TIPC_NLA_SOCK_TIPC_STATE). TIPC reuses TCP numbers: open sockets are `'closed'`
   * (`UNCONN` in ss), then `'listening'`, `'syn-sent'` (connecting), `'established'`,
   * `'close-wait'` (disconnecting). `'unknown'` when the attribute is missing.
   */
  state: SocketState;
  /** Inode (TIPC_NLA_SOCK_INO); 0 when missing. */
  inode: number;
  /** Owner's uid (TIPC_NLA_SOCK_UID); undefined when missing. */
  uid: number | undefined;
  /** Socket cookie (TIPC_NLA_SOCK_COOKIE); 0n when missing. */
  cookie: bigint;
  /** Messages in the receive queue (TIPC_NLA_SOCK_STAT_RCVQ, a count of buffers, not bytes), as ss's Recv-Q; 0 when missing. */
  recvQ: number;
  /** Messages in the send queue (TIPC_NLA_SOCK_STAT_SENDQ, a count of buffers, not bytes), as ss's Send-Q; 0 when missing. */
  sendQ: number;
  /** Socket type (TIPC_NLA_SOCK_TYPE); ss shows `ti_st`, `ti_dg`, `ti_rd`, `ti_sq`. `'unknown'` when missing. */
  type: TipcType;
  /** This node's TIPC address (TIPC_NLA_SOCK_ADDR, a u32), the "address" of ss's local column. */
  node: number | undefined;
  /** The socket's port id (TIPC_NLA_SOCK_REF), the "port" of ss's local column. */
  port: number | undefined;
  /** The peer (TIPC_NLA_SOCK_CON), when connected: ss's peer column is `node:port` of it. */
  connection: TipcConnection | undefined;
  /** True when the (unconnected) socket has published names (TIPC_NLA_SOCK_HAS_PUBL, a flag). */
  hasPublications: true | undefined;
  /** Queues, drops and congestion (TIPC_NLA_SOCK_STAT). */
  stats: TipcSockStats | undefined;
  /** The communication group the socket joined (TIPC_NLA_SOCK_GROUP). */
  group: TipcGroup | undefined;
  /** Top-level attributes other than TIPC_NLA_SOCK (current kernels send none), kept raw. `unknown` holds those inside TIPC_NLA_SOCK. */
  unknownTopLevel: RawAttribute[] | undefined;
}

// Compile-time check: every TIPC_NLA_SOCK_* row decodes into the property of the same name.
type Assert<T extends true> = T;
type TipcSockValues = Omit<Required<AttrValues<typeof tipcSockAttributes>>, '_pad'>; // padAttr()'s type keeps '_pad' (engine)
// eslint-disable-next-line @typescript-eslint/no-unused-vars
type TipcAttributesFitSocket = Assert<TipcSockValues extends Pick<TipcSocket, keyof TipcSockValues> ? true : false>;

/** Options of {@link encodeTipcRequest}. */
export interface TipcRequestOptions {
  /**
   * States to dump: a mask of `1 << state` bits, or a list of state names.
   * Default: every state. (`ss` asks for established, listening and closed only.)
   */
  states?: number | readonly SocketState[];
}

/**
 * Encodes a whole tipc dump request: `nlmsghdr` (SOCK_DIAG_BY_FAMILY, REQUEST|DUMP, seq 0)
 * and `struct tipc_sock_diag_req` with the state mask.
 */
export function encodeTipcRequest(opts: TipcRequestOptions = {}): Buffer {
  const states = opts.states === undefined ? ALL_STATES_MASK : stateMask(opts.states);
  return requestMessage(tipcSockDiagReq.size, (b, off) => {
    encodeStruct(tipcSockDiagReq, { family: AF.TIPC, protocol: 0, states }, b, off);
  });
}

const ctx: AttrContext = Object.freeze({ family: AF.TIPC, protocol: 0 });

/**
 * Decodes one tipc reply message: `off` is the start of its `nlmsghdr`, `len` its
 * `nlmsg_len`. Returns `undefined` for a message without `TIPC_NLA_SOCK` (the kernel
 * sends such empty messages for sockets its state filter skipped; `ss` skips them too).
 * Reads only `[off, off + len)`; throws {@link DecodeError} on malformed or truncated bytes.
 */
export function decodeTipcMessage(b: Buffer, off: number, len: number): TipcSocket | undefined {
  const p = checkMessage(b, off, len, 0, 'tipc_sock_diag');
  if (b.readUInt32LE(off) !== len) throw new DecodeError(`nlmsg_len ${b.readUInt32LE(off)} is not the message length ${len}`, off, 'nlmsghdr');
  const end = off + len;
  // Top level: find TIPC_NLA_SOCK (the first one wins), keep anything else raw.
  let nest = -1;
  let nestEnd = -1;
  let outer: RawAttribute[] | undefined;
  const c = new AttributeCursor(b, p, end, tipcAttributes.name);
  while (c.next()) {
    if (c.type === TIPC_NLA_SOCK) {
      if (nest < 0) {
        nest = c.payload;
        nestEnd = c.payload + c.length;
      }
    } else if (outer === undefined) outer = [c.raw()];
    else outer.push(c.raw());
  }
  c.throwIfError();
  if (nest < 0) return undefined;
  // One literal with every property, so all TIPC sockets share one hidden class. The
  // properties the nest fills start undefined (decodeAttributes keeps the first of duplicates).
  const s = {
    protocol: 'tipc' as const,
    family: 'tipc' as const,
    state: undefined as SocketState | undefined,
    inode: undefined as number | undefined,
    uid: undefined as number | undefined,
    cookie: undefined as bigint | undefined,
    recvQ: 0,
    sendQ: 0,
    type: undefined as TipcType | undefined,
    node: undefined as number | undefined,
    port: undefined as number | undefined,
    connection: undefined as TipcConnection | undefined,
    hasPublications: undefined as true | undefined,
    stats: undefined as TipcSockStats | undefined,
    group: undefined as TipcGroup | undefined,
    unknownTopLevel: outer,
    unknown: undefined as RawAttribute[] | undefined,
    processes: undefined,
  };
  decodeAttributes(tipcSockAttributes, b, nest, nestEnd, s as unknown as Record<string, unknown>, ctx);
  if (s.state === undefined) s.state = 'unknown';
  if (s.inode === undefined) s.inode = 0;
  if (s.cookie === undefined) s.cookie = 0n;
  if (s.type === undefined) s.type = 'unknown';
  const stats = s.stats;
  if (stats !== undefined) {
    s.recvQ = stats.receiveQueue ?? 0;
    s.sendQ = stats.sendQueue ?? 0;
  }
  return s as TipcSocket;
}

/**
 * Encodes a socket back into a reply message, as the kernel would send it: one
 * `TIPC_NLA_SOCK` nest (its attributes in table order, then `unknown`), then
 * `unknownTopLevel`. `recvQ`/`sendQ` are not encoded: `stats` carries them.
 * For tests and fake channels.
 */
export function encodeTipcMessage(s: TipcSocket, seq = 0, pid = 0): Buffer {
  const values: Record<string, unknown> = { sock: s, unknown: s.unknownTopLevel };
  const len = NLMSG_HDRLEN + attributesSize(tipcAttributes, values);
  const b = Buffer.alloc(len);
  writeHeader(b, { len, type: SOCK_DIAG_BY_FAMILY, flags: NLM_F.MULTI, seq, pid });
  emitAttributes(tipcAttributes, values, b, NLMSG_HDRLEN);
  return b;
}
