import fc from 'fast-check';
import {
  decodeXdpMessage,
  encodeXdpMessage,
  encodeXdpRequest,
  xdpAttributes,
  xdpDiagInfo,
  xdpDiagMsg,
  xdpDiagReq,
  xdpDiagRing,
  xdpDiagStats,
  xdpDiagUmem,
  XDP_SHOW,
  XDP_SHOW_ALL,
  XdpSocket,
} from '../lib/diag/xdp';
import { skMeminfo } from '../lib/diag/common/skmeminfo';
import { DecodeError } from '../lib/errors';
import { encodeAttributes } from '../lib/netlink/attributes';
import { structToBuffer } from '../lib/netlink/struct';
import { FamilyDecoder, IDLE_MEMINFO, UNKNOWN_ATTRS, UNKNOWN_ATTRS_DECODED, arbRawAttributes, arbStruct, arbU32, assertConfined, assertGarbage, checkDecodes, checkEveryCut, nlattr, nlmsg, skMeminfoBytes, withAttributes } from './helpers/decoder-harness';

const XDP: FamilyDecoder = { decode: decodeXdpMessage, protocol: 'xdp', af: 44, checksLength: true };

/** Attribute values for xdpAttributes, each one present or not. */
const attrsArb = fc.record(
  {
    info: arbStruct(xdpDiagInfo),
    uid: arbU32,
    rxRing: arbStruct(xdpDiagRing),
    txRing: arbStruct(xdpDiagRing),
    umem: arbStruct(xdpDiagUmem),
    fillRing: arbStruct(xdpDiagRing),
    completionRing: arbStruct(xdpDiagRing),
    meminfo: arbStruct(skMeminfo),
    stats: arbStruct(xdpDiagStats),
    unknown: arbRawAttributes(10), // above XDP_DIAG_MAX
  },
  { requiredKeys: [] },
);

/** A reply message built with the tables and the engine, independently of encodeXdpMessage. */
function buildMessage(msg: Record<string, unknown>, attrs: Record<string, unknown>): Buffer {
  return nlmsg(Buffer.concat([structToBuffer(xdpDiagMsg, msg), encodeAttributes(xdpAttributes, attrs)]), 3);
}

const messageArb = fc.tuple(arbStruct(xdpDiagMsg), attrsArb).map(([fields, attrs]) => {
  const msg: Record<string, unknown> = { ...fields, family: 44 };
  return { msg, attrs: attrs as Record<string, unknown>, bytes: buildMessage(msg, attrs) };
});

// ---------------------------------------------------------------------------------------
// Golden fixture, written by hand from linux/xdp_diag.h (not from the tables)

