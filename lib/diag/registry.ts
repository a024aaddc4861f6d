/**
 * The socket kinds sockdiag lists, one row each: the family and AF numbers its requests ask
 * for, its IPPROTO number (inet), the `ss` tables that show it, its request encoder and
 * reply decoder (loaded on first use, except inet's), how a listing's options become its
 * dumps, and the tag raw dumps give its replies. Everything that dispatches on a socket
 * kind (listings, raw dumps, the command's table selection) looks the kind up here.
 *
 * Adding a family: a folder `lib/diag/<family>/` with its tables, request encoder and reply
 * decoder, its name in {@link ProtocolName} / {@link FamilyName} (and its AF number in
 * `AF`), and one row below.
 * @module
 */
import type { MessageDecoder } from '../netlink/channel';
import type { ErrorContext } from '../errors';
import { AF, IPPROTO, STATE_NUMBERS, type FamilyName, type ProtocolName, type SocketTypeName } from './constants';
import { encodeInetRequest, encodeTcpBothFamiliesRequest, decodeInetMessage, type InetExtension } from './inet';
import type * as UnixFamily from './unix';
import type * as PacketFamily from './packet';
import type * as NetlinkFamily from './netlink';
import type * as VsockFamily from './vsock';
import type * as TipcFamily from './tipc';
import type * as XdpFamily from './xdp';
import type { Socket } from './socket';

// ---------------------------------------------------------------------------------------
// What a listing asks of a kind, and the dumps it gets.

/** What a plan needs to know from the caller's options. */
export interface PlanInput {
  /** State bit mask. */
  states: number;
  /** inet address families (AF numbers) to dump. */
  inetFamilies: readonly number[];
  /** inet extensions to ask for. */
  extensions: readonly InetExtension[] | undefined;
  /** The compiled inet filter for a family (a filter's `compileFilter`), if the listing has a filter expression. */
  compiled?: (family: 'inet' | 'inet6') => InetFilterProgram;
  /** Whether the listing has a filter expression at all. */
  filtered: boolean;
  /**
   * Whether the caller takes both families' sockets from one dump (and restores their
   * order itself): a TCP listing of both families then walks the kernel's tables once,
   * always or only when filtered (where the walk is nearly all of the time).
   */
  mixedFamilies?: MixedFamilies;
}

/** What a plan takes of a compiled filter (the filter layer's `CompiledFilter` fits). */
export interface InetFilterProgram {
  /** The `INET_DIAG_REQ_BYTECODE` program, or undefined when the kernel needs none. */
  bytecode: Buffer | undefined;
  /** True when the kernel's verdict is the whole answer (no userspace re-check). */
  exact: boolean;
}

/** When a TCP listing of both families may use one dump for both (see {@link PlanInput}). */
export type MixedFamilies = false | 'filtered' | 'always';

/** One dump: the request, its decoder, and the words errors carry. */
export interface DumpPlan {
  /** The request message (sequence number 0: the dump loop sets it). */
  request: Buffer;
  /** The decoder of its reply messages. */
  decode: MessageDecoder<Socket>;
  /** What an error of this dump says it was doing. */
  context: ErrorContext;
  /** True when the kernel applies the whole filter expression (no userspace re-check needed). */
  exact: boolean;
  /** True when the dump returns IPv4 and IPv6 sockets mixed, in the kernel's order. */
  mixedFamilies?: boolean;
}

// ---------------------------------------------------------------------------------------
// The row.

/** The `ss -A` name of each of ss's socket tables. */
export type SsTableName =
  | 'tcp' | 'mptcp' | 'dccp' | 'udp' | 'raw' | 'sctp'
  | 'unix_stream' | 'unix_dgram' | 'unix_seqpacket'
  | 'packet_raw' | 'packet_dgram'
  | 'netlink' | 'tipc' | 'xdp'
  | 'vsock_stream' | 'vsock_dgram';

/** One of ss's socket tables. */
export interface SsTable {
  /** Its `ss -A` name. */
  readonly name: SsTableName;
  /** The socket type it keeps, when the kind's sockets are split by type (unix, packet, vsock). */
  readonly type?: SocketTypeName;
  /** Its Netid (ss prints it and `-A` accepts it too), when it differs from the name. */
  readonly netid?: string;
}

/** The kind's request encoder and reply decoder. */
export interface KindCodec {
  /**
   * Encodes a dump request for a state mask (ignored by stateless kinds). inet kinds also
   * take the address family, the extensions and a filter program.
   */
  request(input: RequestInput): Buffer;
  /** Decodes one reply message (its netlink header at `off`, `len` its `nlmsg_len`). */
  decode: MessageDecoder<Socket>;
}

