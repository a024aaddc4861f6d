import fc from 'fast-check';
import { existsSync, readFileSync } from 'node:fs';
import {
  decodeNetlinkMessage,
  encodeNetlinkMessage,
  encodeNetlinkRequest,
  netlinkAttributes,
  netlinkDiagMsg,
  netlinkDiagReq,
  netlinkDiagRing,
  NetlinkMessageInput,
  NetlinkSocket,
  NDIAG_FLAG,
  NDIAG_PROTO_ALL,
  NDIAG_SHOW,
  NDIAG_SHOW_ALL,
} from '../lib/diag/netlink';
import { skMeminfo } from '../lib/diag/common/skmeminfo';
import { DecodeError } from '../lib/errors';
import { encodeAttributes } from '../lib/netlink/attributes';
import { StructSpec, structToBuffer } from '../lib/netlink/struct';
import { FamilyDecoder, IDLE_MEMINFO, arbRawTlvs, arbStruct, arbUnknown, assertConfined, assertGarbage, checkDecodes, checkEveryCut, expectCLayout, headerDefines, headerEnum, nlmsg, skMeminfoBytes } from './helpers/decoder-harness';

// ---------------------------------------------------------------------------------------
// Golden fixtures: replies captured from a Linux 6.18 kernel (python sockets + a
// SOCK_DIAG_BY_FAMILY dump with ndiag_show = 0x0f), annotated field by field.

/** NETLINK_ROUTE, SOCK_RAW, bound to groups RTMGRP_LINK | RTMGRP_NEIGH, with PKTINFO, NO_ENOBUFS and CAP_ACK. */
const ROUTE_GROUPS = Buffer.from([
  0x68, 0x00, 0x00, 0x00, // nlmsg_len 104
  0x14, 0x00, // nlmsg_type SOCK_DIAG_BY_FAMILY
  0x02, 0x00, // nlmsg_flags NLM_F_MULTI
  0x01, 0x00, 0x00, 0x00, // nlmsg_seq 1
  0xbb, 0x32, 0x00, 0x00, // nlmsg_pid 12987
  0x10, // ndiag_family AF_NETLINK
  0x03, // ndiag_type SOCK_RAW
  0x00, // ndiag_protocol NETLINK_ROUTE
  0x07, // ndiag_state 7 (never connected: the TCP_CLOSE that sock_init_data leaves)
  0xbb, 0x32, 0x00, 0x00, // ndiag_portid 12987
  0x00, 0x00, 0x00, 0x00, // ndiag_dst_portid 0
  0x00, 0x00, 0x00, 0x00, // ndiag_dst_group 0
  0xc5, 0xf8, 0x03, 0x00, // ndiag_ino 260293
  0xd0, 0x3b, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, // ndiag_cookie 0x23bd0
  0x0c, 0x00, 0x01, 0x00, // nla_len 12, NETLINK_DIAG_GROUPS (one unsigned long)
  0x05, 0x00, 0x00, 0x00, // groups 1 and 3
  0x00, 0x00, 0x00, 0x00, // groups 33..64: none
  0x28, 0x00, 0x00, 0x00, // nla_len 40, NETLINK_DIAG_MEMINFO
  ...skMeminfoBytes(IDLE_MEMINFO), // rcvbuf and sndbuf 212992, the rest 0
  0x08, 0x00, 0x04, 0x00, // nla_len 8, NETLINK_DIAG_FLAGS
  0x2a, 0x00, 0x00, 0x00, // PKTINFO | NO_ENOBUFS | CAP_ACK
]);

