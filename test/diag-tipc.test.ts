import fc from 'fast-check';
import {
  decodeTipcMessage,
  encodeTipcMessage,
  encodeTipcRequest,
  tipcAttributes,
  tipcConAttributes,
  tipcGroupAttributes,
  tipcSockAttributes,
  tipcSockDiagReq,
  tipcStatAttributes,
  TipcSocket,
} from '../lib/diag/tipc';
import { STATE_NAMES } from '../lib/diag/constants';
import { DecodeError } from '../lib/errors';
import { encodeAttributes, RawAttribute } from '../lib/netlink/attributes';
import { FamilyDecoder, UNKNOWN_ATTRS, UNKNOWN_ATTRS_DECODED, arbBytes, arbRawAttributes, arbU32, assertConfined, assertGarbage, checkDecodes, checkEveryCut, nlattr, nlmsg, withAttributes } from './helpers/decoder-harness';

const TIPC: FamilyDecoder = { decode: decodeTipcMessage, protocol: 'tipc', checksLength: true, mayBeEmpty: true };

/** Values for the TIPC_NLA_SOCK nest, each attribute present or not. */
const sockValuesArb = fc.record(
  {
    node: arbU32,
    port: arbU32,
    connection: fc.record(
      { node: arbU32, port: arbU32, viaService: fc.constant(true as const), serviceType: arbU32, serviceInstance: arbU32, unknown: arbRawAttributes(6) },
      { requiredKeys: [] },
    ),
    hasPublications: fc.constant(true as const),
    type: fc.constantFrom('stream', 'dgram', 'rdm', 'seqpacket'),
    state: fc.constantFrom(...STATE_NAMES),
    inode: arbU32,
    uid: arbU32,
    cookie: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    stats: fc.record(
      { receiveQueue: arbU32, sendQueue: arbU32, drops: arbU32, linkCongested: fc.constant(true as const), connectionCongested: fc.constant(true as const), unknown: arbRawAttributes(5) },
      { requiredKeys: [] },
    ),
    group: fc.record(
      { id: arbU32, instance: arbU32, bcSendNext: arbU32, nodeScope: fc.constant(true as const), clusterScope: fc.constant(true as const), open: fc.constant(true as const), unknown: arbRawAttributes(6) },
      { requiredKeys: [] },
    ),
    unknown: arbRawAttributes(13),
  },
  { requiredKeys: [] },
);

/** A reply message built with the tables and the engine, independently of encodeTipcMessage. */
function buildMessage(sock: Record<string, unknown>, topLevel: RawAttribute[] | undefined): Buffer {
  return nlmsg(encodeAttributes(tipcAttributes, { sock, unknown: topLevel }), 9);
}

const messageArb = fc
  .tuple(sockValuesArb, fc.option(arbRawAttributes(1, [2]), { nil: undefined }))
  .map(([sock, top]) => ({ sock: sock as Record<string, unknown>, top, bytes: buildMessage(sock, top) }));

/** Appends attributes inside the TIPC_NLA_SOCK nest (assumed to be the first and last attribute). */
function insideNest(msg: Buffer, attrs: Buffer): Buffer {
  const b = Buffer.concat([msg, attrs]);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt16LE(b.length - 16, 16);
  return b;
}

/** Appends attributes after the TIPC_NLA_SOCK nest, at the top level. */
const afterNest = withAttributes;

// ---------------------------------------------------------------------------------------
// Golden fixtures, written by hand from linux/tipc_netlink.h and the order in which
// net/tipc/socket.c tipc_sk_fill_sock_diag() emits attributes (not from the tables)