const FULL = Buffer.from([
  // struct nlmsghdr
  0xdc, 0x00, 0x00, 0x00, // nlmsg_len 220
  0x14, 0x00, //             nlmsg_type SOCK_DIAG_BY_FAMILY (20)
  0x02, 0x00, //             nlmsg_flags NLM_F_MULTI
  0x02, 0x00, 0x00, 0x00, // nlmsg_seq 2
  0x00, 0x00, 0x00, 0x00, // nlmsg_pid 0
  // struct xdp_diag_msg
  0x2c, //                   xdiag_family AF_XDP (44)
  0x03, //                   xdiag_type SOCK_RAW
  0x00, 0x00, //             pad
  0x39, 0x30, 0x00, 0x00, // xdiag_ino 12345
  0xef, 0xbe, 0x00, 0x00, // xdiag_cookie[0] (low half)
  0x01, 0x00, 0x00, 0x00, // xdiag_cookie[1] (high half)
  // XDP_DIAG_INFO: struct xdp_diag_info
  0x0c, 0x00, 0x01, 0x00, // nla_len 12, nla_type XDP_DIAG_INFO (1)
  0x02, 0x00, 0x00, 0x00, // ifindex 2
  0x05, 0x00, 0x00, 0x00, // queue_id 5
  // XDP_DIAG_UID: u32
  0x08, 0x00, 0x02, 0x00, // nla_len 8, nla_type XDP_DIAG_UID (2)
  0xe8, 0x03, 0x00, 0x00, // uid 1000
  // XDP_DIAG_RX_RING: struct xdp_diag_ring
  0x08, 0x00, 0x03, 0x00, // nla_len 8, nla_type XDP_DIAG_RX_RING (3)
  0x00, 0x08, 0x00, 0x00, // entries 2048
  // XDP_DIAG_TX_RING: struct xdp_diag_ring
  0x08, 0x00, 0x04, 0x00, // nla_len 8, nla_type XDP_DIAG_TX_RING (4)
  0x00, 0x04, 0x00, 0x00, // entries 1024
  // XDP_DIAG_UMEM: struct xdp_diag_umem
  0x2c, 0x00, 0x05, 0x00, // nla_len 44, nla_type XDP_DIAG_UMEM (5)
  0x00, 0x00, 0x40, 0x00, // size (low) 4 MiB
  0x00, 0x00, 0x00, 0x00, // size (high)
  0x01, 0x00, 0x00, 0x00, // id 1
  0x00, 0x04, 0x00, 0x00, // num_pages 1024
  0x00, 0x10, 0x00, 0x00, // chunk_size 4096
  0x00, 0x01, 0x00, 0x00, // headroom 256
  0x02, 0x00, 0x00, 0x00, // ifindex 2
  0x05, 0x00, 0x00, 0x00, // queue_id 5
  0x01, 0x00, 0x00, 0x00, // flags XDP_DU_F_ZEROCOPY
  0x02, 0x00, 0x00, 0x00, // refs 2
  // XDP_DIAG_UMEM_FILL_RING
  0x08, 0x00, 0x06, 0x00, // nla_len 8, nla_type XDP_DIAG_UMEM_FILL_RING (6)
  0x00, 0x10, 0x00, 0x00, // entries 4096
  // XDP_DIAG_UMEM_COMPLETION_RING
  0x08, 0x00, 0x07, 0x00, // nla_len 8, nla_type XDP_DIAG_UMEM_COMPLETION_RING (7)
  0x00, 0x08, 0x00, 0x00, // entries 2048
  // XDP_DIAG_MEMINFO: __u32[SK_MEMINFO_VARS]
  0x28, 0x00, 0x08, 0x00, // nla_len 40, nla_type XDP_DIAG_MEMINFO (8)
  ...skMeminfoBytes({ ...IDLE_MEMINFO, rmemAlloc: 768, drops: 3 }),
  // XDP_DIAG_STATS: struct xdp_diag_stats
  0x34, 0x00, 0x09, 0x00, // nla_len 52, nla_type XDP_DIAG_STATS (9)
  0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // n_rx_dropped 10
  0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // n_rx_invalid 11
  0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // n_rx_full 12
  0x0d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // n_fill_ring_empty 13
  0x0e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // n_tx_invalid 14
  0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // n_tx_ring_empty 2^32
]);

const FULL_SOCKET: XdpSocket = {
  protocol: 'xdp',
  family: 'xdp',
  state: 'closed',
  inode: 12345,
  uid: 1000,
  cookie: 0x1_0000_beefn,
  recvQ: 768,
  sendQ: 0,
  type: 'raw',
  ifindex: 2,
  queueId: 5,
  info: { ifindex: 2, queueId: 5 },
  rxRing: { entries: 2048 },
  txRing: { entries: 1024 },
  umem: { sizeBytes: 4194304n, id: 1, pages: 1024, chunkSizeBytes: 4096, headroomBytes: 256, ifindex: 2, queueId: 5, flags: 1, zerocopy: 1, refs: 2 },
  fillRing: { entries: 4096 },
  completionRing: { entries: 2048 },
  meminfo: { rmemAlloc: 768, rcvbuf: 212992, wmemAlloc: 0, sndbuf: 212992, fwdAlloc: 0, wmemQueued: 0, optmem: 0, backlog: 0, drops: 3, tail: undefined } as XdpSocket['meminfo'], // growable: `tail` is always a property
  stats: { rxDropped: 10n, rxInvalid: 11n, rxFull: 12n, fillRingEmpty: 13n, txInvalid: 14n, txRingEmpty: 0x1_0000_0000n },
  unknown: undefined,
  processes: undefined,
};

