/**
 * rtnetlink link messages (linux/rtnetlink.h, linux/if_link.h), as far as device names need
 * them: the RTM_GETLINK dump request and the index and name of each RTM_NEWLINK reply. The
 * structure and the attribute are declared as tables; the reply is walked with the cursor.
 * @module
 */
import type { DecodeError } from '../errors';
import { AttributeCursor, attr, codec, defineAttributes } from './attributes';
import { checkMessage } from './fixed-message';
import { NLM_F, NLMSG_HDRLEN, nlmsghdr, writeHeader } from './message';
import { fieldAt } from './offsets';
import { defineStruct } from './struct';

/** `NETLINK_ROUTE`: the netlink protocol of rtnetlink. */
export const NETLINK_ROUTE = 0;

/** rtnetlink message types of links. */
export const RTM = { NEWLINK: 16, GETLINK: 18 } as const;

/** `struct ifinfomsg`: the fixed part of every link message. */
export const ifinfomsg = defineStruct('ifinfomsg', 16, [
  { name: 'family', orig: 'ifi_family', type: 'u8', offset: 0 },
  { name: 'type', orig: 'ifi_type', type: 'u16', offset: 2 },
  { name: 'index', orig: 'ifi_index', type: 's32', offset: 4 },
  { name: 'flags', orig: 'ifi_flags', type: 'u32', offset: 8 },
  { name: 'change', orig: 'ifi_change', type: 'u32', offset: 12 },
] as const);

/** The `IFLA_*` attributes read from link messages (one row per constant used). */
export const linkAttributes = defineAttributes('ifla', [
  attr(3, 'IFLA_IFNAME', 'ifname', codec.string),
] as const);

const NLMSG_TYPE = fieldAt(nlmsghdr, 'type', 'u16');
const IFI_INDEX = fieldAt(ifinfomsg, 'index', 's32');
const IFLA_IFNAME = linkAttributes.byName.get('ifname')!.type;

/** The RTM_GETLINK dump request: every link of the namespace (an all-zero `ifinfomsg`). */
export function encodeLinkDumpRequest(): Buffer {
  const len = NLMSG_HDRLEN + ifinfomsg.size;
  const b = Buffer.alloc(len);
  writeHeader(b, { len, type: RTM.GETLINK, flags: NLM_F.REQUEST | NLM_F.DUMP, seq: 0, pid: 0 });
  return b;
}

/** A link's interface index and name. */
export interface LinkName {
  /** `ifi_index`. */
  index: number;
  /** `IFLA_IFNAME`. */
  name: string;
}

/**
 * The index and name of one RTM_NEWLINK message (`off` at its nlmsghdr, `len` = nlmsg_len);
 * undefined for other message types and for a link without a name. Throws {@link DecodeError}
 * on malformed bytes.
 */
export function decodeLinkMessage(b: Buffer, off: number, len: number): LinkName | undefined {
  checkMessage(b, off, len, 0, nlmsghdr.name);
  if (b.readUInt16LE(off + NLMSG_TYPE) !== RTM.NEWLINK) return undefined;
  const p = checkMessage(b, off, len, ifinfomsg.size, ifinfomsg.name);
  const c = new AttributeCursor(b, p + ifinfomsg.size, off + len, linkAttributes.name);
  let name: string | undefined;
  while (c.next()) {
    if (c.type === IFLA_IFNAME) {
      name = c.string();
      break;
    }
  }
  c.throwIfError();
  return name === undefined ? undefined : { index: b.readInt32LE(p + IFI_INDEX), name };
}
