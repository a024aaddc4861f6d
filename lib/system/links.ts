/**
 * The network interfaces of a namespace, from an rtnetlink link dump (`RTM_GETLINK`): what
 * `dev NAME` in a filter and `%dev` in ss's output need.
 * @module
 */
import { Channel, runDump, type DumpChannel, type DumpStats, type NetnsRef } from '../netlink/channel';
import { NLM_F, nlmsghdr } from '../netlink/message';
import { defineStruct } from '../netlink/struct';
import { attr, codec, defineAttributes, decodeAttribute, align4, type AttrContext } from '../netlink/attributes';
import { checkMessage, encodeMessage } from '../netlink/fixed-message';
import { fieldAt } from '../netlink/offsets';

/** `NETLINK_ROUTE`: the netlink protocol of rtnetlink. */
export const NETLINK_ROUTE = 0;

/** rtnetlink message types of links. */
export const RTM = { NEWLINK: 16, GETLINK: 18 } as const;

/** `struct ifinfomsg` (linux/rtnetlink.h): the fixed part of a link message. */
export const ifinfomsg = defineStruct('ifinfomsg', 16, [
  { name: 'family', orig: 'ifi_family', type: 'u8', offset: 0 },
  { name: 'type', orig: 'ifi_type', type: 'u16', offset: 2 },
  { name: 'index', orig: 'ifi_index', type: 's32', offset: 4 },
  { name: 'flags', orig: 'ifi_flags', type: 'u32', offset: 8 },
  { name: 'change', orig: 'ifi_change', type: 'u32', offset: 12 },
]);

/** `IFLA_IFNAME` (linux/if_link.h): the interface name. */
export const IFLA_IFNAME = attr(3, 'IFLA_IFNAME', 'name', codec.string);

/** The link attributes read here (the others are skipped). */
export const linkAttributes = defineAttributes('ifla', [IFLA_IFNAME]);

const O_TYPE = fieldAt(nlmsghdr, 'type', 'u16');
const O_INDEX = fieldAt(ifinfomsg, 'index', 's32');
const ATTRS_AT = align4(ifinfomsg.size);
const CTX: AttrContext = { family: 0, protocol: NETLINK_ROUTE };

/** One network interface. */
export interface Link {
  /** Interface index (`ifi_index`). */
  index: number;
  /** Interface name (`IFLA_IFNAME`). */
  name: string;
}

/** The `RTM_GETLINK` dump request (family AF_UNSPEC: every link). */
export function encodeLinkRequest(): Buffer {
  return encodeMessage({ type: RTM.GETLINK, flags: NLM_F.REQUEST | NLM_F.DUMP }, ifinfomsg, {}, linkAttributes, {});
}

/**
 * Decodes one reply message of a link dump (its netlink header at `off`, `len` its
 * `nlmsg_len`); undefined for other messages and for a link without a name.
 */
export function decodeLinkMessage(b: Buffer, off: number, len: number): Link | undefined {
  if (b.readUInt16LE(off + O_TYPE) !== RTM.NEWLINK) return undefined;
  const p = checkMessage(b, off, len, ifinfomsg.size, ifinfomsg.name);
  const name = decodeAttribute(IFLA_IFNAME, b, p + ATTRS_AT, off + len, CTX);
  return name === undefined ? undefined : { index: b.readInt32LE(p + O_INDEX), name };
}

/** Interface name → index of every link a link dump on `channel` lists. */
export async function readInterfaceIndexes(channel: DumpChannel): Promise<Map<string, number>> {
  const stats: DumpStats = { messages: 0, interrupted: false, foreignDropped: 0 };
  const out = new Map<string, number>();
  for await (const batch of runDump(channel, encodeLinkRequest(), decodeLinkMessage, { operation: 'link dump' }, stats)) {
    for (const link of batch) out.set(link.name, link.index);
  }
  return out;
}

/** Interface name → index of every link in a namespace (default: the caller's). */
export async function interfaceIndexes(netns?: NetnsRef): Promise<Map<string, number>> {
  const channel = Channel.open({ protocol: NETLINK_ROUTE, ...(netns === undefined ? {} : { netns }) });
  try {
    return await readInterfaceIndexes(channel);
  } finally {
    channel.close();
  }
}
