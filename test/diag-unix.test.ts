import { stateMask } from '../lib/diag/constants';
import fc from 'fast-check';
import { existsSync, readFileSync } from 'node:fs';
import {
  decodeUnixMessage,
  encodeUnixGetRequest,
  encodeUnixMessage,
  encodeUnixRequest,
  unixAttributes,
  unixDiagMsg,
  unixDiagReq,
  unixDiagRqlen,
  unixDiagVfs,
  UnixMessageInput,
  UnixSocket,
  UDIAG_SHOW,
  UDIAG_SHOW_ALL,
} from '../lib/diag/unix';
import { skMeminfo } from '../lib/diag/common/skmeminfo';
import { STATE_NAMES } from '../lib/diag/constants';
import { DecodeError } from '../lib/errors';
import { encodeAttributes } from '../lib/netlink/attributes';
import { StructSpec, structToBuffer } from '../lib/netlink/struct';
import { FamilyDecoder, IDLE_MEMINFO, arbRawTlvs, arbStruct, arbUnknown, assertConfined, assertGarbage, checkDecodes, checkEveryCut, expectCLayout, headerDefines, headerEnum, nlmsg, skMeminfoBytes } from './helpers/decoder-harness';

// ---------------------------------------------------------------------------------------
// Golden fixtures: replies captured from a Linux 6.18 kernel (python sockets + a
// SOCK_DIAG_BY_FAMILY dump with udiag_show = 0x7f), annotated field by field.

/** A SOCK_DGRAM socket bound to /tmp/sdfix.sock with two datagrams queued (100 and 7 bytes). */
const DGRAM_BOUND = Buffer.from([
  0x84, 0x00, 0x00, 0x00, // nlmsg_len 132
  0x14, 0x00, // nlmsg_type SOCK_DIAG_BY_FAMILY
  0x02, 0x00, // nlmsg_flags NLM_F_MULTI
  0x01, 0x00, 0x00, 0x00, // nlmsg_seq 1
  0x61, 0x31, 0x00, 0x00, // nlmsg_pid 12641
  0x01, // udiag_family AF_UNIX
  0x02, // udiag_type SOCK_DGRAM
  0x01, // udiag_state TCP_ESTABLISHED
  0x00, // pad
  0x9f, 0xdc, 0x03, 0x00, // udiag_ino 253087
  0x37, 0x1c, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, // udiag_cookie 0x21c37
  0x14, 0x00, 0x00, 0x00, // nla_len 20, UNIX_DIAG_NAME
  0x2f, 0x74, 0x6d, 0x70, 0x2f, 0x73, 0x64, 0x66, 0x69, 0x78, 0x2e, 0x73, 0x6f, 0x63, 0x6b, 0x00, // "/tmp/sdfix.sock\0"
  0x0c, 0x00, 0x01, 0x00, // nla_len 12, UNIX_DIAG_VFS
  0x14, 0xc3, 0x20, 0x00, // udiag_vfs_ino 2147092
  0x00, 0x00, 0xe0, 0x0f, // udiag_vfs_dev 0x0fe00000 (254:0)
  0x0c, 0x00, 0x04, 0x00, // nla_len 12, UNIX_DIAG_RQLEN
  0x64, 0x00, 0x00, 0x00, // udiag_rqueue 100 (the first datagram)
  0x00, 0x00, 0x00, 0x00, // udiag_wqueue 0
  0x28, 0x00, 0x05, 0x00, // nla_len 40, UNIX_DIAG_MEMINFO
  ...skMeminfoBytes(IDLE_MEMINFO), // rcvbuf and sndbuf 212992, the rest 0
  0x05, 0x00, 0x06, 0x00, // nla_len 5, UNIX_DIAG_SHUTDOWN
  0x00, 0x00, 0x00, 0x00, // mask 0, then 3 bytes of padding
  0x08, 0x00, 0x07, 0x00, // nla_len 8, UNIX_DIAG_UID
  0x00, 0x00, 0x00, 0x00, // uid 0
]);