/** What {@link KindCodec.request} takes. */
export interface RequestInput {
  /** State bit mask (`1 << state`). */
  states: number;
  /** inet kinds: AF_INET or AF_INET6. */
  af?: number;
  /** inet kinds: extensions to ask for (default all). */
  extensions?: readonly InetExtension[];
  /** inet kinds: an `INET_DIAG_REQ_BYTECODE` program. */
  bytecode?: Buffer;
}

/** A socket kind: one row of the registry. */
export interface SocketKind {
  /** The `protocol` of its sockets. */
  readonly protocol: ProtocolName;
  /** The `family` of its sockets (`'inet'` stands for inet and inet6). */
  readonly family: 'inet' | Exclude<FamilyName, 'inet' | 'inet6'>;
  /** The AF numbers its requests ask for (`sdiag_family`); inet kinds are dumped per family. */
  readonly af: readonly number[];
  /** inet kinds: the IPPROTO number (`sdiag_protocol`, or `INET_DIAG_REQ_PROTOCOL` above 255). */
  readonly ipproto?: number;
  /** ss's tables of these sockets (none for udplite, which ss does not list). */
  readonly ssTables: readonly SsTable[];
  /**
   * True for kinds whose sockets are always `'closed'` and whose requests take no state
   * filter (packet, netlink, xdp): dumped only when that state is asked for, as ss does.
   */
  readonly stateless: boolean;
  /**
   * The low 16 bits of the sequence number raw dumps send for this kind (the kernel copies
   * it into every reply): the IPPROTO number for inet kinds, `0x8000 | AF` for the others.
   */
  readonly rawTag: number;
  /** The request encoder and reply decoder; the first call loads the family's module (inet is always loaded). */
  codec(): KindCodec;
  /** The dumps that list this kind's sockets for a caller's options. */
  plan(input: PlanInput): DumpPlan[];
}

/** {@link SocketKind.rawTag} of a non-inet family. */
const NON_INET_TAG = 0x8000;

/** A value computed on first use (a command that lists TCP only never loads the other families' decoders). */
function lazy<T>(load: () => T): () => T {
  let m: T | undefined;
  return () => (m ??= load());
}

const CLOSED = 1 << STATE_NUMBERS.closed;

/** A row of an inet protocol: dumped once per address family, or once for both (TCP). */
function inetKind(protocol: ProtocolName, ipproto: number, ssTables: readonly SsTable[]): SocketKind {
  const decode: MessageDecoder<Socket> = (b, off, len) => decodeInetMessage(b, off, len, ipproto) as Socket;
  const codec: KindCodec = {
    request: (r) => encodeInetRequest({ family: r.af ?? AF.INET, protocol: ipproto, states: r.states, extensions: r.extensions, bytecode: r.bytecode }),
    decode,
  };
  return {
    protocol,
    family: 'inet',
    af: [AF.INET, AF.INET6],
    ipproto,
    ssTables,
    stateless: false,
    rawTag: ipproto,
    codec: () => codec,
    plan: (input) => {
      // A filtered dump's time is the kernel's walk of the whole table: for TCP, one walk
      // can serve both families (the filter program is the same for both).
      if (protocol === 'tcp' && input.inetFamilies.length === 2 && (input.mixedFamilies === 'always' || (input.mixedFamilies === 'filtered' && input.filtered))) {
        const compiled = input.compiled?.('inet');
        const request = encodeTcpBothFamiliesRequest({ states: input.states, extensions: input.extensions, bytecode: compiled?.bytecode });
        return [{ request, decode, context: { operation: 'dump', family: 'inet+inet6', protocol }, exact: compiled ? compiled.exact : true, mixedFamilies: true }];
      }
      return input.inetFamilies.map((af) => {
        const familyName = af === AF.INET ? 'inet' : 'inet6';
        const compiled = input.compiled?.(familyName);
        return {
          request: codec.request({ af, states: input.states, extensions: input.extensions, bytecode: compiled?.bytecode }),
          decode,
          context: { operation: 'dump', family: familyName, protocol },
          exact: compiled ? compiled.exact : true,
        };
      });
    },
  };
}

/**
 * A row of a family with one socket kind, whose module `load` brings on first use. It has no
 * kernel filter: a filter expression is always checked in userspace.
 */
function familyKind(family: Exclude<FamilyName, 'inet' | 'inet6'>, af: number, ssTables: readonly SsTable[], stateless: boolean, load: () => KindCodec): SocketKind {
  const codec = lazy(load);
  const context: ErrorContext = { operation: 'dump', family, protocol: family };
  return {
    protocol: family,
    family,
    af: [af],
    ssTables,
    stateless,
    rawTag: NON_INET_TAG | af,
    codec,
    plan: (input) =>
      stateless && (input.states & CLOSED) === 0 ? [] : [{ request: codec().request({ states: input.states }), decode: codec().decode, context, exact: !input.filtered }],
  };
}