// Only the fixed part: what `xdiag_show = 0` brings.
const BARE = Buffer.from([
  0x20, 0x00, 0x00, 0x00, // nlmsg_len 32
  0x14, 0x00, //             nlmsg_type SOCK_DIAG_BY_FAMILY
  0x02, 0x00, //             nlmsg_flags NLM_F_MULTI
  0x00, 0x00, 0x00, 0x00, // nlmsg_seq
  0x00, 0x00, 0x00, 0x00, // nlmsg_pid
  0x2c, //                   xdiag_family AF_XDP
  0x03, //                   xdiag_type SOCK_RAW
  0x00, 0x00, //             pad
  0x07, 0x00, 0x00, 0x00, // xdiag_ino 7
  0x01, 0x00, 0x00, 0x00, // xdiag_cookie[0]
  0x00, 0x00, 0x00, 0x00, // xdiag_cookie[1]
]);

describe('xdp tables', () => {
  test('struct sizes match the uapi header', () => {
    expect(xdpDiagReq.size).toBe(20);
    expect(xdpDiagMsg.size).toBe(16);
    expect(xdpDiagInfo.size).toBe(8);
    expect(xdpDiagRing.size).toBe(4);
    expect(xdpDiagUmem.size).toBe(40);
    expect(xdpDiagStats.size).toBe(48);
  });

  test('one row per XDP_DIAG_* constant', () => {
    expect(xdpAttributes.rows.map((r) => [r.type, r.orig])).toEqual([
      [1, 'XDP_DIAG_INFO'],
      [2, 'XDP_DIAG_UID'],
      [3, 'XDP_DIAG_RX_RING'],
      [4, 'XDP_DIAG_TX_RING'],
      [5, 'XDP_DIAG_UMEM'],
      [6, 'XDP_DIAG_UMEM_FILL_RING'],
      [7, 'XDP_DIAG_UMEM_COMPLETION_RING'],
      [8, 'XDP_DIAG_MEMINFO'],
      [9, 'XDP_DIAG_STATS'],
    ]);
  });
});

describe('decodeXdpMessage: golden fixtures', () => {
  test('a bound socket with every attribute', () => {
    expect(decodeXdpMessage(FULL, 0, FULL.length)).toStrictEqual(FULL_SOCKET);
  });

  test('the fixed part alone', () => {
    const s = decodeXdpMessage(BARE, 0, BARE.length);
    expect(s).toStrictEqual({
      ...FULL_SOCKET,
      inode: 7,
      cookie: 1n,
      uid: undefined,
      recvQ: 0,
      ifindex: undefined,
      queueId: undefined,
      info: undefined,
      rxRing: undefined,
      txRing: undefined,
      umem: undefined,
      fillRing: undefined,
      completionRing: undefined,
      meminfo: undefined,
      stats: undefined,
    });
    expect(Object.keys(s)).toEqual(Object.keys(FULL_SOCKET));
  });

  test('encodeXdpMessage gives the fixture back byte for byte', () => {
    expect(encodeXdpMessage(FULL_SOCKET, 2).toString('hex')).toBe(FULL.toString('hex'));
  });

  test('unknown attributes survive as { type, bytes } (flag bits masked off)', () => {
    const b = withAttributes(FULL, UNKNOWN_ATTRS);
    const s = decodeXdpMessage(b, 0, b.length);
    expect(s.unknown).toEqual(UNKNOWN_ATTRS_DECODED);
    expect(s.uid).toBe(1000); // the known ones are still there
  });

  test('a duplicated attribute: the first one wins', () => {
    const dup = Buffer.from([
      0x08, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, // XDP_DIAG_UID 0 (second)
      0x0c, 0x00, 0x01, 0x00, 0x09, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, // XDP_DIAG_INFO 9/9 (second)
    ]);
    const b = withAttributes(FULL, dup);
    const s = decodeXdpMessage(b, 0, b.length);
    expect(s.uid).toBe(1000);
    expect(s.info).toEqual({ ifindex: 2, queueId: 5 });
    expect(s.ifindex).toBe(2);
    expect(s.unknown).toBeUndefined();
  });

  test('a structure longer than the table (a newer kernel) decodes its known fields', () => {
    const b = withAttributes(BARE, Buffer.from([0x10, 0x00, 0x01, 0x00, 3, 0, 0, 0, 4, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]));
    expect(decodeXdpMessage(b, 0, b.length).info).toEqual({ ifindex: 3, queueId: 4 });
  });

  test('a short SK_MEMINFO (older kernel) decodes what is there', () => {
    const b = withAttributes(BARE, Buffer.from([0x0c, 0x00, 0x08, 0x00, 0x10, 0, 0, 0, 0x20, 0, 0, 0]));
    const s = decodeXdpMessage(b, 0, b.length);
    expect(s.meminfo).toMatchObject({ rmemAlloc: 16, rcvbuf: 32, wmemAlloc: undefined, drops: undefined });
    expect(s.recvQ).toBe(16);
  });
});