/** A SOCK_STREAM listener on the abstract name "\0sdfix", backlog 4, one connection pending. */
const STREAM_LISTEN_ABSTRACT = Buffer.from([
  0x78, 0x00, 0x00, 0x00, // nlmsg_len 120
  0x14, 0x00, // nlmsg_type SOCK_DIAG_BY_FAMILY
  0x02, 0x00, // nlmsg_flags NLM_F_MULTI
  0x01, 0x00, 0x00, 0x00, // nlmsg_seq 1
  0x61, 0x31, 0x00, 0x00, // nlmsg_pid 12641
  0x01, // udiag_family AF_UNIX
  0x01, // udiag_type SOCK_STREAM
  0x0a, // udiag_state TCP_LISTEN
  0x00, // pad
  0x9d, 0xdc, 0x03, 0x00, // udiag_ino 253085
  0x44, 0x1c, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, // udiag_cookie 0x21c44
  0x0a, 0x00, 0x00, 0x00, // nla_len 10, UNIX_DIAG_NAME
  0x00, 0x73, 0x64, 0x66, 0x69, 0x78, 0x00, 0x00, // "\0sdfix", then 2 bytes of padding
  0x08, 0x00, 0x03, 0x00, // nla_len 8, UNIX_DIAG_ICONS
  0x9e, 0xdc, 0x03, 0x00, // pending connection: inode 253086
  0x0c, 0x00, 0x04, 0x00, // nla_len 12, UNIX_DIAG_RQLEN
  0x01, 0x00, 0x00, 0x00, // udiag_rqueue 1 (connections to accept)
  0x04, 0x00, 0x00, 0x00, // udiag_wqueue 4 (backlog)
  0x28, 0x00, 0x05, 0x00, // nla_len 40, UNIX_DIAG_MEMINFO
  ...skMeminfoBytes(IDLE_MEMINFO), // rcvbuf and sndbuf 212992, the rest 0
  0x05, 0x00, 0x06, 0x00, // nla_len 5, UNIX_DIAG_SHUTDOWN
  0x00, 0x00, 0x00, 0x00, // mask 0 + padding
  0x08, 0x00, 0x07, 0x00, // nla_len 8, UNIX_DIAG_UID
  0x00, 0x00, 0x00, 0x00, // uid 0
]);

/** An unnamed SOCK_DGRAM sender connected to the bound socket above, after shutdown(SHUT_RD). */
const DGRAM_SENDER = Buffer.from([
  0x6c, 0x00, 0x00, 0x00, // nlmsg_len 108
  0x14, 0x00, // nlmsg_type SOCK_DIAG_BY_FAMILY
  0x02, 0x00, // nlmsg_flags NLM_F_MULTI
  0x01, 0x00, 0x00, 0x00, // nlmsg_seq 1
  0x61, 0x31, 0x00, 0x00, // nlmsg_pid 12641
  0x01, // udiag_family AF_UNIX
  0x02, // udiag_type SOCK_DGRAM
  0x01, // udiag_state TCP_ESTABLISHED
  0x00, // pad
  0xa0, 0xdc, 0x03, 0x00, // udiag_ino 253088
  0x3e, 0x1c, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, // udiag_cookie 0x21c3e
  0x08, 0x00, 0x02, 0x00, // nla_len 8, UNIX_DIAG_PEER
  0x9f, 0xdc, 0x03, 0x00, // peer inode 253087
  0x0c, 0x00, 0x04, 0x00, // nla_len 12, UNIX_DIAG_RQLEN
  0x00, 0x00, 0x00, 0x00, // udiag_rqueue 0
  0x00, 0x06, 0x00, 0x00, // udiag_wqueue 1536 (memory of the two unread datagrams)
  0x28, 0x00, 0x05, 0x00, // nla_len 40, UNIX_DIAG_MEMINFO
  ...skMeminfoBytes({ ...IDLE_MEMINFO, wmemAlloc: 1536 }), // the two unread datagrams in SK_MEMINFO_WMEM_ALLOC
  0x05, 0x00, 0x06, 0x00, // nla_len 5, UNIX_DIAG_SHUTDOWN
  0x01, 0x00, 0x00, 0x00, // mask RCV_SHUTDOWN + padding
  0x08, 0x00, 0x07, 0x00, // nla_len 8, UNIX_DIAG_UID
  0x00, 0x00, 0x00, 0x00, // uid 0
]);

