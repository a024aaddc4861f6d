/**
 * A fake netlink channel driven by a function from request bytes to reply datagrams,
 * so framing, errors, DUMP_INTR and foreign-message paths run without root or sockets.
 */
import type { Datagrams, DumpChannel } from '../../lib/netlink/channel';
import { NLMSG, NLM_F } from '../../lib/netlink/message';

/** One datagram the fake kernel sends back. */
export interface FakeDatagram {
  bytes: Buffer;
  /** Sender port id; 0 = the kernel. */
  sender?: number;
}

/** Builds a netlink message: header + payload, padded to 4. */
export function nlmsg(type: number, flags: number, seq: number, pid: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const len = 16 + payload.length;
  const b = Buffer.alloc((len + 3) & ~3);
  b.writeUInt32LE(len, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(flags, 6);
  b.writeUInt32LE(seq, 8);
  b.writeUInt32LE(pid, 12);
  payload.copy(b, 16);
  return b;
}

/** NLMSG_DONE with an int payload (0 = success, negative = error). */
export function done(seq: number, pid: number, error = 0, flags: number = NLM_F.MULTI): Buffer {
  const p = Buffer.alloc(4);
  p.writeInt32LE(error, 0);
  return nlmsg(NLMSG.DONE, flags, seq, pid, p);
}

/** NLMSG_ERROR carrying `error` and a copy of the request header (capped). */
export function errorMsg(seq: number, pid: number, error: number, request: Buffer, extack?: string): Buffer {
  const parts = [Buffer.alloc(4), request.subarray(0, 16)];
  parts[0].writeInt32LE(error, 0);
  let flags: number = NLM_F.CAPPED;
  if (extack !== undefined) {
    flags |= NLM_F.ACK_TLVS;
    const s = Buffer.from(extack + '\0', 'latin1');
    const tlv = Buffer.alloc((4 + s.length + 3) & ~3);
    tlv.writeUInt16LE(4 + s.length, 0);
    tlv.writeUInt16LE(1, 2);
    s.copy(tlv, 4);
    parts.push(tlv);
  }
  return nlmsg(NLMSG.ERROR, flags, seq, pid, Buffer.concat(parts));
}

/** The reply a fake kernel gives to one request: batches of datagrams. */
export type FakeKernel = (request: Buffer, seq: number, portId: number) => FakeDatagram[][];

/** A {@link DumpChannel} answering from a function. */
export class FakeChannel implements DumpChannel {
  readonly portId: number;
  readonly sent: Buffer[] = [];
  private queue: FakeDatagram[][] = [];
  private seq = 100;
  closed = false;

  constructor(private readonly kernel: FakeKernel, portId = 4242) {
    this.portId = portId;
  }

  nextSeq(): number {
    return ++this.seq;
  }

  send(request: Uint8Array): void {
    const b = Buffer.from(request);
    this.sent.push(b);
    this.queue.push(...this.kernel(b, b.readUInt32LE(8), this.portId));
  }

  async read(): Promise<Datagrams | null> {
    if (this.closed) return null;
    const batch = this.queue.shift();
    if (batch === undefined) throw new Error('fake kernel: read with nothing queued (the real one would block forever)');
    // Put the datagrams in one buffer at an offset, as the addon does, with sentinels around them.
    const offsets: number[] = [];
    const lengths: number[] = [];
    let at = 8;
    for (const d of batch) {
      offsets.push(at);
      lengths.push(d.bytes.length);
      at += (d.bytes.length + 7) & ~7;
    }
    const data = Buffer.alloc(at + 8, 0xaa);
    batch.forEach((d, i) => d.bytes.copy(data, offsets[i]));
    return { data, offsets, lengths, senders: batch.map((d) => d.sender ?? 0), groups: batch.map(() => 0) };
  }

  close(): void {
    this.closed = true;
  }
}
