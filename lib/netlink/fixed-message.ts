/**
 * The common shape of a netlink message "header + fixed structure + attributes":
 * bounds checks for decoders and a one-allocation encoder (used to build replies for
 * fixtures and fake channels).
 * @module
 */
import { DecodeError } from '../errors';
import { AttrTable, align4, attributesSize, emitAttributes } from './attributes';
import { NLMSG_HDRLEN, NLM_F, writeHeader } from './message';
import { StructSpec, StructInput, encodeStruct } from './struct';

/** Where a message's address family is, and which family it must be (see {@link checkMessage}). */
export interface FamilyCheck {
  /** Offset of the u8 family field inside the fixed structure. */
  offset: number;
  /** The AF_* number(s) accepted. */
  af: number | readonly number[];
  /** The field and family names for the error, e.g. `['udiag_family', 'AF_UNIX']`. */
  names: readonly [string, string];
}

/**
 * Checks that the message `[off, off + len)` lies inside `b` and holds a netlink header
 * plus a fixed structure of `fixedSize` bytes, and (when `family` is given) that the
 * structure is of that address family; throws {@link DecodeError} otherwise.
 * Returns the offset of the fixed structure (just past the netlink header).
 */
export function checkMessage(b: Buffer, off: number, len: number, fixedSize: number, structName: string, family?: FamilyCheck): number {
  if (!Number.isInteger(off) || !Number.isInteger(len) || off < 0 || len < 0 || off + len > b.length) {
    throw new DecodeError(`message [${off}, ${off}+${len}) does not lie inside a buffer of ${b.length} bytes`, off, structName);
  }
  if (len < NLMSG_HDRLEN + fixedSize) {
    throw new DecodeError(`struct ${structName} needs ${NLMSG_HDRLEN + fixedSize} bytes with its netlink header, message has ${len}`, off, structName);
  }
  const p = off + NLMSG_HDRLEN;
  if (family) {
    const af = b[p + family.offset];
    const ok = typeof family.af === 'number' ? af === family.af : family.af.includes(af);
    if (!ok) throw new DecodeError(`${family.names[0]} ${af} is not ${family.names[1]}`, p + family.offset, structName);
  }
  return p;
}

/** Netlink header fields of an encoded reply, other than its type. */
export interface ReplyHeaderOptions {
  /** `nlmsg_flags`; default `NLM_F_MULTI`, as in a dump reply. */
  flags?: number;
  /** `nlmsg_seq`; default 0. */
  seq?: number;
  /** `nlmsg_pid`; default 0 (the kernel). */
  pid?: number;
}

/** Netlink header fields of an encoded message. */
export interface HeaderOptions extends ReplyHeaderOptions {
  /** `nlmsg_type`. */
  type: number;
}

/**
 * Encodes a whole message: netlink header, the fixed structure `spec` (padded to 4 bytes),
 * then the attributes of `table` present in `attrs` (unknown ones from `attrs.unknown`).
 * The length is computed first and the buffer allocated once.
 */
export function encodeMessage<S extends StructSpec>(header: HeaderOptions, spec: S, value: StructInput<S>, table: AttrTable, attrs: Record<string, unknown>): Buffer {
  const fixed = align4(spec.size);
  const len = NLMSG_HDRLEN + fixed + attributesSize(table, attrs);
  const b = Buffer.alloc(len);
  writeHeader(b, { len, type: header.type, flags: header.flags ?? NLM_F.MULTI, seq: header.seq ?? 0, pid: header.pid ?? 0 });
  encodeStruct(spec, value, b, NLMSG_HDRLEN);
  emitAttributes(table, attrs, b, NLMSG_HDRLEN + fixed);
  return b;
}