const UNIX: FamilyDecoder = { decode: decodeUnixMessage, protocol: 'unix', af: 1 };
const ATTRS = 32; // nlmsghdr + unix_diag_msg
const FIXTURES: Array<[string, Buffer]> = [['dgram bound', DGRAM_BOUND], ['stream listener', STREAM_LISTEN_ABSTRACT], ['dgram sender', DGRAM_SENDER]];

describe('unix_diag tables', () => {
  test('struct layouts match the C headers (gcc offsetof/sizeof)', () => {
    const specs: Array<[StructSpec, string]> = [[unixDiagReq, 'unix_diag_req'], [unixDiagMsg, 'unix_diag_msg'], [unixDiagVfs, 'unix_diag_vfs'], [unixDiagRqlen, 'unix_diag_rqlen']];
    const expected = expectCLayout(['linux/unix_diag.h'], specs);
    expect(expected).toContain('unix_diag_req.udiag_cookie 16 8');
    expect(expected).toContain('unix_diag_msg.udiag_ino 4 4');
  });

  const header = '/usr/include/linux/unix_diag.h';
  (existsSync(header) ? test : test.skip)('one attribute row per UNIX_DIAG_* constant, and the UDIAG_SHOW_* bits', () => {
    const text = readFileSync(header, 'utf8');
    const rows = [...unixAttributes.rows].sort((a, b) => a.type - b.type);
    expect(rows.map((r) => [r.orig, r.type])).toEqual(headerEnum(text, 'UNIX_DIAG_'));
    const show = headerDefines(text, 'UDIAG_SHOW_');
    expect(UDIAG_SHOW).toEqual(show);
    expect(UDIAG_SHOW_ALL).toBe(Object.values(show).reduce((a, b) => a | b, 0));
  });

  test('the attribute rows, transcribed', () => {
    expect(unixAttributes.rows.map((r) => `${r.type} ${r.orig} ${r.name}`)).toEqual([
      '0 UNIX_DIAG_NAME path',
      '1 UNIX_DIAG_VFS vfs',
      '2 UNIX_DIAG_PEER peerInode',
      '3 UNIX_DIAG_ICONS icons',
      '4 UNIX_DIAG_RQLEN rqlen',
      '5 UNIX_DIAG_MEMINFO meminfo',
      '6 UNIX_DIAG_SHUTDOWN shutdown',
      '7 UNIX_DIAG_UID uid',
    ]);
  });
});