const CONNECTED = Buffer.from([
  // struct nlmsghdr
  0x9c, 0x00, 0x00, 0x00, // nlmsg_len 156
  0x14, 0x00, //             nlmsg_type SOCK_DIAG_BY_FAMILY (20)
  0x02, 0x00, //             nlmsg_flags NLM_F_MULTI
  0x05, 0x00, 0x00, 0x00, // nlmsg_seq 5
  0x00, 0x00, 0x00, 0x00, // nlmsg_pid 0
  // TIPC_NLA_SOCK (nest)
  0x8c, 0x00, 0x02, 0x00, // nla_len 140, nla_type TIPC_NLA_SOCK (2)
  0x08, 0x00, 0x02, 0x00, //   TIPC_NLA_SOCK_REF (2)
  0x78, 0x56, 0x34, 0x12, //     port id 0x12345678
  0x08, 0x00, 0x01, 0x00, //   TIPC_NLA_SOCK_ADDR (1)
  0x01, 0x10, 0x00, 0x01, //     own node 0x01001001
  0x28, 0x00, 0x03, 0x00, //   nla_len 40, TIPC_NLA_SOCK_CON (3, nest)
  0x08, 0x00, 0x02, 0x00, //     TIPC_NLA_CON_NODE (2)
  0x02, 0x10, 0x00, 0x01, //       peer node 0x01001002
  0x08, 0x00, 0x03, 0x00, //     TIPC_NLA_CON_SOCK (3)
  0x21, 0x43, 0x65, 0x87, //       peer port 0x87654321
  0x04, 0x00, 0x01, 0x00, //     TIPC_NLA_CON_FLAG (1, flag)
  0x08, 0x00, 0x04, 0x00, //     TIPC_NLA_CON_TYPE (4)
  0xe8, 0x03, 0x00, 0x00, //       service type 1000
  0x08, 0x00, 0x05, 0x00, //     TIPC_NLA_CON_INST (5)
  0x07, 0x00, 0x00, 0x00, //       service instance 7
  0x08, 0x00, 0x06, 0x00, //   TIPC_NLA_SOCK_TYPE (6)
  0x01, 0x00, 0x00, 0x00, //     SOCK_STREAM
  0x08, 0x00, 0x09, 0x00, //   TIPC_NLA_SOCK_TIPC_STATE (9)
  0x01, 0x00, 0x00, 0x00, //     TIPC_ESTABLISHED (= TCP_ESTABLISHED)
  0x08, 0x00, 0x07, 0x00, //   TIPC_NLA_SOCK_INO (7)
  0x45, 0x23, 0x01, 0x00, //     inode 74565
  0x08, 0x00, 0x08, 0x00, //   TIPC_NLA_SOCK_UID (8)
  0xe8, 0x03, 0x00, 0x00, //     uid 1000
  0x04, 0x00, 0x0b, 0x00, //   TIPC_NLA_SOCK_PAD (11): aligns the u64 on strict architectures
  0x0c, 0x00, 0x0a, 0x00, //   TIPC_NLA_SOCK_COOKIE (10)
  0x02, 0x00, 0x00, 0x00, //     cookie (low)
  0x01, 0x00, 0x00, 0x00, //     cookie (high)
  0x20, 0x00, 0x05, 0x00, //   nla_len 32, TIPC_NLA_SOCK_STAT (5, nest)
  0x08, 0x00, 0x00, 0x00, //     TIPC_NLA_SOCK_STAT_RCVQ (0)
  0x03, 0x00, 0x00, 0x00, //       3 messages
  0x08, 0x00, 0x01, 0x00, //     TIPC_NLA_SOCK_STAT_SENDQ (1)
  0x02, 0x00, 0x00, 0x00, //       2 messages
  0x08, 0x00, 0x04, 0x00, //     TIPC_NLA_SOCK_STAT_DROP (4)
  0x09, 0x00, 0x00, 0x00, //       9 dropped
  0x04, 0x00, 0x03, 0x00, //     TIPC_NLA_SOCK_STAT_CONN_CONG (3, flag)
]);

const CONNECTED_SOCKET: TipcSocket = {
  protocol: 'tipc',
  family: 'tipc',
  state: 'established',
  inode: 74565,
  uid: 1000,
  cookie: 0x1_0000_0002n,
  recvQ: 3,
  sendQ: 2,
  type: 'stream',
  node: 0x01001001,
  port: 0x12345678,
  connection: { node: 0x01001002, port: 0x87654321, viaService: true, serviceType: 1000, serviceInstance: 7 },
  hasPublications: undefined,
  stats: { receiveQueue: 3, sendQueue: 2, drops: 9, connectionCongested: true },
  group: undefined,
  unknownTopLevel: undefined,
  unknown: undefined,
  processes: undefined,
};

