/**
 * The row formatter of the `sockdiag` command on crafted values: C printf conversions,
 * ss's timer and rate units, and each family's cells and details as iproute2 6.1's ss.c
 * prints them (expected texts are ss's own output for the same values where a live
 * socket can show them; see test/cli-details.test.ts for the live comparison).
 */
import { formatBitRate, formatFixed, formatG, formatMicrosAsMs, formatTimer, hexAlt } from '../lib/cli/units';
import { formatRow, netid, FormatOptions } from '../lib/cli/format';
import { usersText, skmemText } from '../lib/cli/details';
import { cgroupPathResolver } from '../lib/system/cgroups';
import { linkProtocolName, netlinkProtocolName, serviceByPort } from '../lib/cli/names';
import { decodeInetMessage, encodeInetMessage, InetMessageInput, InetSocket, TcpInfo, MptcpInfo } from '../lib/diag/inet';
import type { Socket } from '../lib/diag/socket';
import type { UnixSocket } from '../lib/diag/unix';
import type { PacketSocket } from '../lib/diag/packet';
import type { NetlinkSocket } from '../lib/diag/netlink';
import type { VsockSocket } from '../lib/diag/vsock';
import type { TipcSocket } from '../lib/diag/tipc';
import type { XdpSocket } from '../lib/diag/xdp';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BASE: FormatOptions = { numeric: true, processes: false, extended: false, cgroupPath: (id) => `cg${id}` };
const opts = (o: Partial<FormatOptions> = {}): FormatOptions => ({ ...BASE, ...o });
/** Partial structures as the decoder gives them for shorter kernels (absent fields undefined). */
const tcpInfo = (fields: object): TcpInfo => fields as TcpInfo;

function inet(input: InetMessageInput, protocol = 6): InetSocket {
  const b = encodeInetMessage(input);
  return decodeInetMessage(b, 0, b.length, protocol);
}
const v4 = (a: string): Buffer => Buffer.from([...a.split('.').map(Number), ...new Array(12).fill(0)]);
const v6 = (words: number[]): Buffer => {
  const b = Buffer.alloc(16);
  words.forEach((w, i) => b.writeUInt16BE(w, i * 2));
  return b;
};

describe('C printf conversions', () => {
  // Expected values are glibc's printf output for the same doubles.
  test.each([
    [0, '0'], [0.026, '0.026'], [0.01, '0.01'], [32766.5, '32766.5'], [65533, '65533'], [2.88671875, '2.88672'],
    [1234567, '1.23457e+06'], [0.0001, '0.0001'], [0.00001, '1e-05'], [100000, '100000'], [999999.5, '1e+06'],
    [123456.5, '123456'], [123457.5, '123458'], [1e21, '1e+21'], [-2.5, '-2.5'],
  ])('%%g of %p is %p', (x, want) => expect(formatG(x)).toBe(want));

  test.each([
    [1.125, '1.12'], [1.135, '1.14'], [2.5, '2.5'], [0.125, '0.125'], [100.5, '100'], [999.5, '1e+03'], [40.374854736, '40.4'],
  ])('%%.3g of %p is %p (ties to even on the exact binary value)', (x, want) => expect(formatG(x, 3)).toBe(want));

  test.each([
    [0.5, 0, '0'], [1.5, 0, '2'], [2.5, 0, '2'], [100824615384.61539, 0, '100824615385'], [2 ** 64, 0, '18446744073709551616'],
    [99.95, 1, '100.0'], [100, 1, '100.0'], [33.333333, 1, '33.3'], [0.05, 1, '0.1'], [0.25, 1, '0.2'],
  ])('%%.{d}f of %p with %p decimals is %p', (x, d, want) => expect(formatFixed(x, d)).toBe(want));

  test.each([[26, '0.026'], [13, '0.013'], [40000, '40'], [204000, '204'], [1500, '1.5'], [999999, '999.999'], [32766500, '32766.5'], [1234567891, '1.23457e+06']])(
    '%%g of %p us in ms is %p',
    (us, want) => {
      expect(formatMicrosAsMs(us)).toBe(want);
      expect(formatG(us / 1000)).toBe(want);
    },
  );

  test('%#x prints 0 for zero', () => {
    expect(hexAlt(0)).toBe('0');
    expect(hexAlt(0x10)).toBe('0x10');
  });
});