describe('decodeXdpMessage: malformed input', () => {
  test('a message of another family is a DecodeError', () => {
    const b = Buffer.from(FULL);
    b[16] = 40;
    expect(() => decodeXdpMessage(b, 0, b.length)).toThrow(DecodeError);
  });

  test('a fixed structure shorter than the table is a DecodeError', () => {
    for (const [type, len] of [[1, 7], [2, 3], [3, 3], [5, 39], [9, 47]]) {
      const attr = Buffer.alloc(4 + len);
      attr.writeUInt16LE(4 + len, 0);
      attr.writeUInt16LE(type, 2);
      const b = withAttributes(BARE, Buffer.concat([attr, Buffer.alloc((4 - (len % 4)) % 4)]));
      expect(() => decodeXdpMessage(b, 0, b.length)).toThrow(DecodeError);
    }
  });

  test('nlmsg_len that disagrees with len, or a range outside the buffer, is a DecodeError', () => {
    const b = Buffer.from(FULL);
    b.writeUInt32LE(224, 0);
    expect(() => decodeXdpMessage(b, 0, b.length)).toThrow(DecodeError);
    expect(() => decodeXdpMessage(FULL, 4, FULL.length)).toThrow(DecodeError);
    expect(() => decodeXdpMessage(FULL, 0, 1 << 20)).toThrow(DecodeError);
  });

  test('truncation at every offset: a socket or a DecodeError, never anything else', () => {
    // Exactly the cuts at attribute boundaries past the 32-byte fixed part decode.
    expect(checkEveryCut(XDP, withAttributes(FULL, UNKNOWN_ATTRS), 32)).toBeGreaterThan(5);
  });

  test('random garbage: a socket or a DecodeError', () => {
    assertGarbage(XDP, { framed: false, numRuns: 100 });
  });

  test('random garbage behind a valid header and family: a socket or a DecodeError', () => {
    assertGarbage(XDP, { framed: true, numRuns: 100 });
  });

  test('random attributes behind a valid fixed part: a socket or a DecodeError', () => {
    const attr = fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 60 }));
    fc.assert(
      fc.property(fc.array(attr, { maxLength: 12 }), (attrs) => {
        const parts = attrs.map(([type, payload]) => nlattr(type % 16 | (type & 0xc000), payload));
        checkDecodes(XDP, withAttributes(BARE, Buffer.concat(parts)));
      }),
    );
  });
});

