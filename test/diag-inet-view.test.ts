/**
 * The zero-copy inet message view (what the command's fast path and the public socket
 * objects both read through), on replies built with the project's encoder.
 */
import {
  readInetMessage, decodeInetMessage, encodeInetMessage, InetMessage, InetSocketView, INET_DIAG_ATTR, inetDiagAttributes, tcpInfo, type InetMessageInput,
} from '../lib/diag/inet';
import { fieldAt } from '../lib/netlink/offsets';
import { skMeminfo } from '../lib/diag/common/skmeminfo';
import { DecodeError } from '../lib/errors';

const v4 = (a: string): Buffer => Buffer.from([...a.split('.').map(Number), ...new Array(12).fill(0)]);
const v6 = (last: number): Buffer => Buffer.from([...new Array(15).fill(0), last]);

const TCP: InetMessageInput = {
  msg: {
    family: 2, state: 1, timer: 2, retrans: 3, sport: 4242, dport: 443, src: v4('10.1.2.3'), dst: v4('192.168.0.9'),
    ifindex: 7, cookie: 0x1234_5678_9abcn, expires: 5000, rqueue: 0xffffffff, wqueue: 12, uid: 1000, inode: 99,
  },
  attrs: { info: { rttUs: 250, sndMss: 1448 } as never, cong: 'cubic', mark: 0x42, cgroupId: 0x1_0000_0002n, shutdown: 2, skmem: { rmemAlloc: 1, rcvbuf: 2 } as never },
};

const RTT = fieldAt(tcpInfo, 'rttUs', 'u32');
const SND_MSS = fieldAt(tcpInfo, 'sndMss', 'u32');
const RCVBUF = fieldAt(skMeminfo, 'rcvbuf', 'u32');
const DROPS = fieldAt(skMeminfo, 'drops', 'u32');

