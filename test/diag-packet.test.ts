import fc from 'fast-check';
import { existsSync, readFileSync } from 'node:fs';
import {
  decodePacketMessage,
  encodePacketMessage,
  encodePacketRequest,
  packetAttributes,
  packetDiagInfo,
  packetDiagMclist,
  packetDiagMsg,
  packetDiagReq,
  packetDiagRing,
  sockFilter,
  PacketMessageInput,
  PacketSocket,
  PACKET_SHOW,
  PACKET_SHOW_ALL,
  PDI,
} from '../lib/diag/packet';
import { skMeminfo } from '../lib/diag/common/skmeminfo';
import { DecodeError } from '../lib/errors';
import { encodeAttributes } from '../lib/netlink/attributes';
import { StructSpec, structToBuffer } from '../lib/netlink/struct';
import { FamilyDecoder, IDLE_MEMINFO, arbRawTlvs, arbStruct, arbUnknown, assertConfined, assertGarbage, attempt, checkDecodes, checkEveryCut, expectCLayout, headerDefines, headerEnum, nlmsg, skMeminfoBytes } from './helpers/decoder-harness';

// ---------------------------------------------------------------------------------------
// Golden fixtures: replies captured from a Linux 6.18 kernel (python sockets + a
// SOCK_DIAG_BY_FAMILY dump with pdiag_show = 0x3f, as root), annotated field by field.

/**
 * SOCK_RAW, ETH_P_ALL, bound to lo: promiscuous membership, fanout group 0x1234 (lb),
 * PACKET_AUXDATA on, and a 4-instruction classic BPF filter.
 */
const RAW_LO = Buffer.from([
  0xc8, 0x00, 0x00, 0x00, // nlmsg_len 200
  0x14, 0x00, // nlmsg_type SOCK_DIAG_BY_FAMILY
  0x02, 0x00, // nlmsg_flags NLM_F_MULTI
  0x01, 0x00, 0x00, 0x00, // nlmsg_seq 1
  0x5e, 0x32, 0x00, 0x00, // nlmsg_pid 12894
  0x11, // pdiag_family AF_PACKET
  0x03, // pdiag_type SOCK_RAW
  0x03, 0x00, // pdiag_num 3 (ETH_P_ALL, host order)
  0xf7, 0xf5, 0x03, 0x00, // pdiag_ino 259575
  0x45, 0x1c, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, // pdiag_cookie 0x21c45
  0x1c, 0x00, 0x00, 0x00, // nla_len 28, PACKET_DIAG_INFO
  0x01, 0x00, 0x00, 0x00, // pdi_index 1 (lo)
  0x00, 0x00, 0x00, 0x00, // pdi_version 0 (TPACKET_V1)
  0x00, 0x00, 0x00, 0x00, // pdi_reserve
  0x00, 0x00, 0x00, 0x00, // pdi_copy_thresh
  0x00, 0x00, 0x00, 0x00, // pdi_tstamp
  0x03, 0x00, 0x00, 0x00, // pdi_flags PDI_RUNNING | PDI_AUXDATA
  0x08, 0x00, 0x05, 0x00, // nla_len 8, PACKET_DIAG_UID
  0x00, 0x00, 0x00, 0x00, // uid 0
  0x30, 0x00, 0x01, 0x00, // nla_len 48, PACKET_DIAG_MCLIST: one packet_diag_mclist
  0x01, 0x00, 0x00, 0x00, // pdmc_index 1
  0x01, 0x00, 0x00, 0x00, // pdmc_count 1
  0x01, 0x00, // pdmc_type PACKET_MR_PROMISC
  0x06, 0x00, // pdmc_alen 6
  0x01, 0x00, 0x5e, 0x00, 0x00, 0x01, 0x00, 0x00, // pdmc_addr[0..7]: 01:00:5e:00:00:01
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // pdmc_addr[8..15]
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // pdmc_addr[16..23]
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // pdmc_addr[24..31]
  0x08, 0x00, 0x04, 0x00, // nla_len 8, PACKET_DIAG_FANOUT
  0x34, 0x12, 0x01, 0x00, // id 0x1234 | type PACKET_FANOUT_LB << 16
  0x28, 0x00, 0x06, 0x00, // nla_len 40, PACKET_DIAG_MEMINFO
  ...skMeminfoBytes({ ...IDLE_MEMINFO, optmem: 304 }), // SK_MEMINFO_OPTMEM: the filter
  0x24, 0x00, 0x07, 0x00, // nla_len 36, PACKET_DIAG_FILTER: four sock_filter
  0x28, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, // ldh [12]         code 0x28 jt 0 jf 0 k 12
  0x15, 0x00, 0x00, 0x01, 0x00, 0x08, 0x00, 0x00, // jeq #0x800 jf 1  code 0x15 jt 0 jf 1 k 2048
  0x06, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, // ret #65535       code 0x06 k 65535
  0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // ret #0           code 0x06 k 0
]);