/** NETLINK_GENERIC, SOCK_DGRAM, connected to the kernel (port 0, group 0); no groups. */
const GENERIC_CONNECTED = Buffer.from([
  0x5c, 0x00, 0x00, 0x00, // nlmsg_len 92
  0x14, 0x00, // nlmsg_type SOCK_DIAG_BY_FAMILY
  0x02, 0x00, // nlmsg_flags NLM_F_MULTI
  0x01, 0x00, 0x00, 0x00, // nlmsg_seq 1
  0xbb, 0x32, 0x00, 0x00, // nlmsg_pid 12987
  0x10, // ndiag_family AF_NETLINK
  0x02, // ndiag_type SOCK_DGRAM
  0x10, // ndiag_protocol NETLINK_GENERIC
  0x01, // ndiag_state NETLINK_CONNECTED
  0xbb, 0x32, 0x00, 0x00, // ndiag_portid 12987
  0x00, 0x00, 0x00, 0x00, // ndiag_dst_portid 0 (the kernel)
  0x00, 0x00, 0x00, 0x00, // ndiag_dst_group 0
  0xc6, 0xf8, 0x03, 0x00, // ndiag_ino 260294
  0xd2, 0x3b, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, // ndiag_cookie 0x23bd2
  0x28, 0x00, 0x00, 0x00, // nla_len 40, NETLINK_DIAG_MEMINFO
  ...skMeminfoBytes(IDLE_MEMINFO), // rcvbuf and sndbuf 212992, the rest 0
  0x08, 0x00, 0x04, 0x00, // nla_len 8, NETLINK_DIAG_FLAGS
  0x00, 0x00, 0x00, 0x00, // none
]);

/** Built by hand: an autobound port id (negative), a queued reply, and the pre-4.6 ring attributes. */
const AUTOBOUND_RINGS = Buffer.from([
  0x84, 0x00, 0x00, 0x00, // nlmsg_len 132
  0x14, 0x00, // nlmsg_type SOCK_DIAG_BY_FAMILY
  0x02, 0x00, // nlmsg_flags NLM_F_MULTI
  0x00, 0x00, 0x00, 0x00, // nlmsg_seq 0
  0x00, 0x00, 0x00, 0x00, // nlmsg_pid 0
  0x10, // ndiag_family AF_NETLINK
  0x03, // ndiag_type SOCK_RAW
  0x04, // ndiag_protocol NETLINK_SOCK_DIAG
  0x01, // ndiag_state NETLINK_CONNECTED
  0xff, 0xef, 0xff, 0xff, // ndiag_portid -4097 (the kernel's autobind rover)
  0xfe, 0xff, 0xff, 0xff, // ndiag_dst_portid -2
  0x05, 0x00, 0x00, 0x00, // ndiag_dst_group 5
  0x01, 0x00, 0x00, 0x80, // ndiag_ino 0x80000001
  0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, // ndiag_cookie 0x8000000000000001
  0x28, 0x00, 0x00, 0x00, // nla_len 40, NETLINK_DIAG_MEMINFO
  ...skMeminfoBytes({ ...IDLE_MEMINFO, rmemAlloc: 4352, wmemAlloc: 832, drops: 3 }), // a queued reply
  0x14, 0x00, 0x02, 0x00, // nla_len 20, NETLINK_DIAG_RX_RING
  0x00, 0x10, 0x00, 0x00, // ndr_block_size 4096
  0x40, 0x00, 0x00, 0x00, // ndr_block_nr 64
  0x00, 0x08, 0x00, 0x00, // ndr_frame_size 2048
  0x80, 0x00, 0x00, 0x00, // ndr_frame_nr 128
  0x14, 0x00, 0x03, 0x00, // nla_len 20, NETLINK_DIAG_TX_RING
  0x00, 0x20, 0x00, 0x00, // ndr_block_size 8192
  0x01, 0x00, 0x00, 0x00, // ndr_block_nr 1
  0x00, 0x20, 0x00, 0x00, // ndr_frame_size 8192
  0x01, 0x00, 0x00, 0x00, // ndr_frame_nr 1
  0x08, 0x00, 0x04, 0x00, // nla_len 8, NETLINK_DIAG_FLAGS
  0x15, 0x00, 0x00, 0x00, // CB_RUNNING | BROADCAST_ERROR | LISTEN_ALL_NSID
]);

const NETLINK: FamilyDecoder = { decode: decodeNetlinkMessage, protocol: 'netlink', af: 16 };
const NO_FLAGS = { raw: 0, cbRunning: false, pktinfo: false, broadcastError: false, noEnobufs: false, listenAllNsid: false, capAck: false };
const ATTRS = 44; // nlmsghdr + netlink_diag_msg
const FIXTURES: Array<[string, Buffer]> = [['route with groups', ROUTE_GROUPS], ['generic connected', GENERIC_CONNECTED], ['autobound with rings', AUTOBOUND_RINGS]];
const head = (v: Record<string, unknown> = {}): Buffer => structToBuffer(netlinkDiagMsg, { family: 16, type: 3, ...v });