describe('InetMessage', () => {
  test('reads the fixed fields the socket object has, from the same bytes', () => {
    for (const input of [TCP, { msg: { ...TCP.msg, family: 10, src: v6(1), dst: v6(2) } }]) {
      const b = encodeInetMessage(input);
      const m = readInetMessage(b, 0, b.length, 6);
      const s = decodeInetMessage(b, 0, b.length, 6);
      expect({
        family: m.v6 ? 'inet6' : 'inet', inode: m.inode, uid: m.uid, cookie: m.cookie, recvQ: m.rqueue, sendQ: m.wqueue,
        local: { address: m.localAddress(), port: m.sport }, remote: { address: m.remoteAddress(), port: m.dport }, interface: m.ifindex,
        timer: { expiresMs: m.expires, retransmits: m.retrans },
      }).toEqual({ family: s.family, inode: s.inode, uid: s.uid, cookie: s.cookie, recvQ: s.recvQ, sendQ: s.sendQ, local: s.local, remote: s.remote, interface: s.interface, timer: { expiresMs: s.timer!.expiresMs, retransmits: s.timer!.retransmits } });
      expect(m.cookieHi * 2 ** 32 + m.cookieLo).toBe(Number(s.cookie));
      expect([m.timer, m.state, m.protocolName]).toEqual([2, 1, 'tcp']);
    }
  });

  test('finds each attribute once; reads past a payload or of an absent one give 0', () => {
    const b = encodeInetMessage(TCP);
    const m = readInetMessage(b, 0, b.length, 6);
    expect(m.has(INET_DIAG_ATTR.info)).toBe(true);
    expect(m.u32(INET_DIAG_ATTR.info, RTT)).toBe(250);
    expect(m.u32(INET_DIAG_ATTR.mark)).toBe(0x42);
    expect(m.u64(INET_DIAG_ATTR.cgroupId)).toBe(0x1_0000_0002n);
    expect(m.u64Number(INET_DIAG_ATTR.cgroupId)).toBe(2 ** 32 + 2);
    expect(m.u8(INET_DIAG_ATTR.shutdown)).toBe(2);
    expect(b.toString('latin1', m.payload(INET_DIAG_ATTR.cong), m.payload(INET_DIAG_ATTR.cong) + m.payloadLength(INET_DIAG_ATTR.cong))).toBe('cubic\0');
    // skmem was sent up to rcvbuf: later fields are not there.
    expect(m.u32(INET_DIAG_ATTR.skmem, RCVBUF)).toBe(2);
    expect(m.hasField(INET_DIAG_ATTR.skmem, DROPS, 4)).toBe(false);
    expect(m.u32(INET_DIAG_ATTR.skmem, DROPS)).toBe(0);
    expect(m.has(INET_DIAG_ATTR.tos)).toBe(false);
    expect(m.payload(INET_DIAG_ATTR.tos)).toBe(-1);
    expect([m.u8(INET_DIAG_ATTR.tos), m.u32(INET_DIAG_ATTR.bbr, 4)]).toEqual([0, 0]);
  });

  test('the first of a repeated attribute is the one read, as decoding keeps', () => {
    const b = encodeInetMessage({ msg: TCP.msg, attrs: { mark: 1, unknown: [{ type: INET_DIAG_ATTR.mark, bytes: Buffer.from([2, 0, 0, 0]) }] } });
    const m = readInetMessage(b, 0, b.length, 6);
    expect(m.u32(INET_DIAG_ATTR.mark)).toBe(1);
    expect(decodeInetMessage(b, 0, b.length, 6).mark).toBe(1);
  });

  test('a reader pads a tcp_info shorter than the structure with zeros', () => {
    const b = encodeInetMessage(TCP);
    const m = readInetMessage(b, 0, b.length, 6);
    const t = m.reader(INET_DIAG_ATTR.info, tcpInfo);
    expect(t.length).toBeLessThan(tcpInfo.size);
    expect([t.u32(RTT), t.u32(SND_MSS), t.u32(fieldAt(tcpInfo, 'sndWnd', 'u32'))]).toEqual([250, 1448, 0]);
    expect(t.has(SND_MSS, 4)).toBe(true);
    expect(t.has(fieldAt(tcpInfo, 'sndWnd', 'u32'), 4)).toBe(false);
    // Absent: every field reads 0.
    const none = encodeInetMessage({ msg: TCP.msg });
    expect(readInetMessage(none, 0, none.length, 6).reader(INET_DIAG_ATTR.info, tcpInfo).u32(RTT)).toBe(0);
  });

  test('one view bound to message after message keeps nothing of the previous one', () => {
    const a = encodeInetMessage(TCP);
    const plain = encodeInetMessage({ msg: { ...TCP.msg, inode: 5 }, attrs: { tos: 16 } });
    const batch = Buffer.concat([a, plain, a]);
    const m = new InetMessage();
    readInetMessage(batch, 0, a.length, 6, m);
    expect(m.u32(INET_DIAG_ATTR.mark)).toBe(0x42);
    expect(readInetMessage(batch, a.length, plain.length, 6, m)).toBe(m);
    expect([m.inode, m.has(INET_DIAG_ATTR.mark), m.has(INET_DIAG_ATTR.info), m.u8(INET_DIAG_ATTR.tos)]).toEqual([5, false, false, 16]);
    expect(m.reader(INET_DIAG_ATTR.info, tcpInfo).u32(RTT)).toBe(0);
    readInetMessage(batch, a.length + plain.length, a.length, 6, m);
    expect([m.inode, m.u32(INET_DIAG_ATTR.mark), m.has(INET_DIAG_ATTR.tos), m.reader(INET_DIAG_ATTR.info, tcpInfo).u32(RTT)]).toEqual([99, 0x42, false, 250]);
  });

  test('malformed attributes are DecodeErrors with the offset, as decoding reports them', () => {
    const b = encodeInetMessage({ msg: TCP.msg, attrs: { tos: 1, mark: 7 } });
    const markAt = 16 + 72 + 8; // header, inet_diag_msg, then TOS (4 + 1, padded to 8)
    const bad = Buffer.from(b);
    bad.writeUInt16LE(200, markAt); // past the end
    const m = new InetMessage();
    expect(() => readInetMessage(bad, 0, bad.length, 6, m)).toThrow(DecodeError);
    for (const decode of [(): unknown => readInetMessage(bad, 0, bad.length, 6), (): unknown => decodeInetMessage(bad, 0, bad.length, 6)]) {
      expect(decode).toThrow(expect.objectContaining({ offset: markAt, structName: inetDiagAttributes.name }));
    }
    const short = Buffer.from(b);
    short.writeUInt16LE(4 + 2, markAt); // INET_DIAG_MARK needs 4 bytes
    expect(() => readInetMessage(short, 0, short.length, 6)).toThrow(/needs 4 bytes, got 2/);
    // The view is usable again on a good message.
    expect(readInetMessage(b, 0, b.length, 6, m).u32(INET_DIAG_ATTR.mark)).toBe(7);
  });

  test('events: the protocol comes from INET_DIAG_PROTOCOL', () => {
    const b = encodeInetMessage({ msg: TCP.msg, attrs: { protocolNumber: 17 } });
    const m = readInetMessage(b, 0, b.length, -1);
    expect([m.protocol, m.protocolName]).toEqual([17, 'udp']);
    expect(decodeInetMessage(b, 0, b.length, -1).protocol).toBe('udp');
  });

  test('a decoded socket gives its view back, and the view gives back the socket', () => {
    const b = encodeInetMessage(TCP);
    const s = decodeInetMessage(b, 0, b.length, 6);
    const m = InetSocketView.message(s)!;
    expect(m.socket()).toBe(s);
    expect([m.inode, m.u32(INET_DIAG_ATTR.mark)]).toEqual([99, 0x42]);
    expect(InetSocketView.message({ ...s })).toBeUndefined();
    // A view made from bytes makes its socket on first use, once.
    const fresh = readInetMessage(b, 0, b.length, 6);
    expect(fresh.socket()).toBe(fresh.socket());
    expect((fresh.socket() as unknown as InetSocketView).toJSON()).toEqual((s as unknown as InetSocketView).toJSON());
  });
});
