import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import {
  decodeInetMessage, encodeInetMessage, encodeInetRequest, formatIPv6, InetSocketView, tcpInfo, mptcpInfo, TcpSocket, MptcpSocket, InetMessageInput,
} from '../lib/diag/inet';
import { structToBuffer, knownSize } from '../lib/netlink/struct';
import { DecodeError } from '../lib/errors';
import { NLMSG } from '../lib/netlink/message';
import { dumpMessages, expectRecorded, SS_DUMP, TCPDIAG_DUMP } from './helpers/dump-fixtures';

const plain = (s: unknown): Record<string, unknown> => (s as InetSocketView).toJSON();

/**
 * A timer as ss prints it (`59sec`, `1.884ms`, `904ms`, `2min3sec`) → the range of
 * milliseconds it stands for: ss drops the milliseconds past 9 s and the seconds past 9 min.
 */
function timerRange(text: string): [number, number] {
  const m = /^(?:(\d+)min)?(?:(\d+)(sec|\.))?(?:(\d+)ms)?$/.exec(text);
  if (!m) throw new Error(`not an ss timer: ${text}`);
  const [min, sec, ms] = [m[1], m[2], m[4]].map((x) => Number(x ?? 0));
  const at = min * 60_000 + sec * 1000 + ms;
  return [at, at + (m[4] !== undefined ? 1 : min > 9 ? 60_000 : 1000)];
}

describe('inet decoder against ss on recorded dumps (test/fixtures/dumps)', () => {
  // ss replays a file (TCPDIAG_FILE) up to its first NLMSG_DONE: ss's own -D file shows its
  // IPv4 dump; the legacy TCPDIAG_GETSOCK reply holds both families in its one dump.
  test.each([
    ['a file written by ss -D', SS_DUMP],
    ["the kernel's reply to a legacy TCPDIAG_GETSOCK request for AF_UNSPEC", TCPDIAG_DUMP],
  ])('every message of %s decodes to what ss prints of it, field for field', (_name, file) => {
    const dump = readFileSync(file);
    const msgs = dumpMessages(dump);
    const first = msgs.slice(0, msgs.findIndex((m) => m.type === NLMSG.DONE));
    const socks = first.map((m) => decodeInetMessage(dump, m.off, m.len, 6));
    const r = spawnSync('ss', ['-tanoeH'], { env: { ...process.env, TCPDIAG_FILE: file }, encoding: 'utf8' });
    expect(r.status).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/));
    expect(rows.length).toBe(socks.length);
    expect(socks.length).toBeGreaterThan(15);
    const STATE: Record<string, string> = {
      LISTEN: 'listening', ESTAB: 'established', 'SYN-SENT': 'syn-sent', 'SYN-RECV': 'syn-recv', 'TIME-WAIT': 'time-wait', 'FIN-WAIT-2': 'fin-wait-2', 'CLOSE-WAIT': 'close-wait',
    };
    // ss: [a]:port for IPv6; * for port 0, and for the IPv6 wildcard unless v6only is 1.
    const endpoint = (s: (typeof socks)[number], a: { address: string; port: number }): string =>
      `${s.family === 'inet' ? a.address : a.address === '::' && s.v6only !== true ? '*' : `[${a.address}]`}:${a.port === 0 ? '*' : a.port}`;
    rows.forEach((cols, i) => {
      const s = socks[i];
      const line = cols.join(' ');
      expect(STATE[cols[0]]).toBe(s.state);
      expect([Number(cols[1]), Number(cols[2])]).toEqual([s.recvQ, s.sendQ]);
      expect([cols[3], cols[4]]).toEqual([endpoint(s, s.local), endpoint(s, s.remote)]);
      expect(line).toContain(` ino:${s.inode} sk:${s.cookie.toString(16)}`);
      expect(line.includes(' uid:')).toBe(s.uid !== 0);
      if (s.uid !== 0) expect(line).toContain(` uid:${s.uid} `);
      const v6only = / v6only:(\d)/.exec(line);
      expect(v6only?.[1] === '1').toBe(s.v6only === true);
      expect(v6only !== null).toBe(s.v6only !== undefined);
      const timer = /timer:\(([a-z]+),([^,]+),(\d+)\)/.exec(line);
      expect(timer?.[1]).toBe(s.timer?.name);
      if (timer && s.timer) {
        const [from, to] = timerRange(timer[2]);
        expect(s.timer.retransmits).toBe(Number(timer[3]));
        expect(s.timer.expiresMs).toBeGreaterThanOrEqual(from);
        expect(s.timer.expiresMs).toBeLessThan(to);
      }
    });
  });

  test('each recorded file holds every socket the population recorded, with its addresses, inode, owner', () => {
    for (const file of [SS_DUMP, TCPDIAG_DUMP]) {
      const dump = readFileSync(file);
      const socks = dumpMessages(dump)
        .filter((m) => m.type !== NLMSG.DONE)
        .map((m) => decodeInetMessage(dump, m.off, m.len, 6));
      expectRecorded(socks);
      // The v4-mapped pair and the dual-stack listener are IPv6 sockets.
      expect(socks.filter((s) => s.family === 'inet6' && s.local.address.startsWith('::ffff:')).length).toBeGreaterThanOrEqual(2);
      expect(socks.some((s) => s.family === 'inet6' && s.state === 'listening' && s.v6only === false)).toBe(true);
      expect(socks.some((s) => s.family === 'inet6' && s.state === 'listening' && s.v6only === true)).toBe(true);
    }
  });
});