/** SOCK_DGRAM, ethertype 0x88cc, unbound, TPACKET_V3 with an RX ring; no memberships. */
const DGRAM_RING = Buffer.from([
  0x90, 0x00, 0x00, 0x00, // nlmsg_len 144
  0x14, 0x00, // nlmsg_type SOCK_DIAG_BY_FAMILY
  0x02, 0x00, // nlmsg_flags NLM_F_MULTI
  0x01, 0x00, 0x00, 0x00, // nlmsg_seq 1
  0x5e, 0x32, 0x00, 0x00, // nlmsg_pid 12894
  0x11, // pdiag_family AF_PACKET
  0x02, // pdiag_type SOCK_DGRAM
  0xcc, 0x88, // pdiag_num 0x88cc (ETH_P_LLDP)
  0xf9, 0xf5, 0x03, 0x00, // pdiag_ino 259577
  0x46, 0x1c, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, // pdiag_cookie 0x21c46
  0x1c, 0x00, 0x00, 0x00, // nla_len 28, PACKET_DIAG_INFO
  0x00, 0x00, 0x00, 0x00, // pdi_index 0 (any interface)
  0x02, 0x00, 0x00, 0x00, // pdi_version 2 (TPACKET_V3)
  0x00, 0x00, 0x00, 0x00, // pdi_reserve
  0x00, 0x00, 0x00, 0x00, // pdi_copy_thresh
  0x00, 0x00, 0x00, 0x00, // pdi_tstamp
  0x01, 0x00, 0x00, 0x00, // pdi_flags PDI_RUNNING
  0x08, 0x00, 0x05, 0x00, // nla_len 8, PACKET_DIAG_UID
  0x00, 0x00, 0x00, 0x00, // uid 0
  0x04, 0x00, 0x01, 0x00, // nla_len 4, PACKET_DIAG_MCLIST: empty
  0x20, 0x00, 0x02, 0x00, // nla_len 32, PACKET_DIAG_RX_RING
  0x00, 0x10, 0x00, 0x00, // pdr_block_size 4096
  0x02, 0x00, 0x00, 0x00, // pdr_block_nr 2
  0x00, 0x08, 0x00, 0x00, // pdr_frame_size 2048
  0x04, 0x00, 0x00, 0x00, // pdr_frame_nr 4
  0x3c, 0x00, 0x00, 0x00, // pdr_retire_tmo 60 ms
  0x00, 0x00, 0x00, 0x00, // pdr_sizeof_priv
  0x00, 0x00, 0x00, 0x00, // pdr_features
  0x28, 0x00, 0x06, 0x00, // nla_len 40, PACKET_DIAG_MEMINFO
  ...skMeminfoBytes(IDLE_MEMINFO), // rcvbuf and sndbuf 212992, the rest 0
]);