const GROUP_MEMBER = Buffer.from([
  // struct nlmsghdr
  0x98, 0x00, 0x00, 0x00, // nlmsg_len 152
  0x14, 0x00, //             nlmsg_type SOCK_DIAG_BY_FAMILY
  0x02, 0x00, //             nlmsg_flags NLM_F_MULTI
  0x05, 0x00, 0x00, 0x00, // nlmsg_seq 5
  0x00, 0x00, 0x00, 0x00, // nlmsg_pid 0
  // TIPC_NLA_SOCK (nest)
  0x88, 0x00, 0x02, 0x00, // nla_len 136, nla_type TIPC_NLA_SOCK
  0x08, 0x00, 0x02, 0x00, //   TIPC_NLA_SOCK_REF
  0xbc, 0x0a, 0x00, 0x00, //     port id 2748
  0x08, 0x00, 0x01, 0x00, //   TIPC_NLA_SOCK_ADDR
  0x01, 0x10, 0x00, 0x01, //     own node 0x01001001
  0x04, 0x00, 0x04, 0x00, //   TIPC_NLA_SOCK_HAS_PUBL (4, flag)
  0x08, 0x00, 0x06, 0x00, //   TIPC_NLA_SOCK_TYPE
  0x04, 0x00, 0x00, 0x00, //     SOCK_RDM
  0x08, 0x00, 0x09, 0x00, //   TIPC_NLA_SOCK_TIPC_STATE
  0x07, 0x00, 0x00, 0x00, //     TIPC_OPEN (= TCP_CLOSE)
  0x08, 0x00, 0x07, 0x00, //   TIPC_NLA_SOCK_INO
  0x2b, 0x02, 0x00, 0x00, //     inode 555
  0x08, 0x00, 0x08, 0x00, //   TIPC_NLA_SOCK_UID
  0x00, 0x00, 0x00, 0x00, //     uid 0
  0x0c, 0x00, 0x0a, 0x00, //   TIPC_NLA_SOCK_COOKIE (no pad on x86)
  0x2a, 0x00, 0x00, 0x00, //     cookie 42 (low)
  0x00, 0x00, 0x00, 0x00, //     (high)
  0x20, 0x00, 0x05, 0x00, //   nla_len 32, TIPC_NLA_SOCK_STAT
  0x08, 0x00, 0x00, 0x00, //     TIPC_NLA_SOCK_STAT_RCVQ
  0x00, 0x00, 0x00, 0x00, //       0
  0x08, 0x00, 0x01, 0x00, //     TIPC_NLA_SOCK_STAT_SENDQ
  0x00, 0x00, 0x00, 0x00, //       0
  0x08, 0x00, 0x04, 0x00, //     TIPC_NLA_SOCK_STAT_DROP
  0x00, 0x00, 0x00, 0x00, //       0
  0x04, 0x00, 0x02, 0x00, //     TIPC_NLA_SOCK_STAT_LINK_CONG (2, flag)
  0x24, 0x00, 0x0c, 0x00, //   nla_len 36, TIPC_NLA_SOCK_GROUP (12, nest)
  0x08, 0x00, 0x00, 0x00, //     TIPC_NLA_SOCK_GROUP_ID (0)
  0x67, 0x12, 0x00, 0x00, //       group type 4711
  0x08, 0x00, 0x04, 0x00, //     TIPC_NLA_SOCK_GROUP_INSTANCE (4)
  0x11, 0x00, 0x00, 0x00, //       instance 17
  0x08, 0x00, 0x05, 0x00, //     TIPC_NLA_SOCK_GROUP_BC_SEND_NEXT (5)
  0xff, 0xff, 0x00, 0x00, //       65535
  0x04, 0x00, 0x03, 0x00, //     TIPC_NLA_SOCK_GROUP_CLUSTER_SCOPE (3, flag)
  0x04, 0x00, 0x01, 0x00, //     TIPC_NLA_SOCK_GROUP_OPEN (1, flag)
]);