// A full message, annotated field by field, independent of the tables.
const GOLDEN = Buffer.from([
  // nlmsghdr
  0x7c, 0x00, 0x00, 0x00, // nlmsg_len 124
  0x14, 0x00, // nlmsg_type SOCK_DIAG_BY_FAMILY
  0x02, 0x00, // nlmsg_flags NLM_F_MULTI
  0x05, 0x00, 0x00, 0x00, // nlmsg_seq 5
  0x39, 0x30, 0x00, 0x00, // nlmsg_pid 12345
  // inet_diag_msg
  0x0a, // idiag_family AF_INET6
  0x01, // idiag_state TCP_ESTABLISHED
  0x02, // idiag_timer keepalive
  0x03, // idiag_retrans 3
  0x1f, 0x90, // idiag_sport 8080 (big-endian)
  0xc3, 0x50, // idiag_dport 50000
  0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // idiag_src 2001:db8::1
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 2, // idiag_dst ::ffff:127.0.0.2
  0x07, 0x00, 0x00, 0x00, // idiag_if 7
  0x78, 0x56, 0x34, 0x12, 0x01, 0x00, 0x00, 0x00, // idiag_cookie[0], [1] = 0x112345678
  0x10, 0x27, 0x00, 0x00, // idiag_expires 10000 ms
  0x05, 0x00, 0x00, 0x00, // idiag_rqueue 5
  0x06, 0x00, 0x00, 0x00, // idiag_wqueue 6
  0xe8, 0x03, 0x00, 0x00, // idiag_uid 1000
  0x2a, 0x00, 0x00, 0x00, // idiag_inode 42
  // attributes
  0x0a, 0x00, 0x04, 0x00, 0x63, 0x75, 0x62, 0x69, 0x63, 0x00, 0, 0, // INET_DIAG_CONG "cubic"
  0x05, 0x00, 0x08, 0x00, 0x03, 0, 0, 0, // INET_DIAG_SHUTDOWN = 3 (+pad)
  0x08, 0x00, 0x0e, 0x00, 0xde, 0xad, 0xbe, 0xef, // INET_DIAG_PAD (skipped)
  0x0c, 0x00, 0x15, 0x00, 0x09, 0, 0, 0, 0, 0, 0, 0, // INET_DIAG_CGROUP_ID 9
  0x08, 0x00, 0xf0, 0x7f, 0x01, 0x02, 0x03, 0x04, // unknown type 0x7ff0
]);