describe('ss units', () => {
  test.each([
    [0, ''], [5, '005ms'], [200, '200ms'], [1208, '1.208ms'], [3820, '3.820ms'], [9000, '9sec'], [10500, '10sec'],
    [59999, '59sec'], [60000, '1min'], [61500, '1min1sec'], [599999, '9min59sec'], [600000, '10min'], [3599000, '59min'],
    [7200000, '120min'],
  ])('timer %p ms prints %p', (ms, want) => expect(formatTimer(ms)).toBe(want));

  test.each([
    [0, false, '0'], [999, false, '999'], [1000, false, '1k'], [1125000, false, '1.12M'], [40374854736, false, '40.4G'],
    [2495171132000, false, '2.5T'], [100824615384.6, true, '100824615385'], [12345, true, '12345'],
  ])('rate %p bps (numeric %p) prints %p', (bps, numeric, want) => expect(formatBitRate(bps, numeric)).toBe(want));
});

describe('names', () => {
  test('ethertypes as ss names them, [N] when unknown or numeric', () => {
    expect(linkProtocolName(0x0800, false)).toBe('ip');
    expect(linkProtocolName(0x8100, false)).toBe('802.1Q');
    expect(linkProtocolName(0x88cc, false)).toBe('LLDP');
    expect(linkProtocolName(0x0800, true)).toBe('[2048]');
    expect(linkProtocolName(0, false)).toBe('[0]');
  });
  test('netlink protocols', () => {
    expect(netlinkProtocolName(0, false)).toBe('rtnl');
    expect(netlinkProtocolName(4, false)).toBe('tcpdiag');
    expect(netlinkProtocolName(4, true)).toBe('4');
    expect(netlinkProtocolName(200, false)).toBe('200');
  });
  test('services per protocol, and for any protocol', () => {
    expect(serviceByPort(22, 'tcp')).toBe('ssh');
    expect(serviceByPort(514, 'tcp')).toBe('shell');
    expect(serviceByPort(514, 'udp')).toBe('syslog');
    expect(serviceByPort(514, undefined)).toBe('shell');
    expect(serviceByPort(1, 'udp')).toBeUndefined();
  });
});