const GROUP_SOCKET: TipcSocket = {
  protocol: 'tipc',
  family: 'tipc',
  state: 'closed',
  inode: 555,
  uid: 0,
  cookie: 42n,
  recvQ: 0,
  sendQ: 0,
  type: 'rdm',
  node: 0x01001001,
  port: 2748,
  connection: undefined,
  hasPublications: true,
  stats: { receiveQueue: 0, sendQueue: 0, drops: 0, linkCongested: true },
  group: { id: 4711, instance: 17, bcSendNext: 65535, clusterScope: true, open: true },
  unknownTopLevel: undefined,
  unknown: undefined,
  processes: undefined,
};

// What the kernel sends for a socket its state filter skipped: a header and nothing else.
const EMPTY = Buffer.from([
  0x10, 0x00, 0x00, 0x00, // nlmsg_len 16
  0x14, 0x00, //             nlmsg_type SOCK_DIAG_BY_FAMILY
  0x02, 0x00, //             nlmsg_flags NLM_F_MULTI
  0x05, 0x00, 0x00, 0x00, // nlmsg_seq 5
  0x00, 0x00, 0x00, 0x00, // nlmsg_pid 0
]);

const decode = (b: Buffer): TipcSocket | undefined => decodeTipcMessage(b, 0, b.length);

describe('tipc tables', () => {
  test('the request structure matches the uapi header', () => {
    expect(tipcSockDiagReq.size).toBe(8);
  });

  test('one row per kernel constant, with the header numbers', () => {
    const rows = (t: { rows: readonly { type: number; orig: string }[] }) => Object.fromEntries(t.rows.map((r) => [r.orig, r.type]));
    expect(rows(tipcAttributes)).toEqual({ TIPC_NLA_SOCK: 2 });
    expect(rows(tipcSockAttributes)).toEqual({
      TIPC_NLA_SOCK_ADDR: 1, TIPC_NLA_SOCK_REF: 2, TIPC_NLA_SOCK_CON: 3, TIPC_NLA_SOCK_HAS_PUBL: 4, TIPC_NLA_SOCK_STAT: 5,
      TIPC_NLA_SOCK_TYPE: 6, TIPC_NLA_SOCK_INO: 7, TIPC_NLA_SOCK_UID: 8, TIPC_NLA_SOCK_TIPC_STATE: 9, TIPC_NLA_SOCK_COOKIE: 10,
      TIPC_NLA_SOCK_PAD: 11, TIPC_NLA_SOCK_GROUP: 12,
    });
    expect(rows(tipcConAttributes)).toEqual({ TIPC_NLA_CON_FLAG: 1, TIPC_NLA_CON_NODE: 2, TIPC_NLA_CON_SOCK: 3, TIPC_NLA_CON_TYPE: 4, TIPC_NLA_CON_INST: 5 });
    expect(rows(tipcStatAttributes)).toEqual({
      TIPC_NLA_SOCK_STAT_RCVQ: 0, TIPC_NLA_SOCK_STAT_SENDQ: 1, TIPC_NLA_SOCK_STAT_LINK_CONG: 2, TIPC_NLA_SOCK_STAT_CONN_CONG: 3, TIPC_NLA_SOCK_STAT_DROP: 4,
    });
    expect(rows(tipcGroupAttributes)).toEqual({
      TIPC_NLA_SOCK_GROUP_ID: 0, TIPC_NLA_SOCK_GROUP_OPEN: 1, TIPC_NLA_SOCK_GROUP_NODE_SCOPE: 2, TIPC_NLA_SOCK_GROUP_CLUSTER_SCOPE: 3,
      TIPC_NLA_SOCK_GROUP_INSTANCE: 4, TIPC_NLA_SOCK_GROUP_BC_SEND_NEXT: 5,
    });
  });
});

