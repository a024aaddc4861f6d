import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { nlmsghdr } from '../lib/netlink/message';
import { FieldSpec, StructSpec, fieldSize, structToBuffer } from '../lib/netlink/struct';

// ---------------------------------------------------------------------------------------
// Harness (the same in the three sock_diag family test files).

// Arrays and strings up to their maxLength, not the default "small" (at most ~10 elements).
fc.configureGlobal({ baseSize: 'medium' });

/** Random bytes: often short, sometimes up to 64 KiB. */
const arbGarbage = fc.oneof(fc.uint8Array({ maxLength: 300, size: 'max' }), fc.uint8Array({ maxLength: 65536, size: 'max' }));

type Decoder = (b: Buffer, off: number, len: number) => unknown;

/** Runs a decoder; returns the socket or the DecodeError, and fails on any other throw. */
function attempt(decode: Decoder, b: Buffer, off: number, len: number): { ok: unknown } | { err: DecodeError } {
  try {
    return { ok: decode(b, off, len) };
  } catch (e) {
    if (e instanceof DecodeError) return { err: e };
    throw new Error(`decoder threw ${(e as Error)?.constructor?.name}: ${String(e)}`);
  }
}

/** The outcome with DecodeError offsets made relative to the message start. */
function outcome(decode: Decoder, b: Buffer, off: number, len: number): unknown {
  const r = attempt(decode, b, off, len);
  return 'ok' in r ? { ok: r.ok } : { err: r.err.structName, at: r.err.offset - off };
}

/** Decodes `msg` alone, then placed inside bigger buffers of 0xAA and 0x55: all outcomes must agree. */
function checkConfined(decode: Decoder, msg: Buffer, lead = 13): void {
  const alone = outcome(decode, msg, 0, msg.length);
  for (const fill of [0xaa, 0x55]) {
    const big = Buffer.alloc(lead + msg.length + 61, fill);
    msg.copy(big, lead);
    expect(outcome(decode, big, lead, msg.length)).toEqual(alone);
  }
}

function arbField(f: FieldSpec): fc.Arbitrary<unknown> {
  switch (f.type) {
    case 'u8': return fc.integer({ min: 0, max: 0xff });
    case 's8': return fc.integer({ min: -0x80, max: 0x7f });
    case 'u16': case 'be16': return fc.integer({ min: 0, max: 0xffff });
    case 's16': return fc.integer({ min: -0x8000, max: 0x7fff });
    case 'u32': case 'be32': return fc.integer({ min: 0, max: 0xffffffff });
    case 's32': return fc.integer({ min: -0x80000000, max: 0x7fffffff });
    case 'u64': return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    case 's64': return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    case 'bytes': return fc.uint8Array({ minLength: fieldSize(f), maxLength: fieldSize(f) }).map((a) => Buffer.from(a));
  }
}

/** Values of a structure, every field drawn from its type in the table. */
function arbStruct<S extends StructSpec>(spec: S): fc.Arbitrary<Record<string, unknown>> {
  return fc.record(Object.fromEntries(spec.fields.map((f) => [f.name, arbField(f)])));
}

/** Attributes the table does not know (types past its last row). */
const arbUnknown = fc.option(
  fc.array(fc.record({ type: fc.integer({ min: 0x10, max: 0x3fff }), bytes: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)) }), { minLength: 1, maxLength: 3 }),
  { nil: undefined },
);

/** A netlink header in front of `payload`. */
function nlmsg(payload: Buffer, flags = 2): Buffer {
  const h = structToBuffer(nlmsghdr, { len: 16 + payload.length, type: 20, flags, seq: 1, pid: 0 });
  return Buffer.concat([h, payload]);
}

/** Attribute starts of a well-formed message whose attributes begin at `first`. */
function attrStarts(b: Buffer, first: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let o = first; o + 4 <= b.length; o += (b.readUInt16LE(o) + 3) & ~3) out.push([o, b.readUInt16LE(o)]);
  return out;
}

/** Whether `b` cut to `cut` bytes still decodes: the last attribute must be whole or have < 4 bytes. */
function cutDecodes(b: Buffer, first: number, cut: number): boolean {
  if (cut < first) return false;
  let ok = true;
  for (const [start, len] of attrStarts(b, first)) if (start <= cut) ok = cut - start < 4 || cut >= start + len;
  return ok;
}