describe('inet rows', () => {
  const tcp = (extra: Partial<InetMessageInput['msg']> = {}, attrs: InetMessageInput['attrs'] = {}, protocol = 6): InetSocket =>
    inet({ msg: { family: 2, state: 1, sport: 22, dport: 40000, src: v4('127.0.0.1'), dst: v4('10.0.0.2'), inode: 77, cookie: 0x1edad4n, ...extra }, attrs }, protocol);

  test('addresses, ports, service names outside the ephemeral range, %dev', () => {
    const s = tcp({ ifindex: 1 });
    const o = opts({ numeric: false, ifnames: new Map([[1, 'lo']]), ephemeralPorts: [32768, 60999] });
    const r = formatRow(s, o);
    expect([r.netid, r.state, r.localAddr, r.localPort, r.peerAddr, r.peerPort]).toEqual(['tcp', 'ESTAB', '127.0.0.1%lo:', 'ssh', '10.0.0.2:', '40000']);
    expect(formatRow(tcp({ ifindex: 9 }), o).localAddr).toBe('127.0.0.1%if9:');
    // 57000 is dircproxy in /etc/services, but inside the ephemeral range ss never names it.
    expect(formatRow(tcp({ sport: 57000 }), o).localPort).toBe('57000');
    expect(formatRow(tcp({ sport: 57000 }), { ...o, ephemeralPorts: [1024, 4999] }).localPort).toBe(serviceByPort(57000, 'tcp') ?? '57000');
  });

  test('udp names ports with udp services; mptcp with the last of raw/udp/tcp listed, any protocol when none', () => {
    const o = opts({ numeric: false, ephemeralPorts: [32768, 60999] });
    expect(formatRow(tcp({ state: 7, sport: 514 }, {}, 17), o).localPort).toBe('syslog');
    const m = tcp({ sport: 514 }, {}, 262);
    expect(formatRow(m, o).localPort).toBe('shell');
    expect(formatRow(m, { ...o, tables: new Set(['udp', 'mptcp'] as const) }).localPort).toBe('syslog');
    expect(formatRow(m, { ...o, tables: new Set(['mptcp'] as const) }).localPort).toBe('shell');
  });

  test('IPv6: brackets, * for a dual-stack ::, [::] when v6only, v4-mapped, host names', () => {
    const any6 = Buffer.alloc(16);
    const base = { family: 10, state: 10, sport: 80, src: any6, dst: any6 };
    expect(formatRow(inet({ msg: base, attrs: { v6only: false } }), opts()).localAddr).toBe('*:');
    const only = formatRow(inet({ msg: base, attrs: { v6only: true } }), opts());
    expect([only.localAddr, only.peerAddr, only.peerPort]).toEqual(['[::]:', '[::]:', '*']);
    const mapped = inet({ msg: { family: 10, state: 1, sport: 1, dport: 2, src: v6([0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]), dst: v6([0, 0, 0, 0, 0, 0, 0, 1]) } });
    const r = formatRow(mapped, opts({ hostNames: new Map([['::ffff:127.0.0.1', 'localhost']]) }));
    expect([r.localAddr, r.peerAddr]).toEqual(['localhost:', '[::1]:']);
  });

  test('queues print as signed ints, as %-6d does', () => {
    expect(formatRow(tcp({ rqueue: 0xffffffff }), opts()).recvQ).toBe('-1');
  });

  test('-o timers, -e details, shutdown, v6only, fwmark, cgroup', () => {
    const s = tcp({ timer: 2, expires: 3599000, retrans: 0, uid: 65534 }, { mark: 0x42, cgroupId: 5n, shutdown: 1 });
    expect(formatRow(s, opts({ options: true })).process).toBe(' timer:(keepalive,59min,0)');
    expect(formatRow(s, opts({ extended: true })).process).toBe(' timer:(keepalive,59min,0) uid:65534 ino:77 sk:1edad4 fwmark:0x42 cgroup:cg5 -->');
    expect(formatRow(tcp({ timer: 1, expires: 0, retrans: 4 }), opts({ options: true })).process).toBe(' timer:(on,,4)');
    expect(formatRow(tcp({ timer: 9, expires: 1208 }), opts({ bpf: true })).process).toBe(' timer:(unknown,1.208ms,0)');
    const six = inet({ msg: { family: 10, state: 1, inode: 5, cookie: 0xabn }, attrs: { v6only: false, shutdown: 3, cgroupId: 0n } });
    expect(formatRow(six, opts({ extended: true })).process).toBe(' ino:5 sk:ab v6only:0 ---');
  });

  test('--tos, --cgroup, --inet-sockopt (on its own line unless -O)', () => {
    const s = tcp({}, { tos: 0x10, tclass: 0, classId: 6, cgroupId: 0n, sockopt: { recverr: 1, isIcsk: 1, freebind: 1, hdrincl: 0, mcLoop: 1, transparent: 1, mcAll: 1, nodefrag: 0, bindAddressNoPort: 1, recverrRfc4884: 0, deferConnect: 0, unused: 0 } });
    expect(formatRow(s, opts({ tos: true })).process).toBe(' tos:0x10 tclass:0 class_id:0x6');
    expect(formatRow(s, opts({ cgroup: true })).process).toBe(' cgroup:cg0');
    expect(formatRow(s, opts({ inetSockopt: true })).process).toBe('\n\tinet-sockopt: ( recverr is_icsk freebind mc_loop transparent mc_all bind_addr_no_port)');
    expect(formatRow(s, opts({ inetSockopt: true, oneline: true })).process).toBe(' inet-sockopt: ( recverr is_icsk freebind mc_loop transparent mc_all bind_addr_no_port)');
  });

  const info = {
    state: 1, options: 7, sndWscale: 10, rcvWscale: 10, rtoUs: 200000, atoUs: 40000, sndMss: 32768, rcvMss: 536, rttUs: 26, rttvarUs: 13,
    pmtu: 65535, rcvSsthresh: 65483, sndSsthresh: 0x7fffffff, sndCwnd: 10, advmss: 65483, reordering: 3, rcvSpace: 65483,
    pacingRateBytesPerSec: 36017720930n, maxPacingRateBytesPerSec: 0xffffffffffffffffn, bytesReceived: 200n, segsOut: 1, segsIn: 3,
    minRttUs: 26, dataSegsIn: 1, deliveryRateAppLimited: 1, delivered: 1, lastDataSentMs: 3172, lastDataRecvMs: 3172, lastAckRecvMs: 3172, sndWnd: 65536,
  };

  test('-i: the tcp_info line as ss 6.1 prints it', () => {
    const s = tcp({}, { info: tcpInfo(info), cong: 'bbr', bbr: { bwBytesPerSec: 0n, minRttUs: 26, pacingGain: 0, cwndGain: 0 } });
    const want =
      ' bbr wscale:10,10 rto:200 rtt:0.026/0.013 ato:40 mss:32768 pmtu:65535 rcvmss:536 advmss:65483 cwnd:10 bytes_received:200 segs_out:1 segs_in:3 data_segs_in:1 bbr:(bw:0bps,mrtt:0.026) send 100824615385bps lastsnd:3172 lastrcv:3172 lastack:3172 pacing_rate 288141767440bps delivered:1 app_limited rcv_space:65483 rcv_ssthresh:65483 minrtt:0.026 snd_wnd:65536';
    expect(formatRow(s, opts({ info: true })).process).toBe(`\n\t${want}`);
    // -o (or -e) adds the option flags; -O keeps it on the row.
    expect(formatRow(s, opts({ info: true, options: true, oneline: true })).process).toBe(` ts sack${want}`);
    // Without -n the rates get units.
    expect(formatRow(s, opts({ info: true, numeric: false, oneline: true })).process).toContain(' send 101Gbps lastsnd:3172 lastrcv:3172 lastack:3172 pacing_rate 288Gbps ');
  });

  test('-i edge cases: rto 3 s hidden, ssthresh, busy and limited shares, retrans, reordering, sacked on listeners, vegas rtt for the send rate', () => {
    const t = { ...info, rtoUs: 3000000, sndSsthresh: 7, busyTimeUs: 3000000n, rwndLimitedUs: 1000000n, sndbufLimitedUs: 1500n, retrans: 0, totalRetrans: 2, reordering: 0, sacked: 2, unacked: 1, lost: 3 };
    const s = tcp({}, { info: tcpInfo(t), vegas: { enabled: 1, rttcnt: 1, rttUs: 52, minRttUs: 1 } });
    const text = formatRow(s, opts({ info: true, oneline: true })).process;
    expect(text).not.toContain('rto:');
    expect(text).toContain(' ssthresh:7 ');
    expect(text).toContain(' send 50412307692bps ');
    expect(text).toContain(' busy:3000ms rwnd_limited:1000ms(33.3%) sndbuf_limited:1ms(0.1%) unacked:1 retrans:0/2 lost:3 sacked:2 reordering:0 ');
    const listener = tcp({ state: 10 }, { info: tcpInfo(t) });
    expect(formatRow(listener, opts({ info: true, oneline: true })).process).not.toContain('sacked');
  });

  test('-i: dctcp, md5 keys, kTLS and MPTCP subflow ULP info', () => {
    const s = tcp({}, {
      info: tcpInfo({ reordering: 3 }),
      dctcp: { enabled: 1, ceState: 1, alpha: 2, abEcn: 3, abTot: 4 },
      md5sig: [{ family: 2, prefixlen: 32, keylen: 5, addr: Buffer.from([10, 0, 0, 2, ...new Array(12).fill(0)]), key: Buffer.concat([Buffer.from('a b,\\'), Buffer.alloc(75)]) }],
      ulp: { name: 'tls', tls: { version: 0x0304, cipher: 52, txConf: 2, rxConf: 3, zerocopyReadOnlyTx: Buffer.alloc(0) } },
    });
    expect(formatRow(s, opts({ info: true, oneline: true })).process).toBe(' dctcp:(ce_state:1,alpha:2,ab_ecn:3,ab_tot:4) md5keys:10.0.0.2/32=a\\040b\\054\\134 tcp-ulp-tls version: 1.3 cipher: aes-gcm-256 rxconf: hw txconf: sw zc_ro_tx');
    const sf = tcp({}, { ulp: { name: 'mptcp', mptcp: { flags: 0xc1, tokenRem: 0, tokenLoc: 0xc73193fd, idRem: 0, idLoc: 0, mapSeq: 0x243c4517068a6ab5n, mapSfseq: 1, ssnOffset: 0x9fb8b6d7, mapDatalen: 0xc8 } } });
    expect(formatRow(sf, opts({ info: true })).process).toBe('\n\t tcp-ulp-mptcp flags:Mec token:0000(id:0)/c73193fd(id:0) seq:243c4517068a6ab5 sfseq:1 ssnoff:9fb8b6d7 maplen:c8');
    // The kernel sends ULP state only to -i requests: -m alone does not show it.
    expect(formatRow(sf, opts({ memory: true })).process).toBe('\n\t');
  });

  test('-m: skmem (bl and d only when sent), mem:() fallback; udp gets the line for -m but not for -i', () => {
    const skmem = { rmemAlloc: 1, rcvbuf: 2, wmemAlloc: 3, sndbuf: 4, fwdAlloc: 5, wmemQueued: 6, optmem: 7, backlog: 8, drops: 9 };
    expect(formatRow(tcp({}, { skmem }), opts({ memory: true })).process).toBe('\n\t skmem:(r1,rb2,t3,tb4,f5,w6,o7,bl8,d9)');
    expect(skmemText({ ...skmem, backlog: undefined, drops: undefined })).toBe(' skmem:(r1,rb2,t3,tb4,f5,w6,o7)');
    expect(formatRow(tcp({}, { meminfo: { rmem: 1, wmem: 2, fmem: 3, tmem: 4 } }), opts({ memory: true, oneline: true })).process).toBe(' mem:(r1,w2,f3,t4)');
    const udp = tcp({ state: 7 }, { skmem }, 17);
    expect(formatRow(udp, opts({ info: true })).process).toBe('');
    expect(formatRow(udp, opts({ memory: true })).process).toBe('\n\t skmem:(r1,rb2,t3,tb4,f5,w6,o7,bl8,d9)');
    // TIME-WAIT has no attributes: -i leaves an empty second line.
    expect(formatRow(tcp({ state: 6 }), opts({ info: true })).process).toBe('\n\t');
  });

  test('mptcp -i prints the 6.1 mptcp_info fields', () => {
    const m = inet({ msg: { family: 2, state: 1 }, attrs: { info: ({ subflows: 1, addAddrSignal: 0, addAddrAccepted: 0, subflowsMax: 2, addAddrSignalMax: 0, addAddrAcceptedMax: 0, flags: 2, token: 0xc73193fd, writeSeq: 0x70b33b8312b5dcb0n, sndUna: 0x70b33b8312b5dcb0n, rcvNxt: 0x243c4517068a6b7dn, localAddrUsed: 0, localAddrMax: 0, csumEnabled: 0, retransmits: 5 } as object) as MptcpInfo } }, 262);
    expect(formatRow(m, opts({ info: true, oneline: true })).process).toBe(' subflows:1 subflows_max:2 remote_key token:c73193fd write_seq:70b33b8312b5dcb0 snd_una:70b33b8312b5dcb0 rcv_nxt:243c4517068a6b7d');
  });

  test('sctp timer and addresses', () => {
    const s = inet({ msg: { family: 2, state: 1, timer: 1, expires: 1500 }, attrs: { locals: [{ address: '10.0.0.1', port: 9 }, { address: '10.0.0.3', port: 9 }] } }, 132);
    expect(netid(s)).toBe('sctp');
    expect(formatRow(s, opts({ options: true, memory: true, oneline: true })).process).toBe(' timer:(T3_RTX,1.500ms,0) locals:10.0.0.1,10.0.0.3');
  });
});