describe('decodeTipcMessage: golden fixtures', () => {
  test('a connected stream socket (with TIPC_NLA_SOCK_PAD before the cookie)', () => {
    expect(decode(CONNECTED)).toStrictEqual(CONNECTED_SOCKET);
  });

  test('an unconnected RDM group member with publications', () => {
    expect(decode(GROUP_MEMBER)).toStrictEqual(GROUP_SOCKET);
  });

  test('every socket has the same properties in the same order (one hidden class)', () => {
    expect(Object.keys(decode(CONNECTED)!)).toEqual(Object.keys(CONNECTED_SOCKET));
    expect(Object.keys(decode(GROUP_MEMBER)!)).toEqual(Object.keys(CONNECTED_SOCKET));
  });

  test('encodeTipcMessage gives the kernel bytes back (attributes in kernel order)', () => {
    expect(encodeTipcMessage(GROUP_SOCKET, 5).toString('hex')).toBe(GROUP_MEMBER.toString('hex'));
    // The connected fixture differs only by the PAD attribute, which is not re-emitted.
    const noPad = Buffer.concat([CONNECTED.subarray(0, 108), CONNECTED.subarray(112)]);
    noPad.writeUInt32LE(noPad.length, 0);
    noPad.writeUInt16LE(noPad.length - 16, 16);
    expect(encodeTipcMessage(CONNECTED_SOCKET, 5).toString('hex')).toBe(noPad.toString('hex'));
  });

  test('an empty message (a socket the state filter skipped) decodes to undefined', () => {
    expect(decode(EMPTY)).toBeUndefined();
    // Also when only attributes other than TIPC_NLA_SOCK are present.
    expect(decode(afterNest(EMPTY, UNKNOWN_ATTRS))).toBeUndefined();
  });

  test('missing attributes take the documented defaults', () => {
    const bare = Buffer.from([0x14, 0, 0, 0, 0x14, 0, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x04, 0x00, 0x02, 0x00]);
    expect(decode(bare)).toStrictEqual({
      ...CONNECTED_SOCKET,
      state: 'unknown',
      inode: 0,
      uid: undefined,
      cookie: 0n,
      recvQ: 0,
      sendQ: 0,
      type: 'unknown',
      node: undefined,
      port: undefined,
      connection: undefined,
      stats: undefined,
    });
  });

  test('unknown attributes survive as { type, bytes }, at each level', () => {
    const inNest = decode(insideNest(GROUP_MEMBER, UNKNOWN_ATTRS))!;
    expect(inNest.unknown).toEqual(UNKNOWN_ATTRS_DECODED);
    expect(inNest.unknownTopLevel).toBeUndefined();
    expect(inNest.group).toEqual(GROUP_SOCKET.group);

    const outside = decode(afterNest(GROUP_MEMBER, UNKNOWN_ATTRS))!;
    expect(outside.unknownTopLevel).toEqual(UNKNOWN_ATTRS_DECODED);
    expect(outside.unknown).toBeUndefined();

    // Inside TIPC_NLA_SOCK_STAT: a stat the table does not know.
    const stat = Buffer.from(CONNECTED);
    stat.writeUInt16LE(0x0f, 146); // turn TIPC_NLA_SOCK_STAT_DROP (4) into type 15
    expect(decode(stat)!.stats).toEqual({ receiveQueue: 3, sendQueue: 2, connectionCongested: true, unknown: [{ type: 15, bytes: Buffer.from([9, 0, 0, 0]) }] });
  });

  test('re-encoding keeps unknown attributes at their level', () => {
    // (Without NLA_F_* bits: the engine keeps the type with those bits masked off.)
    const plain = Buffer.from([0x08, 0x00, 0xf0, 0x3f, 0xde, 0xad, 0xbe, 0xef, 0x05, 0x00, 0x17, 0x00, 0x42, 0x00, 0x00, 0x00]);
    const b = afterNest(insideNest(GROUP_MEMBER, plain), Buffer.from([0x08, 0x00, 0x01, 0x00, 1, 2, 3, 4]));
    const s = decode(b)!;
    expect(s.unknownTopLevel).toEqual([{ type: 1, bytes: Buffer.from([1, 2, 3, 4]) }]);
    expect(encodeTipcMessage(s, 5).toString('hex')).toBe(b.toString('hex'));
  });

  test('a duplicated attribute: the first one wins', () => {
    const dupIno = Buffer.from([0x08, 0x00, 0x07, 0x00, 0x01, 0x00, 0x00, 0x00]); // TIPC_NLA_SOCK_INO 1
    const s = decode(insideNest(GROUP_MEMBER, dupIno))!;
    expect(s.inode).toBe(555);
    expect(s.unknown).toBeUndefined();
    // A second TIPC_NLA_SOCK is ignored as a whole.
    const second = Buffer.from(CONNECTED.subarray(16));
    expect(decode(afterNest(GROUP_MEMBER, second))).toStrictEqual(GROUP_SOCKET);
  });

  test('states come from the TCP numbers TIPC reuses', () => {
    const states: Record<number, string> = { 1: 'established', 2: 'syn-sent', 7: 'closed', 8: 'close-wait', 10: 'listening', 99: 'unknown' };
    for (const [n, name] of Object.entries(states)) {
      const b = Buffer.from(GROUP_MEMBER);
      b.writeUInt32LE(Number(n), 52); // TIPC_NLA_SOCK_TIPC_STATE payload
      expect(decode(b)!.state).toBe(name);
    }
  });
});