describe('unix_diag requests', () => {
  test('the default dump request asks for every state and every UDIAG_SHOW_* bit', () => {
    expect(encodeUnixRequest()).toEqual(Buffer.from([
      0x28, 0x00, 0x00, 0x00, // nlmsg_len 40
      0x14, 0x00, // nlmsg_type SOCK_DIAG_BY_FAMILY
      0x01, 0x03, // nlmsg_flags NLM_F_REQUEST | NLM_F_DUMP
      0x00, 0x00, 0x00, 0x00, // nlmsg_seq 0 (the dump loop sets it)
      0x00, 0x00, 0x00, 0x00, // nlmsg_pid 0
      0x01, // sdiag_family AF_UNIX
      0x00, // sdiag_protocol
      0x00, 0x00, // pad
      0xff, 0xff, 0xff, 0xff, // udiag_states: all
      0x00, 0x00, 0x00, 0x00, // udiag_ino
      0x7f, 0x00, 0x00, 0x00, // udiag_show NAME|VFS|PEER|ICONS|RQLEN|MEMINFO|UID
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // udiag_cookie
    ]));
  });

  test('what `ss -xa` sends (strace), apart from its seq 123456', () => {
    const ss = Buffer.from([
      0x28, 0x00, 0x00, 0x00, 0x14, 0x00, 0x01, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // header, seq 0
      0x01, 0x00, 0x00, 0x00, // AF_UNIX, protocol 0, pad
      0xff, 0x0f, 0x00, 0x00, // udiag_states 1<<0 | 1<<TCP_ESTABLISHED … 1<<TCP_CLOSING (0xfff)
      0x00, 0x00, 0x00, 0x00, // udiag_ino 0
      0x15, 0x00, 0x00, 0x00, // udiag_show NAME|PEER|RQLEN
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // udiag_cookie [0, 0]
    ]);
    expect(encodeUnixRequest({ states: 0xfff, show: UDIAG_SHOW.NAME | UDIAG_SHOW.PEER | UDIAG_SHOW.RQLEN })).toEqual(ss);
    const names = STATE_NAMES.slice(0, 12);
    expect(encodeUnixRequest({ states: names, show: 0x15 })).toEqual(ss);
  });

  test('state names become bits, bad ones are rejected', () => {
    expect(stateMask(['established', 'listening'])).toBe((1 << 1) | (1 << 10));
    expect(stateMask(undefined)).toBe(0xffffdfff); // all but bound-inactive (13), as ss -a
    expect(() => stateMask(['bogus' as never])).toThrow(TypeError);
    expect(() => stateMask(-1)).toThrow(RangeError);
    expect(() => encodeUnixRequest({ show: 2 ** 32 })).toThrow(RangeError);
  });

  test('a get request names one socket by inode and cookie, without NLM_F_DUMP', () => {
    expect(encodeUnixGetRequest({ inode: 253087, cookie: 0x21c37n, show: UDIAG_SHOW.NAME })).toEqual(Buffer.from([
      0x28, 0x00, 0x00, 0x00, // nlmsg_len 40
      0x14, 0x00, // SOCK_DIAG_BY_FAMILY
      0x01, 0x00, // NLM_F_REQUEST only
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // seq, pid
      0x01, 0x00, 0x00, 0x00, // AF_UNIX, protocol, pad
      0xff, 0xff, 0xff, 0xff, // udiag_states
      0x9f, 0xdc, 0x03, 0x00, // udiag_ino 253087
      0x01, 0x00, 0x00, 0x00, // udiag_show NAME
      0x37, 0x1c, 0x02, 0x00, // udiag_cookie[0]: low word
      0x00, 0x00, 0x00, 0x00, // udiag_cookie[1]: high word
    ]));
    // Without a cookie: INET_DIAG_NOCOOKIE in both words.
    expect(encodeUnixGetRequest({ inode: 5 }).subarray(32).toString('hex')).toBe('ffffffffffffffff');
    expect(() => encodeUnixGetRequest({ inode: 0 })).toThrow(RangeError);
    expect(() => encodeUnixGetRequest({ inode: 1, cookie: -1n })).toThrow(RangeError);
  });
});

