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
import { encodeStruct, StructSpec } from '../lib/netlink/struct';
import { writeHeader } from '../lib/netlink/message';

// ---------------------------------------------------------------------------------------
// Helpers (kept in this file so the test stands alone)

/** An arbitrary value for every (non bit-field) field of a structure table. */
function structArb(spec: StructSpec): fc.Arbitrary<Record<string, number | bigint>> {
  const fields: Record<string, fc.Arbitrary<number | bigint>> = {};
  for (const f of spec.fields) {
    if (f.bits) continue;
    switch (f.type) {
      case 'u8': fields[f.name] = fc.integer({ min: 0, max: 0xff }); break;
      case 'u16': fields[f.name] = fc.integer({ min: 0, max: 0xffff }); break;
      case 'u32': fields[f.name] = fc.integer({ min: 0, max: 0xffffffff }); break;
      case 'u64': fields[f.name] = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }); break;
      default: throw new Error(`no arbitrary for ${f.type}`);
    }
  }
  return fc.record(fields);
}

const rawAttrArb: fc.Arbitrary<RawAttribute> = fc.record({
  type: fc.integer({ min: 1, max: 0x3fff }),
  bytes: fc.uint8Array({ maxLength: 24 }).map((a) => Buffer.from(a)),
});

/** A reply message built with the tables and the engine, independently of encodeVsockMessage. */
function buildMessage(msg: Record<string, unknown>, unknown: RawAttribute[] | undefined): Buffer {
  const attrs = encodeAttributes(vsockAttributes, { unknown });
  const len = 16 + vsockDiagMsg.size + attrs.length;
  const b = Buffer.alloc(len);
  writeHeader(b, { len, type: 20, flags: 2, seq: 7, pid: 0 });
  encodeStruct(vsockDiagMsg, msg, b, 16);
  attrs.copy(b, 16 + vsockDiagMsg.size);
  return b;
}

const messageArb = fc
  .tuple(structArb(vsockDiagMsg), fc.option(fc.array(rawAttrArb, { minLength: 1, maxLength: 4 }), { nil: undefined }))
  .map(([fields, unknown]) => {
    const msg: Record<string, number | bigint> = { ...fields, family: 40 };
    return { msg, unknown, bytes: buildMessage(msg, unknown) };
  });

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };
function attempt(f: () => unknown): Outcome {
  try {
    return { ok: true, value: f() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Runs a decode that may fail: it must return a socket or throw DecodeError, nothing else. */
function socketOrDecodeError(f: () => VsockSocket): void {
  const r = attempt(f);
  if (r.ok) expect((r.value as VsockSocket).protocol).toBe('vsock');
  else if (!(r.error instanceof DecodeError)) throw r.error;
}

const withLength = (b: Buffer, len: number): Buffer => {
  const c = Buffer.from(b.subarray(0, len));
  if (len >= 4) c.writeUInt32LE(len, 0);
  return c;
};

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

// The kernel sends no attributes; these are what a future kernel might add.
const UNKNOWN_ATTRS = Buffer.from([
  0x08, 0x00, //             nla_len 8
  0xf0, 0x7f, //             nla_type 0x7ff0 (NLA_F_NET_BYTEORDER | 0x3ff0)
  0xde, 0xad, 0xbe, 0xef, // payload
  0x05, 0x00, //             nla_len 5
  0x17, 0x80, //             nla_type 23 | NLA_F_NESTED
  0x42, //                   payload
  0x00, 0x00, 0x00, //       alignment padding
]);

function withAttributes(base: Buffer, attrs: Buffer): Buffer {
  const b = Buffer.concat([base, attrs]);
  b.writeUInt32LE(b.length, 0);
  return b;
}

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
    const b = withAttributes(ESTABLISHED, UNKNOWN_ATTRS);
    const s = decodeVsockMessage(b, 0, b.length);
    expect(s.unknown).toEqual([
      { type: 0x3ff0, flags: 0x4000, bytes: Buffer.from([0xde, 0xad, 0xbe, 0xef]) },
      { type: 23, flags: 0x8000, bytes: Buffer.from([0x42]) },
    ]);
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
    const full = withAttributes(ESTABLISHED, UNKNOWN_ATTRS);
    let decoded = 0;
    for (let n = 0; n < full.length; n++) {
      // As cut off (header still claims the full length) …
      expect(() => decodeVsockMessage(full.subarray(0, n), 0, n)).toThrow(DecodeError);
      // … and with nlmsg_len patched to the cut, to reach the structure and attribute checks.
      const cut = withLength(full, n);
      const r = attempt(() => decodeVsockMessage(cut, 0, n));
      if (r.ok) decoded++;
      else expect(r.error).toBeInstanceOf(DecodeError);
      if (n < 48) expect(r.ok).toBe(false);
    }
    expect(decoded).toBeGreaterThan(0); // cuts at attribute boundaries decode
  });

  test('random garbage: a socket or a DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 65536 }), (a) => {
        const b = Buffer.from(a);
        socketOrDecodeError(() => decodeVsockMessage(b, 0, b.length));
      }),
    );
  });

  test('random garbage behind a valid header and family: a socket or a DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 4096 }), (a) => {
        const b = Buffer.concat([Buffer.alloc(16), Buffer.from(a)]);
        b.writeUInt32LE(b.length, 0);
        b[16] = 40;
        socketOrDecodeError(() => decodeVsockMessage(b, 0, b.length));
      }),
    );
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
    fc.assert(
      fc.property(messageArb, fc.nat({ max: 64 }), fc.nat({ max: 64 }), fc.nat(), ({ bytes }, before, after, cutSeed) => {
        // The whole message, and a cut one (nlmsg_len patched), embedded between sentinels.
        for (const msg of [bytes, withLength(bytes, cutSeed % (bytes.length + 1))]) {
          const results = [0xaa, 0x55].map((fill) => {
            const big = Buffer.alloc(before + msg.length + after, fill);
            msg.copy(big, before);
            return attempt(() => decodeVsockMessage(big, before, msg.length));
          });
          const alone = attempt(() => decodeVsockMessage(Buffer.from(msg), 0, msg.length));
          expect(results[0]).toEqual(results[1]);
          expect(results[0].ok).toBe(alone.ok);
          if (results[0].ok) expect(results[0]).toEqual(alone);
          else expect(results[0].error).toBeInstanceOf(DecodeError);
        }
      }),
    );
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
