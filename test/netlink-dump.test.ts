import { runDump, DumpStats } from '../lib/netlink/channel';
import { decodeStatus, NLMSG, NLM_F, readHeader } from '../lib/netlink/message';
import { DecodeError, NotSupportedError, SockdiagSystemError } from '../lib/errors';
import { scriptedChannel, nlmsg, done, errorMsg, type Script, type FakeKernelChannel } from './helpers/fake-kernel';

// A trivial "family": payload = one u32, decoded to a number.
const decodeU32 = (b: Buffer, off: number): number => b.readUInt32LE(off + 16);
const item = (seq: number, pid: number, v: number, flags: number = NLM_F.MULTI): Buffer => {
  const p = Buffer.alloc(4);
  p.writeUInt32LE(v, 0);
  return nlmsg(20, flags, seq, pid, p);
};
const request = (): Buffer => nlmsg(20, NLM_F.REQUEST | NLM_F.DUMP, 0, 0, Buffer.alloc(8));

async function collect(kernel: Script, ctx = { operation: 'dump', protocol: 'tcp' }): Promise<{ items: number[]; stats: DumpStats; ch: FakeKernelChannel }> {
  const ch = scriptedChannel(kernel);
  const stats: DumpStats = { messages: 0, interrupted: false, foreignDropped: 0 };
  const items: number[] = [];
  for await (const batch of runDump(ch, request(), decodeU32, ctx, stats)) items.push(...batch);
  return { items, stats, ch };
}

describe('runDump over a fake kernel', () => {
  test('messages across several datagrams and batches, ending with NLMSG_DONE', async () => {
    const { items, stats, ch } = await collect((req, seq, pid) => [
      [{ bytes: Buffer.concat([item(seq, pid, 1), item(seq, pid, 2)]) }, { bytes: item(seq, pid, 3) }],
      [{ bytes: Buffer.concat([item(seq, pid, 4), done(seq, pid)]) }],
    ]);
    expect(items).toEqual([1, 2, 3, 4]);
    expect(stats).toEqual({ messages: 4, interrupted: false, foreignDropped: 0 });
    // The loop wrote a fresh sequence number into the request it sent.
    expect(ch.sent[0].readUInt32LE(8)).toBe(101);
  });

  test('F5: NLMSG_DONE with a zero-length payload means success (older kernels)', async () => {
    const { items } = await collect((req, seq, pid) => [[{ bytes: Buffer.concat([item(seq, pid, 7), nlmsg(NLMSG.DONE, NLM_F.MULTI, seq, pid)]) }]]);
    expect(items).toEqual([7]);
  });

  test('F5: an error inside NLMSG_DONE is thrown; ENOENT on a dump is NotSupportedError', async () => {
    const p = collect((req, seq, pid) => [[{ bytes: done(seq, pid, -2) }]], { operation: 'dump', protocol: 'sctp' });
    await expect(p).rejects.toBeInstanceOf(NotSupportedError);
    await expect(p).rejects.toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'recvmsg', operation: 'dump', protocol: 'sctp' });
    await expect(p).rejects.toThrow(/not supported by this kernel/);
  });

  test('F4: NLMSG_ERROR becomes a system error with code, negative errno, syscall and extack', async () => {
    const p = collect((req, seq, pid) => [[{ bytes: errorMsg(seq, pid, -16, req, 'dump already running') }]]);
    await expect(p).rejects.toBeInstanceOf(SockdiagSystemError);
    await expect(p).rejects.not.toBeInstanceOf(NotSupportedError);
    await expect(p).rejects.toMatchObject({ code: 'EBUSY', errno: -16, syscall: 'recvmsg', extack: 'dump already running' });
  });

  test('F6: NLM_F_DUMP_INTR on the third message marks the dump, and keeps every result', async () => {
    const { items, stats } = await collect((req, seq, pid) => [
      [{ bytes: Buffer.concat([item(seq, pid, 1), item(seq, pid, 2), item(seq, pid, 3, NLM_F.MULTI | NLM_F.DUMP_INTR), item(seq, pid, 4), done(seq, pid)]) }],
    ]);
    expect(items).toEqual([1, 2, 3, 4]);
    expect(stats.interrupted).toBe(true);
  });

  test('F15: datagrams not from the kernel, and messages for another seq or port, are dropped and counted', async () => {
    const { items, stats } = await collect((req, seq, pid) => [
      [
        { bytes: item(seq, pid, 666), sender: 31337 },
        { bytes: Buffer.concat([item(seq + 1, pid, 667), item(seq, pid + 1, 668), item(seq, pid, 1)]) },
      ],
      [{ bytes: done(seq, pid) }],
    ]);
    expect(items).toEqual([1]);
    expect(stats.foreignDropped).toBe(3);
  });

  test('F1: a bad nlmsg_len is a DecodeError, never a hang or RangeError', async () => {
    for (const len of [0, 1, 15, 25, 4096]) {
      const p = collect((req, seq, pid) => {
        const m = item(seq, pid, 1);
        m.writeUInt32LE(len, 0);
        return [[{ bytes: m }]];
      });
      await expect(p).rejects.toBeInstanceOf(DecodeError);
    }
  });
});

describe('decodeStatus', () => {
  test('parses extended-ack TLVs after an uncapped NLMSG_ERROR', () => {
    const req = nlmsg(20, 1, 9, 0, Buffer.alloc(8));
    const msg = Buffer.alloc(4);
    msg.writeInt32LE(-22, 0);
    const tlvs = Buffer.alloc(16);
    tlvs.writeUInt16LE(8, 0);
    tlvs.writeUInt16LE(2, 2); // NLMSGERR_ATTR_OFFS
    tlvs.writeUInt32LE(24, 4);
    tlvs.writeUInt16LE(7, 8);
    tlvs.writeUInt16LE(1, 10); // NLMSGERR_ATTR_MSG
    tlvs.write('bad\0', 12, 'latin1');
    const m = nlmsg(NLMSG.ERROR, NLM_F.ACK_TLVS, 9, 0, Buffer.concat([msg, req, tlvs]));
    const h = readHeader(m, 0, m.length);
    expect(decodeStatus(m, 0, h.len, h.type, h.flags)).toEqual({ error: -22, message: 'bad', offset: 24 });
  });
  test('an ack (error 0) is success', () => {
    const m = errorMsg(1, 0, 0, nlmsg(20, 1, 1, 0));
    expect(decodeStatus(m, 0, m.readUInt32LE(0), NLMSG.ERROR, m.readUInt16LE(6)).error).toBe(0);
  });
});