const PACKET: FamilyDecoder = { decode: decodePacketMessage, protocol: 'packet', af: 17 };
const ATTRS = 32; // nlmsghdr + packet_diag_msg
const FIXTURES: Array<[string, Buffer]> = [['raw on lo', RAW_LO], ['dgram with ring', DGRAM_RING]];
const head = (v: Record<string, unknown> = {}): Buffer => structToBuffer(packetDiagMsg, { family: 17, type: 3, ...v });

describe('packet_diag tables', () => {
  test('struct layouts match the C headers (gcc offsetof/sizeof)', () => {
    const specs: Array<[StructSpec, string]> = [
      [packetDiagReq, 'packet_diag_req'],
      [packetDiagMsg, 'packet_diag_msg'],
      [packetDiagInfo, 'packet_diag_info'],
      [packetDiagMclist, 'packet_diag_mclist'],
      [packetDiagRing, 'packet_diag_ring'],
      [sockFilter, 'sock_filter'],
    ];
    const expected = expectCLayout(['linux/packet_diag.h', 'linux/filter.h'], specs);
    expect(expected).toContain('packet_diag_req 20\n');
    expect(expected).toContain('packet_diag_req.pdiag_cookie 12 8');
    expect(expected).toContain('packet_diag_mclist 44\n');
  });

  const header = '/usr/include/linux/packet_diag.h';
  (existsSync(header) ? test : test.skip)('one attribute row per PACKET_DIAG_* constant, the PACKET_SHOW_* and PDI_* bits', () => {
    const text = readFileSync(header, 'utf8');
    const rows = [...packetAttributes.rows].sort((a, b) => a.type - b.type);
    expect(rows.map((r) => [r.orig, r.type])).toEqual(headerEnum(text, 'PACKET_DIAG_'));
    const show = headerDefines(text, 'PACKET_SHOW_');
    expect(PACKET_SHOW).toEqual(show);
    expect(PACKET_SHOW_ALL).toBe(Object.values(show).reduce((a, b) => a | b, 0));
    expect(PDI).toEqual(headerDefines(text, 'PDI_'));
  });

  test('the attribute rows, transcribed (in the order the kernel emits them)', () => {
    expect(packetAttributes.rows.map((r) => `${r.type} ${r.orig} ${r.name}`)).toEqual([
      '0 PACKET_DIAG_INFO info',
      '5 PACKET_DIAG_UID uid',
      '1 PACKET_DIAG_MCLIST mclist',
      '2 PACKET_DIAG_RX_RING rxRing',
      '3 PACKET_DIAG_TX_RING txRing',
      '4 PACKET_DIAG_FANOUT fanout',
      '6 PACKET_DIAG_MEMINFO meminfo',
      '7 PACKET_DIAG_FILTER filter',
    ]);
  });
});

describe('packet_diag requests', () => {
  test('the default dump request asks for every PACKET_SHOW_* bit', () => {
    expect(encodePacketRequest()).toEqual(Buffer.from([
      0x24, 0x00, 0x00, 0x00, // nlmsg_len 36
      0x14, 0x00, // nlmsg_type SOCK_DIAG_BY_FAMILY
      0x01, 0x03, // nlmsg_flags NLM_F_REQUEST | NLM_F_DUMP
      0x00, 0x00, 0x00, 0x00, // nlmsg_seq 0
      0x00, 0x00, 0x00, 0x00, // nlmsg_pid 0
      0x11, // sdiag_family AF_PACKET
      0x00, // sdiag_protocol 0 (the kernel rejects anything else with EINVAL)
      0x00, 0x00, // pad
      0x00, 0x00, 0x00, 0x00, // pdiag_ino
      0x3f, 0x00, 0x00, 0x00, // pdiag_show INFO|MCLIST|RING_CFG|FANOUT|MEMINFO|FILTER
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // pdiag_cookie
    ]));
  });

  test('what `ss -0a` sends (strace), apart from its seq 123456', () => {
    const show = PACKET_SHOW.INFO | PACKET_SHOW.RING_CFG | PACKET_SHOW.FANOUT | PACKET_SHOW.MEMINFO | PACKET_SHOW.FILTER;
    expect(encodePacketRequest({ show }).toString('hex')).toBe(
      '24000000' + '1400' + '0103' + '00000000' + '00000000' + // header
      '11' + '00' + '0000' + '00000000' + // AF_PACKET, protocol 0, pad, pdiag_ino 0
      '3d000000' + // pdiag_show INFO|RING_CFG|FANOUT|MEMINFO|FILTER
      '0000000000000000', // pdiag_cookie [0, 0]
    );
  });

  test('protocol goes to sdiag_protocol; bad options are rejected', () => {
    expect(encodePacketRequest({ protocol: 3 })[17]).toBe(3);
    expect(() => encodePacketRequest({ protocol: 256 })).toThrow(RangeError);
    expect(() => encodePacketRequest({ show: -1 })).toThrow(RangeError);
  });
});