describe('unix_diag replies: golden fixtures from the kernel', () => {
  test('a bound datagram socket with queued data', () => {
    const s = decodeUnixMessage(DGRAM_BOUND, 0, DGRAM_BOUND.length);
    expect(s).toStrictEqual<UnixSocket>({
      protocol: 'unix',
      family: 'unix',
      state: 'established',
      inode: 253087,
      uid: 0,
      cookie: 0x21c37n,
      recvQ: 100, // ss -xa showed "u_dgr ESTAB 100 0 /tmp/sdfix.sock 253087"
      sendQ: 0,
      unknown: undefined,
      processes: undefined,
      type: 'dgram',
      path: '/tmp/sdfix.sock',
      peerInode: undefined,
      vfs: { inode: 2147092, dev: 0x0fe00000 },
      icons: undefined,
      rqlen: { rqueue: 100, wqueue: 0 },
      shutdown: 0,
      meminfo: IDLE_MEMINFO,
    });
  });

  test('an abstract listener with a pending connection', () => {
    const s = decodeUnixMessage(STREAM_LISTEN_ABSTRACT, 0, STREAM_LISTEN_ABSTRACT.length);
    expect(s).toStrictEqual<UnixSocket>({
      protocol: 'unix',
      family: 'unix',
      state: 'listening',
      inode: 253085,
      uid: 0,
      cookie: 0x21c44n,
      recvQ: 1, // ss -xa showed "u_str LISTEN 1 4 @sdfix 253085 * 0"
      sendQ: 4,
      unknown: undefined,
      processes: undefined,
      type: 'stream',
      path: '@sdfix',
      peerInode: undefined,
      vfs: undefined,
      icons: [253086],
      rqlen: { rqueue: 1, wqueue: 4 },
      shutdown: 0,
      meminfo: IDLE_MEMINFO,
    });
  });

  test('a connected, half-shut sender', () => {
    const s = decodeUnixMessage(DGRAM_SENDER, 0, DGRAM_SENDER.length);
    expect(s).toMatchObject({ inode: 253088, cookie: 0x21c3en, path: undefined, peerInode: 253087, shutdown: 1, recvQ: 0, sendQ: 1536, rqlen: { rqueue: 0, wqueue: 1536 } });
    expect(s.meminfo).toEqual({ ...IDLE_MEMINFO, wmemAlloc: 1536 });
  });

  test('every socket object has the same keys in the same order (one hidden class)', () => {
    const keys = FIXTURES.map(([, b]) => Object.keys(decodeUnixMessage(b, 0, b.length)));
    expect(keys[1]).toEqual(keys[0]);
    expect(keys[2]).toEqual(keys[0]);
    expect(keys[0]).toEqual(['protocol', 'family', 'state', 'inode', 'uid', 'cookie', 'recvQ', 'sendQ', 'unknown', 'processes', 'type', 'path', 'peerInode', 'vfs', 'icons', 'rqlen', 'shutdown', 'meminfo']);
  });

  test('re-encoding a decoded fixture gives the kernel bytes back', () => {
    for (const [, b] of FIXTURES) {
      const s = decodeUnixMessage(b, 0, b.length);
      expect(encodeUnixMessage(s, { seq: 1, pid: 12641 })).toEqual(b);
    }
  });
});

