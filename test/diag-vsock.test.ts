import fc from 'fast-check';
import {
  decodeVsockMessage,
  encodeVsockMessage,
  encodeVsockRequest,
  vsockAttributes,
  vsockDiagMsg,
  vsockDiagReq,
  VsockSocket,
} from '../lib/diag/vsock';
import { DecodeError } from '../lib/errors';
import { encodeAttributes, RawAttribute } from '../lib/netlink/attributes';
import { structToBuffer } from '../lib/netlink/struct';
import { FamilyDecoder, UNKNOWN_ATTRS, UNKNOWN_ATTRS_DECODED, arbRawAttributes, arbStruct, assertConfined, assertGarbage, checkEveryCut, nlmsg, withAttributes } from './helpers/decoder-harness';

const VSOCK: FamilyDecoder = { decode: decodeVsockMessage, protocol: 'vsock', af: 40, checksLength: true };

/** A reply message built with the tables and the engine, independently of encodeVsockMessage. */
function buildMessage(msg: Record<string, unknown>, unknown: RawAttribute[] | undefined): Buffer {
  return nlmsg(Buffer.concat([structToBuffer(vsockDiagMsg, msg), encodeAttributes(vsockAttributes, { unknown })]), 7);
}

const messageArb = fc
  .tuple(arbStruct(vsockDiagMsg), fc.option(arbRawAttributes(1), { nil: undefined }))
  .map(([fields, unknown]) => {
    const msg: Record<string, unknown> = { ...fields, family: 40 };
    return { msg, unknown, bytes: buildMessage(msg, unknown) };
  });

// ---------------------------------------------------------------------------------------
// Golden fixtures, written by hand from linux/vm_sockets_diag.h (not from the tables)

const ESTABLISHED = Buffer.from([
  // struct nlmsghdr
  0x30, 0x00, 0x00, 0x00, // nlmsg_len 48
  0x14, 0x00, //             nlmsg_type SOCK_DIAG_BY_FAMILY (20)
  0x02, 0x00, //             nlmsg_flags NLM_F_MULTI
  0x01, 0x00, 0x00, 0x00, // nlmsg_seq 1
  0x39, 0x30, 0x00, 0x00, // nlmsg_pid 12345
  // struct vsock_diag_msg
  0x28, //                   vdiag_family AF_VSOCK (40)
  0x01, //                   vdiag_type SOCK_STREAM
  0x01, //                   vdiag_state TCP_ESTABLISHED
  0x02, //                   vdiag_shutdown SEND_SHUTDOWN
  0x03, 0x00, 0x00, 0x00, // vdiag_src_cid 3
  0x00, 0x04, 0x00, 0x00, // vdiag_src_port 1024
  0x02, 0x00, 0x00, 0x00, // vdiag_dst_cid 2 (the host)
  0x16, 0x00, 0x00, 0x00, // vdiag_dst_port 22
  0x15, 0xcd, 0x5b, 0x07, // vdiag_ino 123456789
  0x78, 0x56, 0x34, 0x12, // vdiag_cookie[0] (low half)
  0x01, 0x00, 0x00, 0x00, // vdiag_cookie[1] (high half)
]);

const LISTENING_DGRAM = Buffer.from([
  // struct nlmsghdr
  0x30, 0x00, 0x00, 0x00, // nlmsg_len 48
  0x14, 0x00, //             nlmsg_type SOCK_DIAG_BY_FAMILY
  0x02, 0x00, //             nlmsg_flags NLM_F_MULTI
  0x00, 0x00, 0x00, 0x00, // nlmsg_seq 0
  0x00, 0x00, 0x00, 0x00, // nlmsg_pid 0
  // struct vsock_diag_msg
  0x28, //                   vdiag_family AF_VSOCK
  0x02, //                   vdiag_type SOCK_DGRAM
  0x0a, //                   vdiag_state TCP_LISTEN (10)
  0x03, //                   vdiag_shutdown RCV_SHUTDOWN|SEND_SHUTDOWN
  0xff, 0xff, 0xff, 0xff, // vdiag_src_cid VMADDR_CID_ANY
  0xd2, 0x04, 0x00, 0x00, // vdiag_src_port 1234
  0xff, 0xff, 0xff, 0xff, // vdiag_dst_cid VMADDR_CID_ANY
  0xff, 0xff, 0xff, 0xff, // vdiag_dst_port VMADDR_PORT_ANY
  0x01, 0x00, 0x00, 0x00, // vdiag_ino 1
  0xff, 0xff, 0xff, 0xff, // vdiag_cookie[0]
  0xff, 0xff, 0xff, 0xff, // vdiag_cookie[1]
]);