describe('packet_diag replies: golden fixtures from the kernel', () => {
  test('a raw socket with membership, fanout and filter', () => {
    const s = decodePacketMessage(RAW_LO, 0, RAW_LO.length);
    const addr = Buffer.alloc(32);
    Buffer.from([0x01, 0x00, 0x5e, 0x00, 0x00, 0x01]).copy(addr);
    expect(s).toStrictEqual<PacketSocket>({
      protocol: 'packet',
      family: 'packet',
      state: 'closed',
      inode: 259575,
      uid: 0,
      cookie: 0x21c45n,
      recvQ: 0,
      sendQ: 0,
      unknown: undefined,
      processes: undefined,
      type: 'raw',
      packetProtocol: 3,
      ifindex: 1,
      info: { ifindex: 1, version: 0, reserveBytes: 0, copyThreshBytes: 0, tstamp: 0, flags: PDI.RUNNING | PDI.AUXDATA },
      mclist: [{ ifindex: 1, count: 1, type: 1, addrLen: 6, addr }],
      rxRing: undefined,
      txRing: undefined,
      fanout: { id: 0x1234, type: 1, typeName: 'lb' },
      meminfo: { ...IDLE_MEMINFO, optmem: 304 },
      filter: [
        { code: 0x28, jt: 0, jf: 0, k: 12 },
        { code: 0x15, jt: 0, jf: 1, k: 0x800 },
        { code: 0x06, jt: 0, jf: 0, k: 0xffff },
        { code: 0x06, jt: 0, jf: 0, k: 0 },
      ],
    });
  });

  test('a TPACKET_V3 datagram socket with an RX ring', () => {
    const s = decodePacketMessage(DGRAM_RING, 0, DGRAM_RING.length);
    expect(s).toMatchObject({ type: 'dgram', packetProtocol: 0x88cc, inode: 259577, cookie: 0x21c46n, ifindex: 0, mclist: [], txRing: undefined, fanout: undefined, filter: undefined });
    expect(s.info).toEqual({ ifindex: 0, version: 2, reserveBytes: 0, copyThreshBytes: 0, tstamp: 0, flags: PDI.RUNNING });
    // ss -0ae printed: ring_rx(blk_size:4096,blk_nr:2,frm_size:2048,frm_nr:4,tmo:60,features:0x0)
    expect(s.rxRing).toEqual({ blockSizeBytes: 4096, blockCount: 2, frameSizeBytes: 2048, frameCount: 4, retireTmoMs: 60, sizeofPrivBytes: 0, features: 0 });
    expect(s.meminfo).toEqual(IDLE_MEMINFO);
  });

  test('Recv-Q is SK_MEMINFO_RMEM_ALLOC and Send-Q is always 0, as ss shows them', () => {
    const b = encodePacketMessage({ type: 'raw', meminfo: { ...IDLE_MEMINFO, rmemAlloc: 4352, wmemAlloc: 768 } });
    const s = decodePacketMessage(b, 0, b.length);
    expect([s.recvQ, s.sendQ]).toEqual([4352, 0]);
    const none = encodePacketMessage({ type: 'raw' });
    expect(decodePacketMessage(none, 0, none.length)).toMatchObject({ recvQ: 0, sendQ: 0, ifindex: undefined, meminfo: undefined });
  });

  test('every socket object has the same keys in the same order (one hidden class)', () => {
    const keys = FIXTURES.map(([, b]) => Object.keys(decodePacketMessage(b, 0, b.length)));
    const bare = encodePacketMessage({});
    expect(keys[1]).toEqual(keys[0]);
    expect(Object.keys(decodePacketMessage(bare, 0, bare.length))).toEqual(keys[0]);
    expect(keys[0]).toEqual(['protocol', 'family', 'state', 'inode', 'uid', 'cookie', 'recvQ', 'sendQ', 'unknown', 'processes', 'type', 'packetProtocol', 'ifindex', 'info', 'mclist', 'rxRing', 'txRing', 'fanout', 'meminfo', 'filter']);
  });

  test('re-encoding a decoded fixture gives the kernel bytes back', () => {
    for (const [, b] of FIXTURES) {
      const s = decodePacketMessage(b, 0, b.length);
      expect(encodePacketMessage(s, { seq: 1, pid: 12894 })).toEqual(b);
    }
  });
});