describe('netlink_diag tables', () => {
  test('struct layouts match the C headers (gcc offsetof/sizeof)', () => {
    const specs: Array<[StructSpec, string]> = [[netlinkDiagReq, 'netlink_diag_req'], [netlinkDiagMsg, 'netlink_diag_msg'], [netlinkDiagRing, 'netlink_diag_ring']];
    const expected = expectCLayout(['linux/netlink_diag.h'], specs);
    expect(expected).toContain('netlink_diag_req 20\n');
    expect(expected).toContain('netlink_diag_msg.ndiag_cookie 20 8');
  });

  const header = '/usr/include/linux/netlink_diag.h';
  (existsSync(header) ? test : test.skip)('one attribute row per NETLINK_DIAG_* constant, the NDIAG_SHOW_* and NDIAG_FLAG_* bits', () => {
    const text = readFileSync(header, 'utf8');
    const rows = [...netlinkAttributes.rows].sort((a, b) => a.type - b.type);
    expect(rows.map((r) => [r.orig, r.type])).toEqual(headerEnum(text, 'NETLINK_DIAG_'));
    const show = headerDefines(text, 'NDIAG_SHOW_');
    expect(NDIAG_SHOW).toEqual(show);
    expect(NDIAG_SHOW_ALL).toBe(Object.values(show).reduce((a, b) => a | b, 0));
    const flags = headerDefines(text, 'NDIAG_FLAG_');
    const camel = (s: string): string => s.toLowerCase().replace(/_(\w)/g, (_, c: string) => c.toUpperCase());
    expect(NDIAG_FLAG).toEqual(Object.fromEntries(Object.entries(flags).map(([k, v]) => [camel(k), v])));
    expect(text).toMatch(/#define NDIAG_PROTO_ALL\s+\(\(__u8\) ~0\)/);
    expect(NDIAG_PROTO_ALL).toBe(255);
  });

  test('the attribute rows, transcribed (in the order the kernel emits them)', () => {
    expect(netlinkAttributes.rows.map((r) => `${r.type} ${r.orig} ${r.name}`)).toEqual([
      '1 NETLINK_DIAG_GROUPS groups',
      '0 NETLINK_DIAG_MEMINFO meminfo',
      '2 NETLINK_DIAG_RX_RING rxRing',
      '3 NETLINK_DIAG_TX_RING txRing',
      '4 NETLINK_DIAG_FLAGS flags',
    ]);
  });
});

describe('netlink_diag requests', () => {
  test('the default dump request: every protocol, every NDIAG_SHOW_* bit', () => {
    expect(encodeNetlinkRequest()).toEqual(Buffer.from([
      0x24, 0x00, 0x00, 0x00, // nlmsg_len 36
      0x14, 0x00, // nlmsg_type SOCK_DIAG_BY_FAMILY
      0x01, 0x03, // nlmsg_flags NLM_F_REQUEST | NLM_F_DUMP
      0x00, 0x00, 0x00, 0x00, // nlmsg_seq 0
      0x00, 0x00, 0x00, 0x00, // nlmsg_pid 0
      0x10, // sdiag_family AF_NETLINK
      0xff, // sdiag_protocol NDIAG_PROTO_ALL
      0x00, 0x00, // pad
      0x00, 0x00, 0x00, 0x00, // ndiag_ino
      0x0f, 0x00, 0x00, 0x00, // ndiag_show MEMINFO|GROUPS|RING_CFG|FLAGS
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // ndiag_cookie
    ]));
  });

  test('what `ss -A netlink -a` sends (strace), apart from its seq 123456', () => {
    expect(encodeNetlinkRequest({ show: NDIAG_SHOW.MEMINFO | NDIAG_SHOW.GROUPS }).toString('hex')).toBe(
      '24000000' + '1400' + '0103' + '00000000' + '00000000' + // header
      '10' + 'ff' + '0000' + '00000000' + // AF_NETLINK, NDIAG_PROTO_ALL, pad, ndiag_ino 0
      '03000000' + // ndiag_show MEMINFO|GROUPS
      '0000000000000000', // ndiag_cookie [0, 0]
    );
  });

  test('one protocol; bad options are rejected', () => {
    expect(encodeNetlinkRequest({ protocol: 16 })[17]).toBe(16);
    expect(() => encodeNetlinkRequest({ protocol: 256 })).toThrow(RangeError);
    expect(() => encodeNetlinkRequest({ show: 1.5 })).toThrow(RangeError);
  });
});

describe('netlink_diag replies: golden fixtures', () => {
  test('a route socket in two groups, with socket options set', () => {
    const s = decodeNetlinkMessage(ROUTE_GROUPS, 0, ROUTE_GROUPS.length);
    expect(s).toStrictEqual<NetlinkSocket>({
      protocol: 'netlink',
      family: 'netlink',
      state: 'closed',
      inode: 260293,
      uid: undefined,
      cookie: 0x23bd0n,
      recvQ: 0,
      sendQ: 0,
      unknown: undefined,
      processes: undefined,
      type: 'raw',
      netlinkProtocol: 0,
      connected: false,
      portId: 12987,
      dstPortId: 0,
      dstGroup: 0,
      meminfo: IDLE_MEMINFO,
      groups: [5, 0], // ss -A netlink -e printed groups=0x00000005
      rxRing: undefined,
      txRing: undefined,
      flags: { raw: 0x2a, cbRunning: false, pktinfo: true, broadcastError: false, noEnobufs: true, listenAllNsid: false, capAck: true },
    });
  });

  test('a connected generic socket', () => {
    const s = decodeNetlinkMessage(GENERIC_CONNECTED, 0, GENERIC_CONNECTED.length);
    expect(s).toMatchObject({ type: 'dgram', netlinkProtocol: 16, connected: true, portId: 12987, dstPortId: 0, dstGroup: 0, inode: 260294, cookie: 0x23bd2n, groups: undefined, flags: NO_FLAGS });
  });

  test('signed port ids, rings, and Recv-Q/Send-Q from SK_MEMINFO_RMEM_ALLOC/WMEM_ALLOC', () => {
    const s = decodeNetlinkMessage(AUTOBOUND_RINGS, 0, AUTOBOUND_RINGS.length);
    expect(s).toMatchObject({ netlinkProtocol: 4, connected: true, portId: -4097, dstPortId: -2, dstGroup: 5, inode: 0x80000001, cookie: 0x8000000000000001n, recvQ: 4352, sendQ: 832 });
    expect(s.rxRing).toEqual({ blockSizeBytes: 4096, blockCount: 64, frameSizeBytes: 2048, frameCount: 128 });
    expect(s.txRing).toEqual({ blockSizeBytes: 8192, blockCount: 1, frameSizeBytes: 8192, frameCount: 1 });
    expect(s.flags).toEqual({ ...NO_FLAGS, raw: 0x15, cbRunning: true, broadcastError: true, listenAllNsid: true });
    expect(s.meminfo?.drops).toBe(3);
  });

  test('every socket object has the same keys in the same order (one hidden class)', () => {
    const keys = FIXTURES.map(([, b]) => Object.keys(decodeNetlinkMessage(b, 0, b.length)));
    const bare = encodeNetlinkMessage({});
    expect(keys[1]).toEqual(keys[0]);
    expect(keys[2]).toEqual(keys[0]);
    expect(Object.keys(decodeNetlinkMessage(bare, 0, bare.length))).toEqual(keys[0]);
    expect(keys[0]).toEqual(['protocol', 'family', 'state', 'inode', 'uid', 'cookie', 'recvQ', 'sendQ', 'unknown', 'processes', 'type', 'netlinkProtocol', 'connected', 'portId', 'dstPortId', 'dstGroup', 'meminfo', 'groups', 'rxRing', 'txRing', 'flags']);
  });

  test('re-encoding a decoded kernel fixture gives its bytes back', () => {
    for (const b of [ROUTE_GROUPS, GENERIC_CONNECTED]) {
      const s = decodeNetlinkMessage(b, 0, b.length);
      const again = encodeNetlinkMessage(s, { seq: 1, pid: 12987 });
      // ndiag_state 7 (unconnected) is re-encoded as 0 (NETLINK_UNCONNECTED); everything else is identical.
      if (b[19] === 7) again[19] = 7;
      expect(again).toEqual(b);
    }
    const s = decodeNetlinkMessage(AUTOBOUND_RINGS, 0, AUTOBOUND_RINGS.length);
    expect(encodeNetlinkMessage(s)).toEqual(AUTOBOUND_RINGS);
  });
});

describe('netlink_diag replies built from the tables', () => {
  test('encodeStruct + encodeAttributes + nlmsghdr decode to the values put in', () => {
    const b = nlmsg(Buffer.concat([
      head({ type: 2, netlinkProtocol: 9, state: 1, portId: -1, dstPortId: 7, dstGroup: 0xffffffff, inode: 3, cookie: 4n }),
      encodeAttributes(netlinkAttributes, {
        meminfo: { rmemAlloc: 10, rcvbuf: 2, wmemAlloc: 20, sndbuf: 4, fwdAlloc: 5, wmemQueued: 6, optmem: 7, backlog: 8, drops: 9 },
        groups: [0xffffffff, 1, 0x80000000],
        rxRing: { blockSizeBytes: 1, blockCount: 2, frameSizeBytes: 3, frameCount: 4 },
        flags: { ...NO_FLAGS, raw: 0x40, capAck: true },
      }),
    ]));
    const s = decodeNetlinkMessage(b, 0, b.length);
    expect(s).toMatchObject({ type: 'dgram', netlinkProtocol: 9, connected: true, portId: -1, dstPortId: 7, dstGroup: 0xffffffff, inode: 3, cookie: 4n, recvQ: 10, sendQ: 20, groups: [0xffffffff, 1, 0x80000000] });
    expect(s.rxRing).toEqual({ blockSizeBytes: 1, blockCount: 2, frameSizeBytes: 3, frameCount: 4 });
    // Unknown flag bits stay in raw; the booleans set on encode are OR-ed in.
    expect(s.flags).toEqual({ ...NO_FLAGS, raw: 0x60, capAck: true });
  });

  test('unknown attribute types (flags masked) survive raw in .unknown, in order', () => {
    const b = nlmsg(Buffer.concat([
      head(),
      Buffer.from([
        0x07, 0x00, 0xf0, 0x7f, // nla_len 7, type 0x7ff0 (NLA_F_NET_BYTEORDER | 0x3ff0)
        0x01, 0x02, 0x03, 0x00, // payload 01 02 03, padding
        0x08, 0x00, 0x04, 0x00, // nla_len 8, NETLINK_DIAG_FLAGS
        0x01, 0x00, 0x00, 0x00, // CB_RUNNING
        0x0c, 0x00, 0x17, 0x80, // nla_len 12, type 23 | NLA_F_NESTED
        0x08, 0x00, 0x01, 0x00, 0x05, 0x00, 0x00, 0x00, // a nested attribute, kept as bytes
        0x05, 0x00, 0x05, 0x00, // nla_len 5, type 5 (one past NETLINK_DIAG_FLAGS)
        0x09, 0x00, 0x00, 0x00, // payload 09, padding
      ]),
    ]));
    const s = decodeNetlinkMessage(b, 0, b.length);
    expect(s.flags?.cbRunning).toBe(true);
    expect(s.unknown).toEqual([
      { type: 0x3ff0, flags: 0x4000, bytes: Buffer.from([1, 2, 3]) },
      { type: 23, flags: 0x8000, bytes: Buffer.from([8, 0, 1, 0, 5, 0, 0, 0]) },
      { type: 5, bytes: Buffer.from([9]) },
    ]);
  });

  test('a duplicated attribute: the first one wins', () => {
    const b = nlmsg(Buffer.concat([
      head(),
      encodeAttributes(netlinkAttributes, { groups: [1], meminfo: { ...IDLE_MEMINFO, rmemAlloc: 5, wmemAlloc: 6 } }),
      encodeAttributes(netlinkAttributes, { groups: [2, 3], meminfo: { ...IDLE_MEMINFO, rmemAlloc: 7, wmemAlloc: 8 } }),
    ]));
    const s = decodeNetlinkMessage(b, 0, b.length);
    expect([s.groups, s.recvQ, s.sendQ]).toEqual([[1], 5, 6]);
  });

  test('short attribute payloads and bad lengths are DecodeErrors', () => {
    const bad = [
      [0x10, 0x00, 0x02, 0x00, ...new Array(12).fill(0)], // NETLINK_DIAG_RX_RING with 12 bytes
      [0x07, 0x00, 0x04, 0x00, 0, 0, 0, 0], // NETLINK_DIAG_FLAGS with 3 bytes
      [0x03, 0x00, 0x00, 0x00], // nla_len below the header
      [0x10, 0x00, 0x01, 0x00, 0, 0, 0, 0], // nla_len past the end
    ];
    for (const a of bad) {
      const b = nlmsg(Buffer.concat([head(), Buffer.from(a)]));
      expect(() => decodeNetlinkMessage(b, 0, b.length)).toThrow(DecodeError);
    }
  });

  test('a message that is not AF_NETLINK, or too short, or outside the buffer, is a DecodeError', () => {
    const other = Buffer.from(ROUTE_GROUPS);
    other[16] = 1;
    expect(() => decodeNetlinkMessage(other, 0, other.length)).toThrow(/not AF_NETLINK/);
    expect(() => decodeNetlinkMessage(ROUTE_GROUPS, 0, 43)).toThrow(DecodeError);
    expect(() => decodeNetlinkMessage(ROUTE_GROUPS, 1, ROUTE_GROUPS.length)).toThrow(DecodeError);
  });
});

describe('netlink_diag robustness', () => {
  test.each(FIXTURES)('%s: truncated at every offset, it decodes exactly when the cut is at an attribute boundary', (_, full) => {
    checkEveryCut(NETLINK, full, ATTRS);
  });

  const ring = fc.option(arbStruct(netlinkDiagRing), { nil: undefined });
  const flagBits = Object.entries(NDIAG_FLAG);
  const arbInput: fc.Arbitrary<NetlinkMessageInput> = fc.record({
    type: fc.constantFrom('raw', 'dgram', 'unknown'),
    netlinkProtocol: fc.integer({ min: 0, max: 0xff }),
    connected: fc.boolean(),
    portId: fc.integer({ min: -0x80000000, max: 0x7fffffff }),
    dstPortId: fc.integer({ min: -0x80000000, max: 0x7fffffff }),
    dstGroup: fc.integer({ min: 0, max: 0xffffffff }),
    inode: fc.integer({ min: 0, max: 0xffffffff }),
    cookie: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    meminfo: fc.option(arbStruct(skMeminfo), { nil: undefined }),
    groups: fc.option(fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 8 }), { nil: undefined }),
    rxRing: ring,
    txRing: ring,
    flags: fc.option(fc.integer({ min: 0, max: 0xffffffff }).map((raw) => ({ raw, ...Object.fromEntries(flagBits.map(([k, m]) => [k, (raw & m) !== 0])) })), { nil: undefined }),
    unknown: arbUnknown,
  }) as fc.Arbitrary<NetlinkMessageInput>;

  test('the generator covers every attribute row', () => {
    const sample = fc.sample(arbInput, 1)[0];
    for (const r of netlinkAttributes.rows) expect(Object.keys(sample)).toContain(r.name);
  });

  test('decode → encode → decode is stable, and values come back as they were put in', () => {
    fc.assert(
      fc.property(arbInput, (input) => {
        const b1 = encodeNetlinkMessage(input);
        const s1 = decodeNetlinkMessage(b1, 0, b1.length);
        const b2 = encodeNetlinkMessage(s1);
        expect(b2).toEqual(b1);
        const s2 = decodeNetlinkMessage(b2, 0, b2.length);
        expect(s2).toStrictEqual(s1);
        for (const k of ['type', 'netlinkProtocol', 'connected', 'portId', 'dstPortId', 'dstGroup', 'inode', 'cookie', 'meminfo', 'groups', 'rxRing', 'txRing', 'flags', 'unknown'] as const) {
          if (input[k] !== undefined) expect(s1[k]).toEqual(input[k]);
        }
        expect(s1.recvQ).toBe(input.meminfo?.rmemAlloc ?? 0);
        expect(s1.sendQ).toBe(input.meminfo?.wmemAlloc ?? 0);
      }),
      { numRuns: 500 },
    );
  });

  test('generated messages, truncated and mutated, decode or throw DecodeError, reading only their own bytes', () => {
    assertConfined(NETLINK, arbInput.map((input) => encodeNetlinkMessage(input)));
  });

  test('random garbage decodes or throws DecodeError, whatever the offset and length', () => {
    assertGarbage(NETLINK);
  });

  test('an attribute stream of random TLVs decodes or throws DecodeError', () => {
    fc.assert(fc.property(arbRawTlvs, (tlvs) => checkDecodes(NETLINK, nlmsg(Buffer.concat([head(), tlvs])))), { numRuns: 1000 });
  });
});