describe('decodeTipcMessage: malformed input', () => {
  test('attribute payloads shorter than their type are a DecodeError', () => {
    const shortU32 = Buffer.from([0x06, 0x00, 0x07, 0x00, 0x01, 0x00, 0x00, 0x00]); // INO with 2 bytes
    expect(() => decode(insideNest(EMPTY_NEST(), shortU32))).toThrow(DecodeError);
    const shortCookie = Buffer.from([0x08, 0x00, 0x0a, 0x00, 0x01, 0x00, 0x00, 0x00]); // COOKIE with 4 bytes
    expect(() => decode(insideNest(EMPTY_NEST(), shortCookie))).toThrow(DecodeError);
    const shortState = Buffer.from([0x05, 0x00, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00]);
    expect(() => decode(insideNest(EMPTY_NEST(), shortState))).toThrow(DecodeError);
  });

  test('a nest longer than the message is a DecodeError', () => {
    const b = Buffer.from(CONNECTED);
    b.writeUInt16LE(144, 16);
    expect(() => decode(b)).toThrow(DecodeError);
    const inner = Buffer.from(CONNECTED);
    inner.writeUInt16LE(0x100, 36); // TIPC_NLA_SOCK_CON runs past its parent
    expect(() => decode(inner)).toThrow(DecodeError);
    const overlap = Buffer.from(CONNECTED);
    overlap.writeUInt16LE(44, 36); // TIPC_NLA_SOCK_CON swallows half of the next attribute
    expect(() => decode(overlap)).toThrow(DecodeError);
  });

  test('nlmsg_len that disagrees with len, or a range outside the buffer, is a DecodeError', () => {
    const b = Buffer.from(CONNECTED);
    b.writeUInt32LE(160, 0);
    expect(() => decode(b)).toThrow(DecodeError);
    expect(() => decodeTipcMessage(CONNECTED, 1, CONNECTED.length)).toThrow(DecodeError);
    expect(() => decodeTipcMessage(CONNECTED, 0, CONNECTED.length + 4)).toThrow(DecodeError);
    expect(() => decodeTipcMessage(CONNECTED, 0, 15)).toThrow(DecodeError);
  });

  test('truncation at every offset: a socket, undefined or a DecodeError, never anything else', () => {
    for (const full of [insideNest(CONNECTED, UNKNOWN_ATTRS), afterNest(GROUP_MEMBER, UNKNOWN_ATTRS)]) {
      expect(checkEveryCut(TIPC, full)).toBeGreaterThan(0);
    }
  });

  test('random garbage: a socket, undefined or a DecodeError', () => {
    assertGarbage(TIPC, { numRuns: 100 });
  });

  test('random garbage inside a TIPC_NLA_SOCK nest: a socket or a DecodeError', () => {
    fc.assert(fc.property(arbBytes(4096), (a) => checkDecodes(TIPC, insideNest(EMPTY_NEST(), Buffer.from(a)))));
  });

  test('random well-framed attributes inside the nest: a socket or a DecodeError', () => {
    const attr = fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 40 }), fc.boolean());
    fc.assert(
      fc.property(fc.array(attr, { maxLength: 16 }), (attrs) => {
        const parts = attrs.map(([type, payload, nestInside]) => {
          const inner = nlattr(type % 14 | (type & 0xc000), payload);
          // Optionally wrap random attributes inside a known nest type (CON, STAT, GROUP).
          return nestInside ? nlattr([3, 5, 12][type % 3], inner) : inner;
        });
        checkDecodes(TIPC, insideNest(EMPTY_NEST(), Buffer.concat(parts)));
      }),
    );
  });
});