describe('users:((…))', () => {
  const s = { protocol: 'unix', processes: [{ pid: 10, command: 'a)b', fd: 3, tid: 10 }, { pid: 20, command: 'sd-pop child', fd: 200, tid: 21 }] } as unknown as Socket;
  test('in the reverse order of the /proc walk, comm up to the first ), tid with -T', () => {
    expect(usersText(s, opts({ processes: true }))).toBe(' users:(("sd-pop child",pid=20,fd=200),("a",pid=10,fd=3))');
    expect(usersText(s, opts({ threads: true }))).toBe(' users:(("sd-pop child",pid=20,tid=21,fd=200),("a",pid=10,tid=10,fd=3))');
    expect(usersText(s, opts())).toBe('');
    expect(usersText({ ...s, processes: [] } as Socket, opts({ processes: true }))).toBe('');
  });
});

describe('other families', () => {
  const unix: UnixSocket = {
    protocol: 'unix', family: 'unix', state: 'listening', inode: 5707247, uid: 0, cookie: 1n, recvQ: 1, sendQ: 16, type: 'stream',
    path: '/tmp/x.sock', peerInode: undefined, vfs: { inode: 2277926, dev: 0xfe00000 }, icons: [5707250], rqlen: undefined,
    shutdown: 0, meminfo: { rmemAlloc: 0, rcvbuf: 212992, wmemAlloc: 0, sndbuf: 212992, fwdAlloc: 0, wmemQueued: 0, optmem: 0, backlog: 0, drops: 0 },
    processes: [{ pid: 9210, command: 'python3', fd: 37 }],
  };

  test('unix (ss -xemp)', () => {
    const r = formatRow(unix, opts({ extended: true, memory: true, processes: true }));
    expect([r.netid, r.state, r.localAddr, r.localPort, r.peerAddr, r.peerPort]).toEqual(['u_str', 'LISTEN', '/tmp/x.sock ', '5707247', '* ', '0']);
    expect(r.process).toBe(' users:(("python3",pid=9210,fd=37)) skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d0) <-> ino:2277926 dev:0/65024 peers: 5707250');
    const anon = formatRow({ ...unix, path: undefined, icons: [], vfs: undefined, shutdown: 1, type: 'seqpacket' }, opts({ extended: true }));
    expect([anon.netid, anon.localAddr, anon.process]).toEqual(['u_seq', '* ', ' --> peers:']);
    expect(netid({ ...unix, type: 'unknown' })).toBe('u_dgr');
  });

  const packet: PacketSocket = {
    protocol: 'packet', family: 'packet', state: 'closed', inode: 9158815, uid: 0, cookie: 0x3ca497n, recvQ: 0, sendQ: 0, type: 'dgram',
    packetProtocol: 0x8100, ifindex: 0, info: { ifindex: 0, version: 1, reserveBytes: 0, copyThreshBytes: 0, tstamp: 0, flags: 1 }, mclist: undefined,
    rxRing: { blockSizeBytes: 4096, blockCount: 2, frameSizeBytes: 2048, frameCount: 4, retireTmoMs: 0, sizeofPrivBytes: 0, features: 0 },
    txRing: undefined, fanout: { id: 7, type: 1, typeName: 'lb' }, meminfo: undefined, filter: [{ code: 6, jt: 0, jf: 0, k: 0 }],
    processes: undefined,
  };

  test('packet (ss -0 -e -b)', () => {
    const r = formatRow(packet, opts({ extended: true, bpf: true, numeric: false }));
    expect([r.netid, r.localAddr, r.localPort, r.peerAddr, r.peerPort]).toEqual(['p_dgr', '802.1Q:', '*', '*', '']);
    expect(r.process).toBe(' ino:9158815 sk:3ca497\n\tver:1 cpy_thresh:0 flags( running )\n\tring_rx(blk_size:4096,blk_nr:2,frm_size:2048,frm_nr:4,tmo:0,features:0x0)\n\tfanout(id:7,type:lb)\n\tbpf filter (1):  0x06 0 0 0,');
    const all = formatRow({ ...packet, packetProtocol: 3, ifindex: 1, info: { ...packet.info!, flags: 0 }, rxRing: undefined, fanout: undefined }, opts({ extended: true, oneline: true, ifnames: new Map([[1, 'lo']]) }));
    expect([all.localAddr, all.localPort, all.process]).toEqual(['*:', 'lo', ' ino:9158815 sk:3ca497 ver:1 cpy_thresh:0 flags( 0 )']);
  });

  const nl: NetlinkSocket = {
    protocol: 'netlink', family: 'netlink', state: 'closed', inode: 0, uid: undefined, cookie: 0n, recvQ: 832, sendQ: 0, type: 'raw',
    netlinkProtocol: 4, connected: false, portId: 0, dstPortId: 0, dstGroup: 0, meminfo: { rmemAlloc: 832, rcvbuf: 1, wmemAlloc: 0, sndbuf: 2, fwdAlloc: 0, wmemQueued: 0, optmem: 0, backlog: 0, drops: 0 },
    groups: [0x11, 0], rxRing: undefined, txRing: undefined, flags: undefined, processes: undefined,
  };

  test('netlink (ss -A netlink -em)', () => {
    const r = formatRow(nl, opts({ numeric: false, extended: true, memory: true, processes: true }));
    expect([r.netid, r.localAddr, r.localPort, r.peerAddr, r.peerPort]).toEqual(['nl', 'tcpdiag:', 'kernel', '*', '']);
    expect(r.process).toBe(' sk=0 cb=0 groups=0x00000011\t skmem:(r832,rb1,t0,tb2,f0,w0,o0,bl0,d0)');
    expect(formatRow({ ...nl, portId: -1 }, opts()).localPort).toBe('*');
    expect(formatRow({ ...nl, portId: -4242 }, opts({ numeric: false })).localPort).toBe('-4242');
    expect(formatRow({ ...nl, portId: process.pid }, opts({ numeric: false })).localPort).toMatch(new RegExp(`^.+/${process.pid}$`));
    const c = formatRow({ ...nl, connected: true, dstGroup: 0, dstPortId: 0 }, opts());
    expect([c.localAddr, c.localPort, c.peerAddr, c.peerPort]).toEqual(['4:', '0', '0:', '0']);
  });

  test('vsock, tipc, xdp', () => {
    const v: VsockSocket = { protocol: 'vsock', family: 'vsock', state: 'listening', inode: 1, uid: undefined, cookie: 0n, recvQ: 0, sendQ: 0, type: 'stream', shutdown: 0, local: { cid: 0xffffffff, port: 1234 }, remote: { cid: 0, port: 0xffffffff }, processes: [{ pid: 1, command: 'x', fd: 3 }] };
    const rv = formatRow(v, opts({ extended: true, processes: true }));
    expect([rv.netid, rv.localAddr, rv.localPort, rv.peerAddr, rv.peerPort, rv.process]).toEqual(['v_str', '*:', '1234', '0:', '*', ' users:(("x",pid=1,fd=3))']);
    expect(netid({ ...v, type: 'seqpacket' })).toBe('???');
    const t = { protocol: 'tipc', family: 'tipc', state: 'established', inode: 9, uid: 1000, cookie: 0xfn, recvQ: 0, sendQ: 0, type: 'rdm', node: 16777217, port: 5, connection: undefined, hasPublications: true, stats: { drops: 2, linkCongested: true }, group: undefined, unknownTopLevel: undefined, processes: [{ pid: 1, command: 'x', fd: 3 }] } as unknown as TipcSocket;
    const rt = formatRow(t, opts({ extended: true, processes: true, tipcinfo: true }));
    expect([rt.netid, rt.localAddr, rt.localPort, rt.peerAddr, rt.peerPort]).toEqual(['ti_rd', '16777217:', '5', '-', '']);
    expect(rt.process).toBe(' uid:1000 ino:9 sk:f users:(("x",pid=1,fd=3))\n type:RDM cong:link  drop:2  publ');
    const x = { protocol: 'xdp', family: 'xdp', state: 'closed', inode: 3, uid: 0, cookie: 2n, recvQ: 0, sendQ: 0, type: 'raw', ifindex: 1, queueId: 4, info: undefined, rxRing: { entries: 8 }, txRing: undefined, umem: { sizeBytes: 4096n, id: 1, pages: 1, chunkSizeBytes: 2048, headroomBytes: 0, ifindex: 1, queueId: 4, flags: 1, zerocopy: 1, refs: 2 }, fillRing: { entries: 4 }, completionRing: undefined, meminfo: undefined, stats: undefined, processes: undefined } as unknown as XdpSocket;
    const rx = formatRow(x, opts({ extended: true, oneline: true, ifnames: new Map([[1, 'eth0']]) }));
    expect([rx.netid, rx.localAddr, rx.localPort, rx.peerAddr, rx.process]).toEqual(['xdp', 'eth0:', 'q4', '*', ' ino:3 sk:2 rx(entries:8) tumem(id:1,size:4096,num_pages:1,chunk_size:2048,headroom:0,ifindex:1,qid:4,zc:1,refs:2) fr(entries:4)']);
    expect(formatRow({ ...x, ifindex: 0 } as XdpSocket, opts()).localAddr).toBe('*');
  });
});

describe('cgroup paths', () => {
  test('relative to the first cgroup2 mount; unreachable:HEX otherwise; /sys mounts skipped after a netns switch', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sd-cg-'));
    try {
      const mounts = join(dir, 'mounts');
      writeFileSync(mounts, `cgroup /x cgroup rw 0 0\ncgroup2 ${dir} cgroup2 rw 0 0\n`);
      const { statSync, mkdirSync } = require('node:fs') as typeof import('node:fs');
      mkdirSync(join(dir, 'a', 'b'), { recursive: true });
      const idOf = (p: string): bigint => statSync(p, { bigint: true }).ino;
      const resolve = cgroupPathResolver({ mountsFile: mounts });
      expect(resolve(idOf(dir))).toBe('/');
      expect(resolve(idOf(join(dir, 'a', 'b')))).toBe('/a/b');
      expect(resolve(0x1234n)).toBe('unreachable:1234');
      writeFileSync(mounts, 'cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n');
      expect(cgroupPathResolver({ mountsFile: mounts, sysRemounted: true })(1n)).toBe('unreachable:1');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