describe('packet_diag replies built from the tables', () => {
  test('encodeStruct + encodeAttributes + nlmsghdr decode to the values put in', () => {
    const ring = { blockSizeBytes: 1, blockCount: 2, frameSizeBytes: 3, frameCount: 4, retireTmoMs: 5, sizeofPrivBytes: 6, features: 7 };
    const mc = { ifindex: 2, count: 3, type: 0, addrLen: 2, addr: Buffer.alloc(32, 7) };
    const b = nlmsg(Buffer.concat([
      head({ type: 2, packetProtocol: 0x0800, inode: 99, cookie: 2n ** 64n - 1n }),
      encodeAttributes(packetAttributes, {
        info: { ifindex: 4, version: 1, reserveBytes: 64, copyThreshBytes: 128, tstamp: 0x10, flags: 0x1f },
        mclist: [mc, { ...mc, ifindex: 3 }],
        rxRing: ring,
        txRing: { ...ring, features: 0 },
        fanout: { id: 0xffff, type: 7, typeName: 'ebpf' },
        uid: 65534,
        meminfo: { rmemAlloc: 11, rcvbuf: 2, wmemAlloc: 3, sndbuf: 4, fwdAlloc: 5, wmemQueued: 6, optmem: 7, backlog: 8, drops: 9 },
        filter: [{ code: 6, jt: 1, jf: 2, k: 0xffffffff }],
      }),
    ]));
    const s = decodePacketMessage(b, 0, b.length);
    expect(s).toMatchObject({ type: 'dgram', packetProtocol: 0x0800, inode: 99, cookie: 2n ** 64n - 1n, ifindex: 4, uid: 65534, recvQ: 11, sendQ: 0 });
    expect(s.info).toEqual({ ifindex: 4, version: 1, reserveBytes: 64, copyThreshBytes: 128, tstamp: 0x10, flags: 0x1f });
    expect(s.mclist).toEqual([mc, { ...mc, ifindex: 3 }]);
    expect([s.rxRing, s.txRing]).toEqual([ring, { ...ring, features: 0 }]);
    expect(s.fanout).toEqual({ id: 0xffff, type: 7, typeName: 'ebpf' });
    expect(s.filter).toEqual([{ code: 6, jt: 1, jf: 2, k: 0xffffffff }]);
  });

  test('fanout: id in the low 16 bits, mode in the high 16, unknown modes unnamed', () => {
    const fanout = (v: number): unknown => {
      const b = nlmsg(Buffer.concat([head(), Buffer.from([8, 0, 4, 0, v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24])]));
      return decodePacketMessage(b, 0, b.length).fanout;
    };
    expect(fanout(0x00050007)).toEqual({ id: 7, type: 5, typeName: 'qm' });
    expect(fanout(0x8000ffff)).toEqual({ id: 0xffff, type: 0x8000, typeName: undefined });
  });

  test('unknown attribute types (flags masked) survive raw in .unknown, in order', () => {
    const b = nlmsg(Buffer.concat([
      head(),
      Buffer.from([
        0x07, 0x00, 0xf0, 0x7f, // nla_len 7, type 0x7ff0 (NLA_F_NET_BYTEORDER | 0x3ff0)
        0x01, 0x02, 0x03, 0x00, // payload 01 02 03, padding
        0x08, 0x00, 0x05, 0x00, // nla_len 8, PACKET_DIAG_UID
        0xe8, 0x03, 0x00, 0x00, // 1000
        0x0c, 0x00, 0x17, 0x80, // nla_len 12, type 23 | NLA_F_NESTED
        0x08, 0x00, 0x01, 0x00, 0x05, 0x00, 0x00, 0x00, // a nested attribute, kept as bytes
        0x04, 0x00, 0x08, 0x00, // nla_len 4, type 8 (one past PACKET_DIAG_FILTER), empty
      ]),
    ]));
    const s = decodePacketMessage(b, 0, b.length);
    expect(s.uid).toBe(1000);
    expect(s.unknown).toEqual([
      { type: 0x3ff0, flags: 0x4000, bytes: Buffer.from([1, 2, 3]) },
      { type: 23, flags: 0x8000, bytes: Buffer.from([8, 0, 1, 0, 5, 0, 0, 0]) },
      { type: 8, bytes: Buffer.alloc(0) },
    ]);
  });

  test('a duplicated attribute: the first one wins', () => {
    const b = nlmsg(Buffer.concat([
      head(),
      encodeAttributes(packetAttributes, { uid: 1, filter: [{ code: 1, jt: 0, jf: 0, k: 0 }], meminfo: { ...IDLE_MEMINFO, rmemAlloc: 5 } }),
      encodeAttributes(packetAttributes, { uid: 2, filter: [], meminfo: { ...IDLE_MEMINFO, rmemAlloc: 6 } }),
    ]));
    const s = decodePacketMessage(b, 0, b.length);
    expect([s.uid, s.filter?.length, s.recvQ]).toEqual([1, 1, 5]);
  });

  test('short or ragged attribute payloads and bad lengths are DecodeErrors', () => {
    const bad = [
      [0x08, 0x00, 0x00, 0x00, 0, 0, 0, 0], // PACKET_DIAG_INFO with 4 bytes
      [0x0c, 0x00, 0x07, 0x00, 0, 0, 0, 0, 0, 0, 0, 0], // PACKET_DIAG_FILTER with 8 bytes: fine…
      [0x0d, 0x00, 0x07, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], // …with 9: not whole instructions
      [0x08, 0x00, 0x01, 0x00, 0, 0, 0, 0], // PACKET_DIAG_MCLIST with 4 bytes
      [0x1c, 0x00, 0x02, 0x00, ...new Array(24).fill(0)], // PACKET_DIAG_RX_RING with 24 bytes
      [0x06, 0x00, 0x04, 0x00, 0, 0, 0, 0], // PACKET_DIAG_FANOUT with 2 bytes
      [0x03, 0x00, 0x00, 0x00], // nla_len below the header
      [0x10, 0x00, 0x05, 0x00, 0, 0, 0, 0], // nla_len past the end
    ];
    const results = bad.map((a) => {
      const b = nlmsg(Buffer.concat([head(), Buffer.from(a)]));
      return 'err' in attempt(decodePacketMessage, b, 0, b.length);
    });
    expect(results).toEqual([true, false, true, true, true, true, true, true]);
  });

  test('a message that is not AF_PACKET, or too short, or outside the buffer, is a DecodeError', () => {
    const other = Buffer.from(RAW_LO);
    other[16] = 1;
    expect(() => decodePacketMessage(other, 0, other.length)).toThrow(/not AF_PACKET/);
    expect(() => decodePacketMessage(RAW_LO, 0, 31)).toThrow(DecodeError);
    expect(() => decodePacketMessage(RAW_LO, 4, RAW_LO.length)).toThrow(DecodeError);
    expect(() => decodePacketMessage(RAW_LO, 0, -5)).toThrow(DecodeError);
  });
});