describe('unix_diag replies built from the tables', () => {
  test('encodeStruct + encodeAttributes + nlmsghdr decode to the values put in', () => {
    const msg = structToBuffer(unixDiagMsg, { family: 1, type: 5, state: 7, inode: 0xfffffffe, cookie: 0xfedcba9876543210n });
    const attrs = encodeAttributes(unixAttributes, {
      path: '@x\0y',
      vfs: { inode: 9, dev: (8 << 20) | 1 },
      peerInode: 77,
      icons: [1, 2, 0xffffffff],
      rqlen: { rqueue: 3, wqueue: 4 },
      meminfo: { rmemAlloc: 1, rcvbuf: 2, wmemAlloc: 3, sndbuf: 4, fwdAlloc: 5, wmemQueued: 6, optmem: 7, backlog: 8, drops: 9 },
      shutdown: 3,
      uid: 1000,
    });
    const b = nlmsg(Buffer.concat([msg, attrs]));
    const s = decodeUnixMessage(b, 0, b.length);
    expect(s).toMatchObject({ type: 'seqpacket', state: 'closed', inode: 0xfffffffe, cookie: 0xfedcba9876543210n, path: '@x@y', peerInode: 77, icons: [1, 2, 0xffffffff], shutdown: 3, uid: 1000, recvQ: 3, sendQ: 4 });
    expect(s.vfs).toEqual({ inode: 9, dev: (8 << 20) | 1 });
    expect(s.meminfo?.drops).toBe(9);
  });

  test('names: path up to its NUL, abstract names with every NUL as @, UTF-8, empty', () => {
    const name = (bytes: number[]): string | undefined => {
      const b = nlmsg(Buffer.concat([structToBuffer(unixDiagMsg, { family: 1 }), Buffer.from([4 + bytes.length, 0, 0, 0, ...bytes, 0, 0, 0].slice(0, (4 + bytes.length + 3) & ~3))]));
      return decodeUnixMessage(b, 0, b.length).path;
    };
    expect(name([0x2f, 0x61, 0x00, 0x62])).toBe('/a');
    expect(name([0x00, 0x61, 0x00, 0x62, 0x00])).toBe('@a@b@');
    expect(name([0x00])).toBe('@');
    expect(name([])).toBe('');
    expect(name([0x2f, 0xc3, 0xa9])).toBe('/é');
    const unnamed = nlmsg(structToBuffer(unixDiagMsg, { family: 1 }));
    expect(decodeUnixMessage(unnamed, 0, unnamed.length).path).toBeUndefined();
  });

  test('unknown attribute types (flags masked) survive raw in .unknown, in order', () => {
    const b = nlmsg(Buffer.concat([
      structToBuffer(unixDiagMsg, { family: 1, type: 1 }),
      Buffer.from([
        0x07, 0x00, 0xf0, 0x7f, // nla_len 7, type 0x7ff0 (NLA_F_NET_BYTEORDER | 0x3ff0)
        0x01, 0x02, 0x03, 0x00, // payload 01 02 03, padding
        0x08, 0x00, 0x02, 0x00, // nla_len 8, UNIX_DIAG_PEER
        0x2a, 0x00, 0x00, 0x00, // 42
        0x0c, 0x00, 0x17, 0x80, // nla_len 12, type 23 | NLA_F_NESTED
        0x08, 0x00, 0x01, 0x00, 0x05, 0x00, 0x00, 0x00, // a nested attribute, kept as bytes
      ]),
    ]));
    const s = decodeUnixMessage(b, 0, b.length);
    expect(s.peerInode).toBe(42);
    expect(s.unknown).toEqual([
      { type: 0x3ff0, flags: 0x4000, bytes: Buffer.from([1, 2, 3]) },
      { type: 23, flags: 0x8000, bytes: Buffer.from([8, 0, 1, 0, 5, 0, 0, 0]) },
    ]);
  });

  test('a duplicated attribute: the first one wins', () => {
    const b = nlmsg(Buffer.concat([
      structToBuffer(unixDiagMsg, { family: 1 }),
      encodeAttributes(unixAttributes, { peerInode: 1, rqlen: { rqueue: 5, wqueue: 6 } }),
      encodeAttributes(unixAttributes, { peerInode: 2, rqlen: { rqueue: 7, wqueue: 8 } }),
    ]));
    const s = decodeUnixMessage(b, 0, b.length);
    expect([s.peerInode, s.recvQ, s.sendQ]).toEqual([1, 5, 6]);
  });

  test('short attribute payloads and bad lengths are DecodeErrors', () => {
    const head = structToBuffer(unixDiagMsg, { family: 1 });
    const bad = [
      [0x08, 0x00, 0x01, 0x00, 0, 0, 0, 0], // UNIX_DIAG_VFS with 4 bytes
      [0x0b, 0x00, 0x04, 0x00, 0, 0, 0, 0, 0, 0, 0, 0], // UNIX_DIAG_RQLEN with 7 bytes
      [0x06, 0x00, 0x02, 0x00, 0, 0, 0, 0], // UNIX_DIAG_PEER with 2 bytes
      [0x04, 0x00, 0x06, 0x00], // UNIX_DIAG_SHUTDOWN with none
      [0x03, 0x00, 0x00, 0x00], // nla_len below the header
      [0x10, 0x00, 0x02, 0x00, 0, 0, 0, 0], // nla_len past the end
    ];
    for (const a of bad) {
      const b = nlmsg(Buffer.concat([head, Buffer.from(a)]));
      expect(() => decodeUnixMessage(b, 0, b.length)).toThrow(DecodeError);
    }
  });

  test('a message that is not AF_UNIX, or too short, or outside the buffer, is a DecodeError', () => {
    const other = Buffer.from(DGRAM_BOUND);
    other[16] = 17;
    expect(() => decodeUnixMessage(other, 0, other.length)).toThrow(/not AF_UNIX/);
    expect(() => decodeUnixMessage(DGRAM_BOUND, 0, 31)).toThrow(DecodeError);
    expect(() => decodeUnixMessage(DGRAM_BOUND, 4, DGRAM_BOUND.length)).toThrow(DecodeError);
    expect(() => decodeUnixMessage(DGRAM_BOUND, -1, 40)).toThrow(DecodeError);
    expect(() => decodeUnixMessage(DGRAM_BOUND, 0.5, 40)).toThrow(DecodeError);
    expect(() => decodeUnixMessage(DGRAM_BOUND, 0, NaN)).toThrow(DecodeError);
  });
});