describe('inet decoder on built messages', () => {
  test('golden bytes decode to the annotated values', () => {
    const s = decodeInetMessage(GOLDEN, 0, GOLDEN.length, 6);
    expect({ ...s }).toEqual({
      protocol: 'tcp', family: 'inet6', state: 'established', inode: 42, uid: 1000, cookie: 0x112345678n, recvQ: 5, sendQ: 6,
      local: { address: '2001:db8::1', port: 8080 }, remote: { address: '::ffff:127.0.0.2', port: 50000 }, interface: 7,
      timer: { name: 'keepalive', expiresMs: 10000, retransmits: 3 }, processes: undefined,
    });
    expect(s.shutdown).toBe(3);
    expect(s.cong).toBe('cubic');
    expect(s.cgroupId).toBe(9n);
    expect(s.info).toBeUndefined();
    // F2: unknown attributes survive raw; PAD is skipped.
    // 0x7ff0 carries NLA_F_NET_BYTEORDER (0x4000), which is a flag, not part of the type.
    expect(s.unknown).toEqual([{ type: 0x3ff0, flags: 0x4000, bytes: Buffer.from([1, 2, 3, 4]) }]);
    expect(Object.keys(plain(s))).not.toContain('_pad');
  });

  test('encodeInetMessage writes the golden bytes back (one table, both directions)', () => {
    const s = decodeInetMessage(GOLDEN, 0, GOLDEN.length, 6);
    const re = encodeInetMessage({
      msg: { family: 10, state: 1, timer: 2, retrans: 3, sport: 8080, dport: 50000, src: GOLDEN.subarray(24, 40), dst: GOLDEN.subarray(40, 56), ifindex: 7, cookie: 0x112345678n, expires: 10000, rqueue: 5, wqueue: 6, uid: 1000, inode: 42 },
      attrs: { shutdown: s.shutdown, cong: s.cong, cgroupId: s.cgroupId, unknown: s.unknown },
      seq: 5, pid: 12345,
    });
    // The same bytes, less the PAD attribute (the encoder writes none) and with the length fixed.
    const padAt = 88 + 12 + 8;
    const expected = Buffer.concat([GOLDEN.subarray(0, padAt), GOLDEN.subarray(padAt + 8)]);
    expected.writeUInt32LE(expected.length, 0);
    expected.writeUInt16LE(0x7ff0, expected.length - 6);
    expect(re.toString('hex')).toBe(expected.toString('hex'));
    const decoded = decodeInetMessage(re, 0, re.length, 6);
    expect(plain(decoded)).toEqual(plain(s));
  });

  test('the request is the bytes ss sends for -tan (family, protocol, ext, states, zeroed id)', () => {
    const r = encodeInetRequest({ family: 2, protocol: 6, states: 0xffffffff });
    expect(r.toString('hex')).toBe(
      '48000000' + '1400' + '0103' + '00000000' + '00000000' + // header: len 72, type 20, REQUEST|DUMP
      '0206ff00' + 'ffffffff' + '00'.repeat(48),
    );
    const mptcp = encodeInetRequest({ family: 10, protocol: 262, states: 2, extensions: ['info'] });
    // MPTCP (262) does not fit sdiag_protocol: it goes in INET_DIAG_REQ_PROTOCOL.
    expect(mptcp.readUInt32LE(0)).toBe(80);
    expect(mptcp.subarray(16, 24).toString('hex')).toBe('0a00020002000000');
    expect(mptcp.subarray(72).toString('hex')).toBe('0800' + '0300' + '06010000');
  });

  test('F2: a duplicated attribute: the first wins; NLA flag bits are masked', () => {
    const one = encodeInetMessage({ msg: { family: 2 }, attrs: { cong: 'bbr' } });
    const dupAttr = Buffer.from([0x0a, 0x00, 0x04, 0x00, 0x63, 0x75, 0x62, 0x69, 0x63, 0x00, 0, 0]);
    const nested = Buffer.from([0x08, 0x00, 0x17, 0x80, 9, 9, 9, 9]); // type 23 | NLA_F_NESTED
    const m = Buffer.concat([one, dupAttr, nested]);
    m.writeUInt32LE(m.length, 0);
    const s = decodeInetMessage(m, 0, m.length, 6);
    expect(s.cong).toBe('bbr');
    expect(s.unknown).toEqual([{ type: 23, flags: 0x8000, bytes: Buffer.from([9, 9, 9, 9]) }]);
  });

  test('F3: tcp_info of any length decodes the fields present and keeps the rest raw', () => {
    const full = structToBuffer(tcpInfo, { state: 1, sndWscale: 7, rcvWscale: 9, rtoUs: 204000, rttUs: 1234, bytesAcked: 2n ** 60n, sndWnd: 65536, rcvWnd: 1000, options2: 0xabcdef });
    expect(knownSize(tcpInfo)).toBe(280);
    for (const len of [0, 7, 104, 232, 280, 1000]) {
      const payload = Buffer.alloc(len, 0x5a);
      full.copy(payload, 0, 0, Math.min(len, 280));
      const m = encodeInetMessage({ msg: { family: 2, state: 1 }, attrs: { unknown: [{ type: 2, bytes: payload }] } });
      const info = (decodeInetMessage(m, 0, m.length, 6) as TcpSocket).info!;
      expect(info.state).toBe(len >= 1 ? 1 : undefined);
      expect(info.sndWscale).toBe(len >= 7 ? 7 : undefined);
      expect(info.rcvWscale).toBe(len >= 7 ? 9 : undefined);
      expect(info.rttUs).toBe(len >= 72 ? 1234 : undefined);
      expect(info.bytesAcked).toBe(len >= 128 ? 2n ** 60n : undefined);
      expect(info.sndWnd).toBe(len >= 232 ? 65536 : undefined);
      expect(info.rcvWnd).toBe(len >= 236 ? 1000 : undefined);
      expect(info.options2).toBe(len >= 280 ? 0xabcdef : undefined);
      expect(info.tail).toEqual(len > 280 ? Buffer.alloc(len - 280, 0x5a) : undefined);
    }
  });

  test('F3: MEMINFO, SKMEMINFO, BBRINFO and mptcp_info of any length decode what is present', () => {
    const cases: Array<[number, Buffer, (s: TcpSocket | MptcpSocket) => unknown[], unknown[]]> = [
      [1, Buffer.from('01000000020000000300000004000000', 'hex'), (s) => [s.meminfo?.rmem, s.meminfo?.wmem, s.meminfo?.fmem, s.meminfo?.tmem], [1, 2, 3, 4]],
      [7, Buffer.from('0a000000' + '0b000000' + '0c000000', 'hex'), (s) => [s.skmem?.rmemAlloc, s.skmem?.rcvbuf, s.skmem?.wmemAlloc, s.skmem?.drops], [10, 11, 12, undefined]],
      [16, Buffer.from('00e1f50500000000' + '10000000', 'hex'), (s) => [s.bbr?.bwBytesPerSec, s.bbr?.minRttUs, s.bbr?.pacingGain], [100000000n, 16, undefined]],
    ];
    for (const [type, payload, pick, expected] of cases) {
      for (const len of [0, 3, payload.length, payload.length + 9]) {
        const bytes = Buffer.alloc(len, 0x77);
        payload.copy(bytes, 0, 0, Math.min(len, payload.length));
        const m = encodeInetMessage({ msg: { family: 2 }, attrs: { unknown: [{ type, bytes }] } });
        const s = decodeInetMessage(m, 0, m.length, 6) as TcpSocket;
        const got = pick(s);
        if (len === payload.length) expect(got).toEqual(expected);
        else if (len > payload.length) expected.forEach((e, i) => e !== undefined && expect(got[i]).toEqual(e));
        else if (len === 0) expect(got.every((x) => x === undefined)).toBe(true);
      }
    }
    // mptcp_info as the 6.1 headers have it (48 bytes) and as 6.18 sends it (96).
    for (const len of [0, 43, 48, 96, 120]) {
      const full = structToBuffer(mptcpInfo, { subflows: 3, csumEnabled: 1, bytesAcked: 5n, lastAckRecvMs: 9 }, 96);
      const bytes = Buffer.concat([full, Buffer.alloc(24, 1)]).subarray(0, len);
      const m = encodeInetMessage({ msg: { family: 2 }, attrs: { unknown: [{ type: 2, bytes }] } });
      const info = (decodeInetMessage(m, 0, m.length, 262) as MptcpSocket).info!;
      expect(info.subflows).toBe(len >= 1 ? 3 : undefined);
      expect(info.csumEnabled).toBe(len >= 43 ? 1 : undefined);
      expect(info.bytesAcked).toBe(len >= 80 ? 5n : undefined);
      expect(info.lastAckRecvMs).toBe(len >= 96 ? 9 : undefined);
      expect(info.tail).toEqual(len > 96 ? Buffer.alloc(len - 96, 1) : undefined);
    }
  });

  test('INET_DIAG_INFO is mptcp_info for MPTCP, and raw bytes for UDP', () => {
    const mi = structToBuffer(mptcpInfo, { subflows: 2, token: 0xfeedface, bytesSent: 77n });
    const m = encodeInetMessage({ msg: { family: 2 }, attrs: { unknown: [{ type: 2, bytes: mi }] } });
    expect((decodeInetMessage(m, 0, m.length, 262) as MptcpSocket).info).toMatchObject({ subflows: 2, token: 0xfeedface, bytesSent: 77n });
    expect(decodeInetMessage(m, 0, m.length, 262).protocol).toBe('mptcp');
    expect(decodeInetMessage(m, 0, m.length, 17).info).toEqual(mi);
  });

  test('events: protocol -1 takes it from INET_DIAG_PROTOCOL', () => {
    const m = encodeInetMessage({ msg: { family: 2, state: 7 }, attrs: { protocolNumber: 17 } });
    expect(decodeInetMessage(m, 0, m.length, -1).protocol).toBe('udp');
  });
});