describe('packet_diag robustness', () => {
  test.each(FIXTURES)('%s: truncated at every offset, it decodes exactly when the cut is at an attribute boundary', (_, full) => {
    checkEveryCut(PACKET, full, ATTRS);
  });

  const ring = fc.option(arbStruct(packetDiagRing), { nil: undefined });
  const arbInput: fc.Arbitrary<PacketMessageInput> = fc.record({
    type: fc.constantFrom('raw', 'dgram', 'packet', 'unknown'),
    packetProtocol: fc.integer({ min: 0, max: 0xffff }),
    inode: fc.integer({ min: 0, max: 0xffffffff }),
    cookie: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    info: fc.option(arbStruct(packetDiagInfo), { nil: undefined }),
    uid: fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }),
    mclist: fc.option(fc.array(arbStruct(packetDiagMclist), { maxLength: 5 }), { nil: undefined }),
    rxRing: ring,
    txRing: ring,
    fanout: fc.option(fc.record({ id: fc.integer({ min: 0, max: 0xffff }), type: fc.integer({ min: 0, max: 0xffff }) }).map((f) => ({ ...f, typeName: ['hash', 'lb', 'cpu', 'roll', 'random', 'qm', 'cbpf', 'ebpf'][f.type] })), { nil: undefined }),
    meminfo: fc.option(arbStruct(skMeminfo), { nil: undefined }),
    filter: fc.option(fc.array(arbStruct(sockFilter), { maxLength: 64 }), { nil: undefined }),
    unknown: arbUnknown,
  }) as fc.Arbitrary<PacketMessageInput>;

  test('the generator covers every attribute row', () => {
    const sample = fc.sample(arbInput, 1)[0];
    for (const r of packetAttributes.rows) expect(Object.keys(sample)).toContain(r.name);
  });

  test('decode → encode → decode is stable, and values come back as they were put in', () => {
    fc.assert(
      fc.property(arbInput, (input) => {
        const b1 = encodePacketMessage(input);
        const s1 = decodePacketMessage(b1, 0, b1.length);
        const b2 = encodePacketMessage(s1);
        expect(b2).toEqual(b1);
        const s2 = decodePacketMessage(b2, 0, b2.length);
        expect(s2).toStrictEqual(s1);
        for (const k of ['type', 'packetProtocol', 'inode', 'cookie', 'info', 'uid', 'mclist', 'rxRing', 'txRing', 'fanout', 'meminfo', 'filter', 'unknown'] as const) {
          if (input[k] !== undefined) expect(s1[k]).toEqual(input[k]);
        }
        expect(s1.ifindex).toBe(input.info?.ifindex);
        expect(s1.recvQ).toBe(input.meminfo?.rmemAlloc ?? 0);
        expect(s1.sendQ).toBe(0);
      }),
      { numRuns: 500 },
    );
  });

  test('generated messages, truncated and mutated, decode or throw DecodeError, reading only their own bytes', () => {
    assertConfined(PACKET, arbInput.map((input) => encodePacketMessage(input)));
  });

  test('random garbage decodes or throws DecodeError, whatever the offset and length', () => {
    assertGarbage(PACKET);
  });

  test('an attribute stream of random TLVs decodes or throws DecodeError', () => {
    fc.assert(fc.property(arbRawTlvs, (tlvs) => checkDecodes(PACKET, nlmsg(Buffer.concat([head(), tlvs])))), { numRuns: 1000 });
  });
});