/** A message holding an empty TIPC_NLA_SOCK nest. */
function EMPTY_NEST(): Buffer {
  return Buffer.from([0x14, 0, 0, 0, 0x14, 0, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x04, 0x00, 0x02, 0x00]);
}

describe('decodeTipcMessage: properties over messages generated from the tables', () => {
  test('the decoder puts each attribute where the tables say', () => {
    fc.assert(
      fc.property(messageArb, ({ sock, top, bytes }) => {
        const s = decode(bytes)!;
        expect(s).toBeDefined();
        expect(s.node).toBe(sock.node);
        expect(s.port).toBe(sock.port);
        expect(s.uid).toBe(sock.uid);
        expect(s.inode).toBe(sock.inode ?? 0);
        expect(s.cookie).toBe(sock.cookie ?? 0n);
        expect(s.state).toBe(sock.state ?? 'unknown');
        expect(s.type).toBe(sock.type ?? 'unknown');
        expect(s.hasPublications).toBe(sock.hasPublications);
        expect(s.connection).toEqual(sock.connection);
        expect(s.stats).toEqual(sock.stats);
        expect(s.group).toEqual(sock.group);
        expect(s.recvQ).toBe((sock.stats as { receiveQueue?: number } | undefined)?.receiveQueue ?? 0);
        expect(s.sendQ).toBe((sock.stats as { sendQueue?: number } | undefined)?.sendQueue ?? 0);
        expect(s.unknown).toEqual(sock.unknown);
        expect(s.unknownTopLevel).toEqual(top);
      }),
    );
  });

  test('decode → encode → decode is stable', () => {
    fc.assert(
      fc.property(messageArb, ({ bytes }) => {
        const first = decode(bytes)!;
        const again = encodeTipcMessage(first, 9);
        expect(decode(again)).toStrictEqual(first);
      }),
    );
  });

  test('the decoder never reads outside [off, off + len)', () => {
    assertConfined(TIPC, messageArb.map((m) => m.bytes), 100);
  });
});

describe('encodeTipcRequest', () => {
  test('default: every state, byte for byte', () => {
    const expected = Buffer.from([
      // struct nlmsghdr
      0x18, 0x00, 0x00, 0x00, // nlmsg_len 24
      0x14, 0x00, //             nlmsg_type SOCK_DIAG_BY_FAMILY
      0x01, 0x03, //             nlmsg_flags NLM_F_REQUEST | NLM_F_DUMP
      0x00, 0x00, 0x00, 0x00, // nlmsg_seq 0
      0x00, 0x00, 0x00, 0x00, // nlmsg_pid 0
      // struct tipc_sock_diag_req
      0x1e, //                   sdiag_family AF_TIPC (30)
      0x00, //                   sdiag_protocol
      0x00, 0x00, //             pad
      0xff, 0xff, 0xff, 0xff, // tidiag_states: all
    ]);
    expect(encodeTipcRequest().toString('hex')).toBe(expected.toString('hex'));
  });

  test("ss's default TIPC states (established, listening, closed), by name", () => {
    const b = encodeTipcRequest({ states: ['established', 'listening', 'closed'] });
    expect(b.subarray(20, 24).toString('hex')).toBe('82040000'); // (1 << 1) | (1 << 7) | (1 << 10)
    expect(encodeTipcRequest({ states: 0x400 }).subarray(20, 24).toString('hex')).toBe('00040000');
    expect(() => encodeTipcRequest({ states: 0.5 })).toThrow(RangeError);
    expect(() => encodeTipcRequest({ states: ['nope' as 'closed'] })).toThrow(TypeError);
  });
});
