/**
 * The common frame of every sock_diag request: a netlink header with
 * SOCK_DIAG_BY_FAMILY (or SOCK_DESTROY) around a family-specific payload.
 * @module
 */
import { NLM_F, NLMSG_HDRLEN, writeHeader } from '../netlink/message';
import { SOCK_DIAG_BY_FAMILY } from './constants';

/**
 * Allocates one request message of `payloadLen` bytes after the header (sized first,
 * written once), fills in the header and lets `write` fill the payload at offset 16.
 * The sequence number is left 0: the dump loop sets it.
 */
export function requestMessage(payloadLen: number, write: (b: Buffer, off: number) => void, type = SOCK_DIAG_BY_FAMILY, flags: number = NLM_F.REQUEST | NLM_F.DUMP): Buffer {
  const len = NLMSG_HDRLEN + payloadLen;
  const b = Buffer.alloc(len);
  writeHeader(b, { len, type, flags, seq: 0, pid: 0 });
  write(b, NLMSG_HDRLEN);
  return b;
}