describe('decodeXdpMessage: properties over messages generated from the tables', () => {
  test('the decoder puts each field and attribute where the tables say', () => {
    fc.assert(
      fc.property(messageArb, ({ msg, attrs, bytes }) => {
        const s = decodeXdpMessage(bytes, 0, bytes.length);
        expect(s.inode).toBe(msg.inode);
        expect(s.cookie).toBe(msg.cookie);
        expect(s.type).toBe(({ 1: 'stream', 2: 'dgram', 3: 'raw', 4: 'rdm', 5: 'seqpacket' } as Record<number, string>)[msg.type as number] ?? 'unknown');
        expect(s.uid).toBe(attrs.uid);
        expect(s.info).toEqual(attrs.info);
        expect(s.ifindex).toBe((attrs.info as { ifindex?: number } | undefined)?.ifindex);
        expect(s.rxRing).toEqual(attrs.rxRing);
        expect(s.stats).toEqual(attrs.stats);
        expect(s.recvQ).toBe((attrs.meminfo as { rmemAlloc?: number } | undefined)?.rmemAlloc ?? 0);
        if (attrs.umem) expect(s.umem?.zerocopy).toBe(((attrs.umem as { flags: number }).flags & 1));
        expect(s.unknown).toEqual(attrs.unknown);
      }),
    );
  });

  test('decode → encode → decode is stable, and re-encoding gives the same bytes', () => {
    fc.assert(
      fc.property(messageArb, ({ bytes }) => {
        const first = decodeXdpMessage(bytes, 0, bytes.length);
        const again = encodeXdpMessage(first, 3);
        expect(decodeXdpMessage(again, 0, again.length)).toStrictEqual(first);
        if ((first.type as string) !== 'unknown') {
          const expected = Buffer.from(bytes);
          expected.writeUInt16LE(0, 16 + 2); // xdp_diag_msg.pad is not kept
          expect(again.toString('hex')).toBe(expected.toString('hex'));
        }
      }),
    );
  });

  test('the decoder never reads outside [off, off + len)', () => {
    assertConfined(XDP, messageArb.map((m) => m.bytes), 100);
  });
});

describe('encodeXdpRequest', () => {
  test('default: every XDP_SHOW_* bit, byte for byte', () => {
    const expected = Buffer.from([
      // struct nlmsghdr
      0x24, 0x00, 0x00, 0x00, // nlmsg_len 36
      0x14, 0x00, //             nlmsg_type SOCK_DIAG_BY_FAMILY
      0x01, 0x03, //             nlmsg_flags NLM_F_REQUEST | NLM_F_DUMP
      0x00, 0x00, 0x00, 0x00, // nlmsg_seq 0
      0x00, 0x00, 0x00, 0x00, // nlmsg_pid 0
      // struct xdp_diag_req
      0x2c, //                   sdiag_family AF_XDP (44)
      0x00, //                   sdiag_protocol
      0x00, 0x00, //             pad
      0x00, 0x00, 0x00, 0x00, // xdiag_ino
      0x1f, 0x00, 0x00, 0x00, // xdiag_show INFO|RING_CFG|UMEM|MEMINFO|STATS
      0x00, 0x00, 0x00, 0x00, // xdiag_cookie[0]
      0x00, 0x00, 0x00, 0x00, // xdiag_cookie[1]
    ]);
    expect(encodeXdpRequest().toString('hex')).toBe(expected.toString('hex'));
    expect(XDP_SHOW_ALL).toBe(0x1f);
  });

  test('chosen show bits', () => {
    const b = encodeXdpRequest({ show: XDP_SHOW.INFO | XDP_SHOW.STATS });
    expect(b.subarray(24, 28).toString('hex')).toBe('11000000');
    expect(encodeXdpRequest({ show: 0 }).subarray(24, 28).toString('hex')).toBe('00000000');
    expect(() => encodeXdpRequest({ show: -1 })).toThrow(TypeError);
    expect(() => encodeXdpRequest({ show: 1.5 })).toThrow(TypeError);
  });
});