const ESTABLISHED_SOCKET: VsockSocket = {
  protocol: 'vsock',
  family: 'vsock',
  state: 'established',
  inode: 123456789,
  uid: undefined,
  cookie: 0x1_1234_5678n,
  recvQ: 0,
  sendQ: 0,
  type: 'stream',
  shutdown: 2,
  local: { cid: 3, port: 1024 },
  remote: { cid: 2, port: 22 },
  unknown: undefined,
  processes: undefined,
};

describe('vsock tables', () => {
  test('struct sizes match the uapi header', () => {
    expect(vsockDiagReq.size).toBe(24);
    expect(vsockDiagMsg.size).toBe(32);
    expect(vsockAttributes.rows).toHaveLength(0);
  });
});

describe('decodeVsockMessage: golden fixtures', () => {
  test('an established stream socket', () => {
    expect(decodeVsockMessage(ESTABLISHED, 0, ESTABLISHED.length)).toStrictEqual(ESTABLISHED_SOCKET);
  });

  test('a listening dgram socket with wildcard addresses and an all-ones cookie', () => {
    const s = decodeVsockMessage(LISTENING_DGRAM, 0, LISTENING_DGRAM.length);
    expect(s).toMatchObject({
      state: 'listening',
      type: 'dgram',
      shutdown: 3,
      inode: 1,
      cookie: 0xffff_ffff_ffff_ffffn,
      local: { cid: 0xffffffff, port: 1234 },
      remote: { cid: 0xffffffff, port: 0xffffffff },
      recvQ: 0,
      sendQ: 0,
      uid: undefined,
    });
  });

  test('every socket has the same properties in the same order (one hidden class)', () => {
    const a = decodeVsockMessage(ESTABLISHED, 0, ESTABLISHED.length);
    const b = decodeVsockMessage(withAttributes(LISTENING_DGRAM, UNKNOWN_ATTRS), 0, LISTENING_DGRAM.length + UNKNOWN_ATTRS.length);
    expect(Object.keys(a)).toEqual(Object.keys(b));
    expect(Object.keys(a)).toEqual(Object.keys(ESTABLISHED_SOCKET));
  });

  test('encodeVsockMessage gives the fixture back byte for byte', () => {
    expect(encodeVsockMessage(ESTABLISHED_SOCKET, 1, 12345).equals(ESTABLISHED)).toBe(true);
  });

  test('unknown attributes survive as { type, bytes } (flag bits masked off)', () => {
    // The kernel sends no attributes; UNKNOWN_ATTRS are what a future kernel might add.
    const b = withAttributes(ESTABLISHED, UNKNOWN_ATTRS);
    const s = decodeVsockMessage(b, 0, b.length);
    expect(s.unknown).toEqual(UNKNOWN_ATTRS_DECODED);
    // The unknown payloads are copies: they do not alias the receive buffer.
    b.fill(0, 16 + 32);
    expect(s.unknown?.[0].bytes).toEqual(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
  });

  test('a duplicated (unknown) attribute is kept twice, in order', () => {
    const dup = Buffer.from([0x08, 0x00, 0x05, 0x00, 1, 2, 3, 4, 0x08, 0x00, 0x05, 0x00, 5, 6, 7, 8]);
    const b = withAttributes(ESTABLISHED, dup);
    expect(decodeVsockMessage(b, 0, b.length).unknown).toEqual([
      { type: 5, bytes: Buffer.from([1, 2, 3, 4]) },
      { type: 5, bytes: Buffer.from([5, 6, 7, 8]) },
    ]);
  });

  test('an unexpected type number decodes as unknown', () => {
    const b = Buffer.from(ESTABLISHED);
    b[17] = 3; // SOCK_RAW: not a vsock type
    expect(decodeVsockMessage(b, 0, b.length).type).toBe('unknown');
    b[17] = 5; // SOCK_SEQPACKET
    expect(decodeVsockMessage(b, 0, b.length).type).toBe('seqpacket');
  });
});

describe('decodeVsockMessage: malformed input', () => {
  test('a message of another family is a DecodeError', () => {
    const b = Buffer.from(ESTABLISHED);
    b[16] = 2; // AF_INET
    expect(() => decodeVsockMessage(b, 0, b.length)).toThrow(DecodeError);
  });

  test('nlmsg_len that disagrees with len is a DecodeError', () => {
    const b = Buffer.from(ESTABLISHED);
    b.writeUInt32LE(52, 0);
    expect(() => decodeVsockMessage(b, 0, b.length)).toThrow(DecodeError);
  });

  test('off/len outside the buffer are a DecodeError, not a RangeError', () => {
    expect(() => decodeVsockMessage(ESTABLISHED, 0, ESTABLISHED.length + 1)).toThrow(DecodeError);
    expect(() => decodeVsockMessage(ESTABLISHED, 8, ESTABLISHED.length)).toThrow(DecodeError);
    expect(() => decodeVsockMessage(ESTABLISHED, -1, 16)).toThrow(DecodeError);
    expect(() => decodeVsockMessage(ESTABLISHED, 0.5, 16)).toThrow(DecodeError);
  });

  test('an attribute longer than the message is a DecodeError', () => {
    const b = withAttributes(ESTABLISHED, Buffer.from([0x0c, 0x00, 0x05, 0x00, 1, 2, 3, 4]));
    expect(() => decodeVsockMessage(b, 0, b.length)).toThrow(DecodeError);
    const c = withAttributes(ESTABLISHED, Buffer.from([0x02, 0x00, 0x05, 0x00])); // nla_len < 4
    expect(() => decodeVsockMessage(c, 0, c.length)).toThrow(DecodeError);
  });

  test('truncation at every offset: a socket or a DecodeError, never anything else', () => {
    // As cut off (header still claims the full length) a DecodeError; with nlmsg_len patched
    // to the cut, to reach the structure and attribute checks, exactly the cuts at attribute
    // boundaries past the 48-byte fixed part decode.
    const full = withAttributes(ESTABLISHED, UNKNOWN_ATTRS);
    expect(checkEveryCut(VSOCK, full, 48)).toBeGreaterThan(0);
  });

  test('random garbage: a socket or a DecodeError', () => {
    assertGarbage(VSOCK, { framed: false, numRuns: 100 });
  });

  test('random garbage behind a valid header and family: a socket or a DecodeError', () => {
    assertGarbage(VSOCK, { framed: true, numRuns: 100 });
  });
});

describe('decodeVsockMessage: properties over messages generated from the tables', () => {
  test('the decoder reads each field where the table puts it', () => {
    fc.assert(
      fc.property(messageArb, ({ msg, unknown, bytes }) => {
        const s = decodeVsockMessage(bytes, 0, bytes.length);
        expect(s.local).toEqual({ cid: msg.srcCid, port: msg.srcPort });
        expect(s.remote).toEqual({ cid: msg.dstCid, port: msg.dstPort });
        expect(s.inode).toBe(msg.inode);
        expect(s.cookie).toBe(msg.cookie);
        expect(s.shutdown).toBe(msg.shutdown);
        expect(s.unknown).toEqual(unknown);
      }),
    );
  });

  test('decode → encode → decode is stable', () => {
    fc.assert(
      fc.property(messageArb, ({ bytes }) => {
        const first = decodeVsockMessage(bytes, 0, bytes.length);
        const again = encodeVsockMessage(first);
        expect(decodeVsockMessage(again, 0, again.length)).toStrictEqual(first);
      }),
    );
  });

  test('the decoder never reads outside [off, off + len)', () => {
    assertConfined(VSOCK, messageArb.map((m) => m.bytes), 100);
  });
});

describe('encodeVsockRequest', () => {
  test('default: every state, byte for byte', () => {
    const expected = Buffer.from([
      // struct nlmsghdr
      0x28, 0x00, 0x00, 0x00, // nlmsg_len 40
      0x14, 0x00, //             nlmsg_type SOCK_DIAG_BY_FAMILY
      0x01, 0x03, //             nlmsg_flags NLM_F_REQUEST | NLM_F_DUMP
      0x00, 0x00, 0x00, 0x00, // nlmsg_seq 0
      0x00, 0x00, 0x00, 0x00, // nlmsg_pid 0
      // struct vsock_diag_req
      0x28, //                   sdiag_family AF_VSOCK
      0x00, //                   sdiag_protocol 0
      0x00, 0x00, //             pad
      0xff, 0xff, 0xff, 0xff, // vdiag_states: all
      0x00, 0x00, 0x00, 0x00, // vdiag_ino (reserved)
      0x00, 0x00, 0x00, 0x00, // vdiag_show (reserved)
      0x00, 0x00, 0x00, 0x00, // vdiag_cookie[0]
      0x00, 0x00, 0x00, 0x00, // vdiag_cookie[1]
    ]);
    expect(encodeVsockRequest().toString('hex')).toBe(expected.toString('hex'));
  });

  test('states by name or by mask', () => {
    const byName = encodeVsockRequest({ states: ['established', 'listening'] });
    expect(byName.subarray(20, 24).toString('hex')).toBe('02040000'); // (1 << 1) | (1 << 10)
    expect(byName.length).toBe(40);
    expect(encodeVsockRequest({ states: 0x80 }).subarray(20, 24).toString('hex')).toBe('80000000');
    expect(encodeVsockRequest({ states: [] }).subarray(20, 24).toString('hex')).toBe('00000000');
  });

  test('a mask out of range is a RangeError, an unknown name a TypeError', () => {
    expect(() => encodeVsockRequest({ states: -1 })).toThrow(RangeError);
    expect(() => encodeVsockRequest({ states: 2 ** 32 })).toThrow(RangeError);
    expect(() => encodeVsockRequest({ states: ['bogus' as 'established'] })).toThrow(TypeError);
  });
});