describe('F1: malformed inet messages', () => {
  const full = encodeInetMessage({
    msg: { family: 2, state: 1, sport: 22, dport: 40000, cookie: 77n, inode: 9 },
    attrs: { info: structToBuffer(tcpInfo, { rttUs: 5 }, 280) as never, cong: 'cubic', skmem: { rmemAlloc: 1, rcvbuf: 2, wmemAlloc: 3, sndbuf: 4, fwdAlloc: 5, wmemQueued: 6, optmem: 7, backlog: 8, drops: 9 }, ulp: { name: 'tls', tls: { version: 0x303, cipher: 51 } } },
  });
  const decodeAll = (b: Buffer, off: number, len: number): unknown => plain(decodeInetMessage(b, off, len, 6));

  test('truncation at every offset gives a socket or a DecodeError, nothing else', () => {
    for (let n = 0; n <= full.length; n++) {
      const m = Buffer.from(full.subarray(0, n));
      try {
        decodeAll(m, 0, n);
      } catch (err) {
        expect(err).toBeInstanceOf(DecodeError);
      }
    }
  });

  test('random bytes and random mutations never escape as another error class', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ minLength: 88, maxLength: 4096 }), fc.tuple(fc.nat(full.length - 1), fc.integer({ min: 0, max: 255 }), fc.nat(full.length)).map(([at, v, cut]) => {
        const m = Buffer.from(full);
        m[at] = v;
        return m.subarray(0, Math.max(cut, 88));
      })), (bytes) => {
        const b = Buffer.from(bytes);
        try {
          decodeAll(b, 0, b.length);
        } catch (err) {
          if (!(err instanceof DecodeError)) throw err;
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('the decoder reads nothing outside its message (sentinels around it change nothing)', () => {
    fc.assert(
      fc.property(fc.nat(64), fc.nat(64), fc.integer({ min: 0, max: 255 }), (before, after, fill) => {
        const big = Buffer.alloc(before + full.length + after, fill);
        full.copy(big, before);
        expect(decodeAll(big, before, full.length)).toEqual(decodeAll(full, 0, full.length));
      }),
      { numRuns: 200 },
    );
  });

  test('round trip: encode → decode → encode is stable for generated messages', () => {
    const arb = fc.record({
      family: fc.constantFrom(2, 10), state: fc.integer({ min: 1, max: 12 }), sport: fc.integer({ min: 0, max: 65535 }), dport: fc.integer({ min: 0, max: 65535 }),
      cookie: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), inode: fc.nat(), uid: fc.nat(), rqueue: fc.nat(), wqueue: fc.nat(),
      rtt: fc.nat(), cong: fc.constantFrom('bbr', 'cubic', 'reno'), tos: fc.integer({ min: 0, max: 255 }), mark: fc.nat(),
    });
    fc.assert(
      fc.property(arb, (v) => {
        const input: InetMessageInput = {
          msg: { family: v.family, state: v.state, sport: v.sport, dport: v.dport, cookie: v.cookie, inode: v.inode, uid: v.uid, rqueue: v.rqueue, wqueue: v.wqueue },
          attrs: { cong: v.cong, tos: v.tos, mark: v.mark, info: { rttUs: v.rtt } as never },
        };
        const m1 = encodeInetMessage(input);
        const s = decodeInetMessage(m1, 0, m1.length, 6) as TcpSocket;
        expect(s.info?.rttUs).toBe(v.rtt);
        expect(s.cookie).toBe(v.cookie);
        const attrs = plain(s);
        const m2 = encodeInetMessage({ msg: input.msg, attrs: { cong: attrs.cong as string, tos: attrs.tos as number, mark: attrs.mark as number, info: attrs.info as never } });
        expect(m2.equals(m1)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('IPv6 text matches inet_ntop', () => {
  test('against python3 socket.inet_ntop on generated addresses', () => {
    const words = fc.constantFrom(0, 0, 0, 0, 1, 0xffff, 0xdb8, 0xabcd);
    const addrs = fc.sample(fc.array(words, { minLength: 8, maxLength: 8 }), 400).map((w) => {
      const b = Buffer.alloc(16);
      w.forEach((x, i) => b.writeUInt16BE(x, 2 * i));
      return b;
    });
    addrs.push(Buffer.from('00000000000000000000ffff7f000001', 'hex'), Buffer.from('00000000000000000000000001020304', 'hex'), Buffer.alloc(16));
    const py = spawnSync('python3', ['-c', 'import sys,socket\nfor l in sys.stdin: print(socket.inet_ntop(socket.AF_INET6, bytes.fromhex(l.strip())))'], { input: addrs.map((a) => a.toString('hex')).join('\n'), encoding: 'utf8' });
    expect(py.status).toBe(0);
    expect(addrs.map((a) => formatIPv6(a, 0))).toEqual(py.stdout.trim().split('\n'));
  });
});

test('NLMSG_DONE ends each recorded dump: two in the file of ss -D, one in the legacy reply, each the last message of its dump', () => {
  const ss = dumpMessages(readFileSync(SS_DUMP)).map((m) => m.type);
  const legacy = dumpMessages(readFileSync(TCPDIAG_DUMP)).map((m) => m.type);
  expect(ss.filter((t) => t === NLMSG.DONE)).toHaveLength(2);
  expect(ss[ss.length - 1]).toBe(NLMSG.DONE);
  expect(legacy.indexOf(NLMSG.DONE)).toBe(legacy.length - 1);
});
