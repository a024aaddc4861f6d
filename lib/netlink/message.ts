/**
 * Netlink framing: `struct nlmsghdr`, `NLMSG_ERROR` (with extended ack TLVs) and
 * `NLMSG_DONE`, as tables plus a few helpers.
 * @module
 */
import { DecodeError } from '../errors';
import { defineStruct, structDecoder, encodeStruct, StructInput } from './struct';
import { attr, codec, defineAttributes, decodeAttributes, align4 } from './attributes';

/** `struct nlmsghdr`. */
export const nlmsghdr = defineStruct('nlmsghdr', 16, [
  { name: 'len', orig: 'nlmsg_len', type: 'u32', offset: 0 },
  { name: 'type', orig: 'nlmsg_type', type: 'u16', offset: 4 },
  { name: 'flags', orig: 'nlmsg_flags', type: 'u16', offset: 6 },
  { name: 'seq', orig: 'nlmsg_seq', type: 'u32', offset: 8 },
  { name: 'pid', orig: 'nlmsg_pid', type: 'u32', offset: 12 },
] as const);

/** Size of `struct nlmsghdr`. */
export const NLMSG_HDRLEN = 16;

/** Control message types. */
export const NLMSG = { NOOP: 1, ERROR: 2, DONE: 3, OVERRUN: 4 } as const;

/** `nlmsg_flags` bits. */
export const NLM_F = {
  REQUEST: 0x1,
  MULTI: 0x2,
  ACK: 0x4,
  ECHO: 0x8,
  DUMP_INTR: 0x10,
  DUMP_FILTERED: 0x20,
  ROOT: 0x100,
  MATCH: 0x200,
  DUMP: 0x300,
  /** On `NLMSG_ERROR`: the original request's payload was left out. */
  CAPPED: 0x100,
  /** On `NLMSG_ERROR`/`NLMSG_DONE`: extended-ack TLVs follow. */
  ACK_TLVS: 0x200,
} as const;

/** Extended-ack attributes carried after an error (`enum nlmsgerr_attrs`). */
export const nlmsgerrAttrs = defineAttributes('nlmsgerr_attrs', [
  attr(1, 'NLMSGERR_ATTR_MSG', 'msg', codec.string),
  attr(2, 'NLMSGERR_ATTR_OFFS', 'offset', codec.u32),
  attr(3, 'NLMSGERR_ATTR_COOKIE', 'cookie', codec.bytes),
  attr(4, 'NLMSGERR_ATTR_POLICY', 'policy', codec.bytes),
  attr(5, 'NLMSGERR_ATTR_MISS_TYPE', 'missType', codec.u32),
  attr(6, 'NLMSGERR_ATTR_MISS_NEST', 'missNest', codec.u32),
] as const);

const decodeHeader = structDecoder(nlmsghdr);

/** Reads the header of the message at `off`, checking that it fits inside `end`. */
export function readHeader(b: Buffer, off: number, end: number): NetlinkHeader {
  if (end - off < NLMSG_HDRLEN) throw new DecodeError(`netlink message header needs 16 bytes, ${end - off} left`, off, 'nlmsghdr');
  const h = decodeHeader(b, off, NLMSG_HDRLEN);
  if (h.len < NLMSG_HDRLEN || h.len > end - off) {
    throw new DecodeError(`nlmsg_len ${h.len} does not fit (${end - off} bytes left)`, off, 'nlmsghdr');
  }
  return h;
}

/** A message header (struct nlmsghdr) as {@link readHeader} returns it. */
export interface NetlinkHeader {
  /** nlmsg_len: the message's length, header included. */
  len: number;
  /** nlmsg_type. */
  type: number;
  /** nlmsg_flags. */
  flags: number;
  /** nlmsg_seq. */
  seq: number;
  /** nlmsg_pid: the sender's port id (0: the kernel). */
  pid: number;
}

/**
 * Hands each netlink message in `b[start, end)` to `visit` (its offset and header), in
 * order; a header that does not fit is a {@link DecodeError} thrown after the messages before
 * it. Bytes after the last whole header are ignored, or, when `strict`, are an error too.
 */
export function forEachMessage(b: Buffer, start: number, end: number, visit: (off: number, h: NetlinkHeader) => void, strict = false): void {
  let off = start;
  while (off + NLMSG_HDRLEN <= end) {
    const h = readHeader(b, off, end);
    visit(off, h);
    off += (h.len + 3) & ~3;
  }
  if (strict && off < end) throw new DecodeError(`cut short: ${end - off} bytes left of a message header`, off, 'nlmsghdr');
}

/** What an `NLMSG_ERROR` or a `NLMSG_DONE` carried. */
export interface NetlinkStatus {
  /** 0 for success (an ack), else a negative errno. */
  error: number;
  /** Extended-ack message, when the kernel gave one. */
  message?: string;
  /** Extended-ack offset of the offending byte in the request. */
  offset?: number;
}

/**
 * Decodes the payload of `NLMSG_ERROR` (`struct nlmsgerr`: errno, then the request's
 * header, its payload unless `CAPPED`, then TLVs if `ACK_TLVS`) or of `NLMSG_DONE`
 * (a zero-length payload means success, as older kernels send; else an int, then TLVs).
 */
export function decodeStatus(b: Buffer, off: number, len: number, type: number, flags: number): NetlinkStatus {
  const payload = off + NLMSG_HDRLEN;
  const end = off + len;
  if (type === NLMSG.DONE && len - NLMSG_HDRLEN < 4) return { error: 0 };
  if (len - NLMSG_HDRLEN < 4) throw new DecodeError('NLMSG_ERROR without an error code', off, 'nlmsgerr');
  const status: NetlinkStatus = { error: b.readInt32LE(payload) };
  if (!(flags & NLM_F.ACK_TLVS)) return status;
  let tlv = payload + 4;
  if (type === NLMSG.ERROR) {
    if (end - tlv < NLMSG_HDRLEN) return status;
    const inner = b.readUInt32LE(tlv);
    tlv += flags & NLM_F.CAPPED ? NLMSG_HDRLEN : align4(inner);
  }
  if (tlv > end) return status;
  const ext: { msg?: string; offset?: number } = {};
  decodeAttributes(nlmsgerrAttrs, b, tlv, end, ext as Record<string, unknown>, { family: 0, protocol: 0 });
  if (ext.msg !== undefined) status.message = ext.msg;
  if (ext.offset !== undefined) status.offset = ext.offset;
  return status;
}

/** Writes a netlink header at the start of `b` (used by every request encoder). */
export function writeHeader(b: Buffer, value: StructInput<typeof nlmsghdr>): void {
  encodeStruct(nlmsghdr, value, b, 0);
}