describe('unix_diag robustness', () => {
  test.each(FIXTURES)('%s: truncated at every offset, it decodes exactly when the cut is at an attribute boundary', (_, full) => {
    checkEveryCut(UNIX, full, ATTRS);
  });

  const arbInput: fc.Arbitrary<UnixMessageInput> = fc.record({
    type: fc.constantFrom('stream', 'dgram', 'seqpacket', 'unknown'),
    state: fc.constantFrom(...STATE_NAMES),
    inode: fc.integer({ min: 0, max: 0xffffffff }),
    cookie: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    path: fc.option(fc.oneof(fc.string({ unit: 'binary', maxLength: 110 }), fc.string({ unit: 'binary', maxLength: 107 }).map((s) => '@' + s)), { nil: undefined }),
    vfs: fc.option(arbStruct(unixDiagVfs), { nil: undefined }),
    peerInode: fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }),
    icons: fc.option(fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 40 }), { nil: undefined }),
    rqlen: fc.option(arbStruct(unixDiagRqlen), { nil: undefined }),
    meminfo: fc.option(arbStruct(skMeminfo), { nil: undefined }),
    shutdown: fc.option(fc.integer({ min: 0, max: 0xff }), { nil: undefined }),
    uid: fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }),
    unknown: arbUnknown,
  }) as fc.Arbitrary<UnixMessageInput>;

  test('the generator covers every attribute row', () => {
    const sample = fc.sample(arbInput, 1)[0];
    for (const r of unixAttributes.rows) expect(Object.keys(sample)).toContain(r.name);
  });

  test('decode → encode → decode is stable, and values come back as they were put in', () => {
    fc.assert(
      fc.property(arbInput, (input) => {
        const b1 = encodeUnixMessage(input);
        const s1 = decodeUnixMessage(b1, 0, b1.length);
        const b2 = encodeUnixMessage(s1);
        const s2 = decodeUnixMessage(b2, 0, b2.length);
        expect(s2).toStrictEqual(s1);
        expect(encodeUnixMessage(s2)).toEqual(b2);
        for (const k of ['type', 'state', 'inode', 'cookie', 'vfs', 'peerInode', 'icons', 'rqlen', 'meminfo', 'shutdown', 'uid', 'unknown'] as const) {
          if (input[k] !== undefined) expect(s1[k]).toEqual(input[k]);
        }
        const p = input.path;
        if (p !== undefined && Buffer.from(p).toString() === p && !p.startsWith('\0')) {
          expect(s1.path).toBe(p.startsWith('@') ? p.replace(/\0/g, '@') : p.split('\0')[0]);
        }
        expect(s1.recvQ).toBe(input.rqlen?.rqueue ?? 0);
        expect(s1.sendQ).toBe(input.rqlen?.wqueue ?? 0);
      }),
      { numRuns: 500 },
    );
  });

  test('generated messages, truncated and mutated, decode or throw DecodeError, reading only their own bytes', () => {
    assertConfined(UNIX, arbInput.map((input) => encodeUnixMessage(input)));
  });

  test('random garbage decodes or throws DecodeError, whatever the offset and length', () => {
    assertGarbage(UNIX);
  });

  test('an attribute stream of random TLVs decodes or throws DecodeError', () => {
    const head = structToBuffer(unixDiagMsg, { family: 1 });
    fc.assert(fc.property(arbRawTlvs, (tlvs) => checkDecodes(UNIX, nlmsg(Buffer.concat([head, tlvs])))), { numRuns: 1000 });
  });
});