/* eslint-disable @typescript-eslint/no-require-imports */
/** Every socket kind, in the order listings visit them. */
export const SOCKET_KINDS: readonly SocketKind[] = [
  inetKind('tcp', IPPROTO.TCP, [{ name: 'tcp' }]),
  inetKind('udp', IPPROTO.UDP, [{ name: 'udp' }]),
  inetKind('udplite', IPPROTO.UDPLITE, []),
  inetKind('raw', IPPROTO.RAW, [{ name: 'raw' }]),
  inetKind('mptcp', IPPROTO.MPTCP, [{ name: 'mptcp' }]),
  inetKind('sctp', IPPROTO.SCTP, [{ name: 'sctp' }]),
  inetKind('dccp', IPPROTO.DCCP, [{ name: 'dccp' }]),
  familyKind('unix', AF.UNIX, [
    { name: 'unix_stream', type: 'stream', netid: 'u_str' },
    { name: 'unix_dgram', type: 'dgram', netid: 'u_dgr' },
    { name: 'unix_seqpacket', type: 'seqpacket', netid: 'u_seq' },
  ], false, () => {
    const m = require('./unix') as typeof UnixFamily;
    return { request: ({ states }) => m.encodeUnixRequest({ states }), decode: m.decodeUnixMessage };
  }),
  familyKind('packet', AF.PACKET, [
    { name: 'packet_raw', type: 'raw', netid: 'p_raw' },
    { name: 'packet_dgram', type: 'dgram', netid: 'p_dgr' },
  ], true, () => {
    const m = require('./packet') as typeof PacketFamily;
    return { request: () => m.encodePacketRequest(), decode: m.decodePacketMessage };
  }),
  familyKind('netlink', AF.NETLINK, [{ name: 'netlink' }], true, () => {
    const m = require('./netlink') as typeof NetlinkFamily;
    return { request: () => m.encodeNetlinkRequest(), decode: m.decodeNetlinkMessage };
  }),
  familyKind('vsock', AF.VSOCK, [
    { name: 'vsock_stream', type: 'stream', netid: 'v_str' },
    { name: 'vsock_dgram', type: 'dgram', netid: 'v_dgr' },
  ], false, () => {
    const m = require('./vsock') as typeof VsockFamily;
    return { request: ({ states }) => m.encodeVsockRequest({ states }), decode: m.decodeVsockMessage };
  }),
  familyKind('tipc', AF.TIPC, [{ name: 'tipc' }], false, () => {
    const m = require('./tipc') as typeof TipcFamily;
    return { request: ({ states }) => m.encodeTipcRequest({ states }), decode: m.decodeTipcMessage };
  }),
  familyKind('xdp', AF.XDP, [{ name: 'xdp' }], true, () => {
    const m = require('./xdp') as typeof XdpFamily;
    return { request: () => m.encodeXdpRequest(), decode: m.decodeXdpMessage };
  }),
];
/* eslint-enable @typescript-eslint/no-require-imports */

// ---------------------------------------------------------------------------------------
// Lookups.

const BY_PROTOCOL = new Map<string, SocketKind>(SOCKET_KINDS.map((k) => [k.protocol, k]));
const BY_RAW_TAG = new Map<number, SocketKind>(SOCKET_KINDS.map((k) => [k.rawTag, k]));
const BY_AF = new Map<number, SocketKind>(SOCKET_KINDS.filter((k) => k.family !== 'inet').map((k) => [k.af[0], k]));

/** Every socket kind, in the order listings visit them. */
export const ALL_PROTOCOLS: readonly ProtocolName[] = SOCKET_KINDS.map((k) => k.protocol);

/** The row of a protocol name; throws a `TypeError` for a name that is none. */
export function socketKind(protocol: ProtocolName): SocketKind {
  const k = BY_PROTOCOL.get(protocol);
  if (k === undefined) throw new TypeError(`unknown protocol: ${String(protocol)}`);
  return k;
}

/** Whether a value is a protocol name of the registry. */
export function isProtocolName(p: unknown): p is ProtocolName {
  return typeof p === 'string' && BY_PROTOCOL.has(p);
}

/** The kind whose {@link SocketKind.rawTag} this is, if any. */
export function kindOfRawTag(tag: number): SocketKind | undefined {
  return BY_RAW_TAG.get(tag);
}

/** The kind of a non-inet address family (`AF_UNIX` → unix, …); undefined for inet and unknown families. */
export function kindOfFamily(af: number): SocketKind | undefined {
  return BY_AF.get(af);
}

/** The dumps that list sockets of `protocol`. */
export function plansFor(protocol: ProtocolName, input: PlanInput): DumpPlan[] {
  return socketKind(protocol).plan(input);
}