/** Compiles a C program printing sizeof/offsetof of each table, when gcc and the headers exist. */
function cLayout(headers: string[], specs: Array<[StructSpec, string]>): string | undefined {
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  const lines = specs.flatMap(([s, c]) => [
    `printf("${s.name} %zu\\n", sizeof(struct ${c}));`,
    ...s.fields.map((f) => `printf("${s.name}.${f.orig} %zu %zu\\n", offsetof(struct ${c}, ${f.orig}), sizeof(((struct ${c} *)0)->${f.orig}));`),
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'sockdiag-layout-'));
  writeFileSync(join(dir, 'l.c'), `#include <stdio.h>\n#include <stddef.h>\n${headers.map((h) => `#include <${h}>`).join('\n')}\nint main(void) {\n${lines.join('\n')}\nreturn 0; }\n`);
  execFileSync('gcc', ['-o', join(dir, 'l'), join(dir, 'l.c')]);
  return execFileSync(join(dir, 'l')).toString();
}

function tableLayout(specs: Array<[StructSpec, string]>): string {
  return specs.map(([s]) => [`${s.name} ${s.size}`, ...s.fields.map((f) => `${s.name}.${f.orig} ${f.offset} ${fieldSize(f)}`)].join('\n') + '\n').join('');
}

/** `enum { A, B, … __X_MAX }` and `#define X 0x..` of a uapi header. */
function headerEnum(text: string, prefix: string): Array<[string, number]> {
  const body = text.slice(text.indexOf(`enum {`), text.indexOf(`__${prefix}MAX`));
  const names = [...body.matchAll(new RegExp(`^\\s*(${prefix}\\w+),`, 'gm'))].map((m) => m[1]);
  return names.map((n, i) => [n, i]);
}
function headerDefines(text: string, prefix: string): Record<string, number> {
  return Object.fromEntries([...text.matchAll(new RegExp(`#define\\s+${prefix}(\\w+)\\s+(0x[0-9a-fA-F]+|\\d+)`, 'g'))].map((m) => [m[1], Number(m[2])]));
}

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
  0x00, 0x00, 0x00, 0x00, // SK_MEMINFO_RMEM_ALLOC 0
  0x00, 0x40, 0x03, 0x00, // SK_MEMINFO_RCVBUF 212992
  0x00, 0x00, 0x00, 0x00, // SK_MEMINFO_WMEM_ALLOC 0
  0x00, 0x40, 0x03, 0x00, // SK_MEMINFO_SNDBUF 212992
  0x00, 0x00, 0x00, 0x00, // SK_MEMINFO_FWD_ALLOC
  0x00, 0x00, 0x00, 0x00, // SK_MEMINFO_WMEM_QUEUED
  0x00, 0x00, 0x00, 0x00, // SK_MEMINFO_OPTMEM
  0x00, 0x00, 0x00, 0x00, // SK_MEMINFO_BACKLOG
  0x00, 0x00, 0x00, 0x00, // SK_MEMINFO_DROPS
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
  0x00, 0x00, 0x00, 0x00, // SK_MEMINFO_RMEM_ALLOC 0
  0x00, 0x40, 0x03, 0x00, // SK_MEMINFO_RCVBUF 212992
  0x00, 0x00, 0x00, 0x00, // SK_MEMINFO_WMEM_ALLOC 0
  0x00, 0x40, 0x03, 0x00, // SK_MEMINFO_SNDBUF 212992
  0x00, 0x00, 0x00, 0x00, // SK_MEMINFO_FWD_ALLOC
  0x00, 0x00, 0x00, 0x00, // SK_MEMINFO_WMEM_QUEUED
  0x00, 0x00, 0x00, 0x00, // SK_MEMINFO_OPTMEM
  0x00, 0x00, 0x00, 0x00, // SK_MEMINFO_BACKLOG
  0x00, 0x00, 0x00, 0x00, // SK_MEMINFO_DROPS
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
  0x00, 0x11, 0x00, 0x00, // SK_MEMINFO_RMEM_ALLOC 4352
  0x00, 0x40, 0x03, 0x00, // SK_MEMINFO_RCVBUF 212992
  0x40, 0x03, 0x00, 0x00, // SK_MEMINFO_WMEM_ALLOC 832
  0x00, 0x40, 0x03, 0x00, // SK_MEMINFO_SNDBUF 212992
  0x00, 0x00, 0x00, 0x00, // SK_MEMINFO_FWD_ALLOC
  0x00, 0x00, 0x00, 0x00, // SK_MEMINFO_WMEM_QUEUED
  0x00, 0x00, 0x00, 0x00, // SK_MEMINFO_OPTMEM
  0x00, 0x00, 0x00, 0x00, // SK_MEMINFO_BACKLOG
  0x03, 0x00, 0x00, 0x00, // SK_MEMINFO_DROPS 3
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

const MEM = { rmemAlloc: 0, rcvbuf: 212992, wmemAlloc: 0, sndbuf: 212992, fwdAlloc: 0, wmemQueued: 0, optmem: 0, backlog: 0, drops: 0, tail: undefined };
const NO_FLAGS = { raw: 0, cbRunning: false, pktinfo: false, broadcastError: false, noEnobufs: false, listenAllNsid: false, capAck: false };
const ATTRS = 44; // nlmsghdr + netlink_diag_msg
const FIXTURES: Array<[string, Buffer]> = [['route with groups', ROUTE_GROUPS], ['generic connected', GENERIC_CONNECTED], ['autobound with rings', AUTOBOUND_RINGS]];
const head = (v: Record<string, unknown> = {}): Buffer => structToBuffer(netlinkDiagMsg, { family: 16, type: 3, ...v });

describe('netlink_diag tables', () => {
  test('struct layouts match the C headers (gcc offsetof/sizeof)', () => {
    const specs: Array<[StructSpec, string]> = [[netlinkDiagReq, 'netlink_diag_req'], [netlinkDiagMsg, 'netlink_diag_msg'], [netlinkDiagRing, 'netlink_diag_ring']];
    const c = cLayout(['linux/netlink_diag.h'], specs);
    const expected = tableLayout(specs);
    expect(c ?? expected).toBe(expected);
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
      meminfo: MEM,
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
      encodeAttributes(netlinkAttributes, { groups: [1], meminfo: { ...MEM, rmemAlloc: 5, wmemAlloc: 6 } }),
      encodeAttributes(netlinkAttributes, { groups: [2, 3], meminfo: { ...MEM, rmemAlloc: 7, wmemAlloc: 8 } }),
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
    for (let cut = 0; cut <= full.length; cut++) {
      const r = attempt(decodeNetlinkMessage, full, 0, cut);
      expect([cut, 'ok' in r]).toEqual([cut, cutDecodes(full, ATTRS, cut)]);
      const r2 = attempt(decodeNetlinkMessage, Buffer.from(full.subarray(0, cut)), 0, cut);
      expect('ok' in r2).toBe('ok' in r);
      if (cut < full.length) expect('err' in attempt(decodeNetlinkMessage, full.subarray(0, cut), 0, full.length)).toBe(true);
      checkConfined(decodeNetlinkMessage, full.subarray(0, cut));
    }
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
    fc.assert(
      fc.property(arbInput, fc.nat(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), (input, cutSeed, edits) => {
        const b = encodeNetlinkMessage(input);
        for (const [pos, v] of edits) b[pos % b.length] = v;
        const cut = cutSeed % (b.length + 1);
        checkConfined(decodeNetlinkMessage, b.subarray(0, cut));
        checkConfined(decodeNetlinkMessage, b);
      }),
      { numRuns: 500 },
    );
  });

  test('random garbage decodes or throws DecodeError, whatever the offset and length', () => {
    fc.assert(
      fc.property(arbGarbage, fc.boolean(), fc.nat(), fc.nat(), (bytes, forceFamily, a, c) => {
        const b = Buffer.from(bytes);
        if (forceFamily && b.length > 16) b[16] = 16; // AF_NETLINK, so the attributes get walked
        attempt(decodeNetlinkMessage, b, 0, b.length);
        const off = b.length ? a % b.length : 0;
        attempt(decodeNetlinkMessage, b, off, b.length ? c % (b.length - off + 1) : 0);
        if (b.length < 4096) checkConfined(decodeNetlinkMessage, b);
      }),
      { numRuns: 300 },
    );
  });

  test('an attribute stream of random TLVs decodes or throws DecodeError', () => {
    const tlv = fc.record({ len: fc.integer({ min: 0, max: 60 }), type: fc.integer({ min: 0, max: 0xffff }), body: fc.uint8Array({ maxLength: 60 }) });
    fc.assert(
      fc.property(fc.array(tlv, { maxLength: 12 }), (tlvs) => {
        const parts = tlvs.map(({ len, type, body }) => {
          const p = Buffer.alloc(4 + body.length);
          p.writeUInt16LE(len, 0);
          p.writeUInt16LE(type, 2);
          Buffer.from(body).copy(p, 4);
          return p;
        });
        const b = nlmsg(Buffer.concat([head(), ...parts]));
        checkConfined(decodeNetlinkMessage, b);
      }),
      { numRuns: 1000 },
    );
  });
});
