/**
 * Which requests list which sockets: one entry per socket kind, each giving the dump
 * requests (one per address family for inet) and the decoder of their replies.
 * @module
 */
import type { MessageDecoder } from '../netlink/channel';
import type { ErrorContext } from '../errors';
import { AF, ProtocolName } from './constants';
import { encodeInetRequest, encodeTcpBothFamiliesRequest, decodeInetMessage, INET_PROTOCOLS, InetExtension, InetProtocolName } from './inet';
import type * as UnixFamily from './unix';
import type * as PacketFamily from './packet';
import type * as NetlinkFamily from './netlink';
import type * as VsockFamily from './vsock';
import type * as TipcFamily from './tipc';
import type * as XdpFamily from './xdp';
import { STATE_NUMBERS } from './constants';
import type { Socket } from './socket';
import type { CompiledFilter } from '../filter/bytecode';

/** What a plan needs to know from the caller's options. */
export interface PlanInput {
  /** State bit mask. */
  states: number;
  /** inet address families (AF numbers) to dump. */
  inetFamilies: readonly number[];
  /** inet extensions to ask for. */
  extensions: readonly InetExtension[] | undefined;
  /** The compiled inet filter for a family, if the listing has a filter expression. */
  compiled?: (family: 'inet' | 'inet6') => CompiledFilter;
  /** Whether the listing has a filter expression at all. */
  filtered: boolean;
  /**
   * Whether the caller takes both families' sockets from one dump (and restores their
   * order itself): a TCP listing of both families then walks the kernel's tables once,
   * always or only when filtered (where the walk is nearly all of the time).
   */
  mixedFamilies?: MixedFamilies;
}

/** When a TCP listing of both families may use one dump for both (see {@link PlanInput}). */
export type MixedFamilies = false | 'filtered' | 'always';

/** One dump: the request, its decoder, and the words errors carry. */
export interface DumpPlan {
  request: Buffer;
  decode: MessageDecoder<Socket>;
  context: ErrorContext;
  /** True when the kernel applies the whole filter expression (no userspace re-check needed). */
  exact: boolean;
  /** True when the dump returns IPv4 and IPv6 sockets mixed, in the kernel's order. */
  mixedFamilies?: boolean;
}

type Planner = (input: PlanInput) => DumpPlan[];

function inetPlanner(name: InetProtocolName): Planner {
  const protocol = INET_PROTOCOLS[name];
  const decode: DumpPlan['decode'] = (b, off, len) => decodeInetMessage(b, off, len, protocol) as Socket;
  return (input) => {
    // A filtered dump's time is the kernel's walk of the whole table: for TCP, one walk
    // can serve both families (the filter program is the same for both).
    if (name === 'tcp' && input.inetFamilies.length === 2 && (input.mixedFamilies === 'always' || (input.mixedFamilies === 'filtered' && input.filtered))) {
      const compiled = input.compiled?.('inet');
      const request = encodeTcpBothFamiliesRequest({ states: input.states, extensions: input.extensions, bytecode: compiled?.bytecode });
      return [{ request, decode, context: { operation: 'dump', family: 'inet+inet6', protocol: name }, exact: compiled ? compiled.exact : true, mixedFamilies: true }];
    }
    return input.inetFamilies.map((family) => {
      const familyName = family === AF.INET ? 'inet' : 'inet6';
      const compiled = input.compiled?.(familyName);
      return {
        request: encodeInetRequest({ family, protocol, states: input.states, extensions: input.extensions, bytecode: compiled?.bytecode }),
        decode,
        context: { operation: 'dump', family: familyName, protocol: name },
        exact: compiled ? compiled.exact : true,
      };
    });
  };
}

const CLOSED = 1 << STATE_NUMBERS.closed;

/**
 * A family whose sockets are always in state "closed" (packet, netlink, xdp) and whose
 * requests take no state filter: dumped only when that state is asked for, as ss does.
 */
function statelessPlanner(family: string, request: () => Buffer, decode: DumpPlan['decode']): Planner {
  return (input) => ((input.states & CLOSED) === 0 ? [] : [{ request: request(), decode, context: { operation: 'dump', family, protocol: family }, exact: !input.filtered }]);
}

// These families have no kernel filter: an expression is always checked in userspace.
function planner(family: string, request: (states: number) => Buffer, decode: DumpPlan['decode']): Planner {
  return (input) => [{ request: request(input.states), decode, context: { operation: 'dump', family, protocol: family }, exact: !input.filtered }];
}

/** A module loaded on first use (a command that lists TCP only never loads the other families' decoders). */
function lazy<T>(load: () => T): () => T {
  let m: T | undefined;
  return () => (m ??= load());
}
/* eslint-disable @typescript-eslint/no-require-imports */
const unix = lazy(() => require('./unix') as typeof UnixFamily);
const packet = lazy(() => require('./packet') as typeof PacketFamily);
const netlink = lazy(() => require('./netlink') as typeof NetlinkFamily);
const vsock = lazy(() => require('./vsock') as typeof VsockFamily);
const tipc = lazy(() => require('./tipc') as typeof TipcFamily);
const xdp = lazy(() => require('./xdp') as typeof XdpFamily);
/* eslint-enable @typescript-eslint/no-require-imports */

const planners: Readonly<Record<ProtocolName, Planner>> = {
  tcp: inetPlanner('tcp'),
  udp: inetPlanner('udp'),
  udplite: inetPlanner('udplite'),
  raw: inetPlanner('raw'),
  mptcp: inetPlanner('mptcp'),
  sctp: inetPlanner('sctp'),
  dccp: inetPlanner('dccp'),
  unix: (input) => planner('unix', (states) => unix().encodeUnixRequest({ states }), unix().decodeUnixMessage)(input),
  packet: (input) => statelessPlanner('packet', () => packet().encodePacketRequest(), packet().decodePacketMessage)(input),
  netlink: (input) => statelessPlanner('netlink', () => netlink().encodeNetlinkRequest(), netlink().decodeNetlinkMessage)(input),
  vsock: (input) => planner('vsock', (states) => vsock().encodeVsockRequest({ states }), vsock().decodeVsockMessage)(input),
  tipc: (input) => planner('tipc', (states) => tipc().encodeTipcRequest({ states }), tipc().decodeTipcMessage)(input),
  xdp: (input) => statelessPlanner('xdp', () => xdp().encodeXdpRequest(), xdp().decodeXdpMessage)(input),
};

/** Every socket kind, in the order listings visit them. */
export const ALL_PROTOCOLS: readonly ProtocolName[] = ['tcp', 'udp', 'udplite', 'raw', 'mptcp', 'sctp', 'dccp', 'unix', 'packet', 'netlink', 'vsock', 'tipc', 'xdp'];

/** The dumps that list sockets of `protocol`. */
export function plansFor(protocol: ProtocolName, input: PlanInput): DumpPlan[] {
  const plan = planners[protocol];
  if (!plan) throw new TypeError(`unknown protocol: ${String(protocol)}`);
  return plan(input);
}
