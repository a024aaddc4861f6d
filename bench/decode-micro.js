'use strict';
// Micro-benchmark of the inet reply decoders, with no kernel and no namespace: 100k synthetic
// inet_diag replies built with the project's own encoder (full tcp_info, skmem, meminfo, cong,
// tos, tclass, shutdown, mark, cgroup id), packed into 64 KiB batches as a dump receives them.
// Rows (median of --runs, ms for all messages):
//   decode        decodeInetMessage of every message (what listSockets does per socket)
//   decode+info   the same, then read socket.info.rttUs (attributes decoded on first access)
//   cli -tanie    the command's fast path: writeInetMessageRow of every message, -tanie options
//   cli -tanie (decoded)   writeRow of already decoded sockets (the -p path)
//
//   node --expose-gc bench/decode-micro.js [--dist DIR] [--count N] [--runs N] [--only ROW-PREFIX] [--format JSON]
// (--format: FormatOptions to merge over -tanie's, e.g. '{"info":false}')
// DIR defaults to ../dist (run `npm run build:ts` first).

const path = require('node:path');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const dist = path.resolve(opt('dist', path.join(__dirname, '..', 'dist')));
const COUNT = Number(opt('count', 100000));
const RUNS = Number(opt('runs', 7));

const { decodeInetMessage, encodeInetMessage } = require(path.join(dist, 'diag/inet'));
const { writeInetMessageRow, writeRow } = require(path.join(dist, 'cli/format'));
const { CellWriter } = require(path.join(dist, 'cli/table'));

/** A tcp_info with every field of the 6.1 structure set to something non-zero. */
function tcpInfoValue(i) {
  return {
    state: 1, caState: 0, retransmits: 0, probes: 0, backoff: 0, options: 7, sndWscale: 7, rcvWscale: 7,
    deliveryRateAppLimited: i & 1, fastopenClientFail: 0,
    rtoUs: 204000, atoUs: 40000, sndMss: 32768, rcvMss: 536, unacked: 0, sacked: 0, lost: 0, retrans: 0, fackets: 0,
    lastDataSentMs: 1000 + i, lastDataRecvMs: 1000 + i, lastAckRecvMs: 1000, pmtu: 65535, rcvSsthresh: 65483,
    rttUs: 25 + (i % 100), rttvarUs: 13, sndSsthresh: 2147483647, sndCwnd: 10, advmss: 65483, reordering: 3,
    rcvRttUs: 0, rcvSpace: 65483, totalRetrans: 0,
    pacingRateBytesPerSec: 2621440000n + BigInt(i), maxPacingRateBytesPerSec: 0xffffffffffffffffn,
    bytesAcked: 1n + BigInt(i), bytesReceived: 2n, segsOut: 3, segsIn: 4, notsentBytes: 0, minRttUs: 20,
    dataSegsIn: 1, dataSegsOut: 1, deliveryRateBytesPerSec: 1000000n, busyTimeUs: 1000n, rwndLimitedUs: 0n,
    sndbufLimitedUs: 0n, delivered: 2, deliveredCe: 0, bytesSent: 10n, bytesRetrans: 0n, dsackDups: 0,
    reordSeen: 0, rcvOoopack: 0, sndWnd: 65483,
    // Fields of newer kernels, so that the payload is as long as a 6.18 kernel sends.
    rcvWnd: 65483, rehash: 0, totalRto: 0, totalRtoRecoveries: 0, totalRtoTimeMs: 0, receivedCe: 0,
    deliveredE1Bytes: 0, deliveredE0Bytes: 0, deliveredCeBytes: 0, receivedE1Bytes: 0, receivedE0Bytes: 0, receivedCeBytes: 0,
  };
}

function message(i) {
  const v6 = i % 4 === 3;
  const src = Buffer.alloc(16);
  const dst = Buffer.alloc(16);
  if (v6) {
    src[15] = 1;
    dst[15] = 1;
  } else {
    src.set([127, 100 + (i & 7), (i >> 8) & 255, i & 255]);
    dst.set([127, 0, 0, 1]);
  }
  return encodeInetMessage({
    msg: {
      family: v6 ? 10 : 2, state: 1, timer: i % 3 === 0 ? 2 : 0, retrans: 0, sport: 10000 + (i % 50000), dport: 443,
      src, dst, ifindex: 0, cookie: BigInt(i + 1), expires: 7200000, rqueue: 0, wqueue: i % 7, uid: 0, inode: 100000 + i,
    },
    attrs: {
      meminfo: { rmem: 0, wmem: 0, fmem: 0, tmem: 0 },
      info: tcpInfoValue(i),
      cong: 'cubic',
      tos: 0,
      tclass: 0,
      skmem: { rmemAlloc: 0, rcvbuf: 131072, wmemAlloc: 0, sndbuf: 2626560, fwdAlloc: 0, wmemQueued: 0, optmem: 0, backlog: 0, drops: 0 },
      shutdown: 0,
      mark: i % 5 === 0 ? 0x42 : 0,
      cgroupId: 1234n,
    },
  });
}

/** The messages packed into 64 KiB batches: [batch, offsets[], lengths[]]. */
function batches() {
  const out = [];
  let parts = [];
  let size = 0;
  const flush = () => {
    const b = Buffer.concat(parts.map((p) => p));
    const offs = [];
    const lens = [];
    for (let off = 0; off < b.length; ) {
      const len = b.readUInt32LE(off);
      offs.push(off);
      lens.push(len);
      off += (len + 3) & ~3;
    }
    out.push({ b, offs, lens });
    parts = [];
    size = 0;
  };
  for (let i = 0; i < COUNT; i++) {
    const m = message(i);
    if (size + m.length > 65536) flush();
    parts.push(m);
    size += m.length;
  }
  if (parts.length) flush();
  return out;
}

const data = batches();
const FORMAT = { numeric: true, processes: false, extended: true, info: true, memory: false, options: false, cgroupPath: () => '/', ...JSON.parse(opt('format', '{}')) };

function time(fn) {
  const xs = [];
  for (let r = 0; r < RUNS; r++) {
    if (global.gc) global.gc();
    const t0 = process.hrtime.bigint();
    fn();
    xs.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  xs.sort((a, b) => a - b);
  return { median: xs[xs.length >> 1], min: xs[0] };
}

let sink = 0;
function decodeAll(touch) {
  for (const { b, offs, lens } of data) {
    for (let i = 0; i < offs.length; i++) {
      const s = decodeInetMessage(b, offs[i], lens[i], 6);
      sink += touch ? s.info.rttUs : s.inode;
    }
  }
}

const rowSink = { out: new CellWriter(1 << 20), endCell() {} };
const decodeTcp = (b, off, len) => decodeInetMessage(b, off, len, 6);
function cliAll() {
  for (const { b, offs, lens } of data) {
    for (let i = 0; i < offs.length; i++) {
      rowSink.out.pos = 0;
      writeInetMessageRow(rowSink, b, offs[i], lens[i], 'tcp', decodeTcp, FORMAT);
      sink += rowSink.out.pos;
    }
  }
}

const decoded = [];
for (const { b, offs, lens } of data) for (let i = 0; i < offs.length; i++) decoded.push(decodeInetMessage(b, offs[i], lens[i], 6));
function cliDecoded() {
  for (const s of decoded) {
    rowSink.out.pos = 0;
    writeRow(rowSink, s, FORMAT);
    sink += rowSink.out.pos;
  }
}

// A sample row, so that a change in the text shows.
rowSink.out.pos = 0;
writeInetMessageRow(rowSink, data[0].b, data[0].offs[1], data[0].lens[1], 'tcp', decodeTcp, FORMAT);
const sample = rowSink.out.buf.toString('latin1', 0, rowSink.out.pos);

const ONLY = opt('only', undefined);
const rows = [
  ['decode', () => decodeAll(false)],
  ['decode+info', () => decodeAll(true)],
  ['cli -tanie (fast path)', cliAll],
  ['cli -tanie (decoded sockets)', cliDecoded],
]
  .filter(([name]) => ONLY === undefined || name.startsWith(ONLY))
  .map(([name, fn]) => [name, time(fn)]);
console.log(`${COUNT} messages in ${data.length} batches, ${RUNS} runs, dist ${dist}`);
for (const [name, t] of rows) console.log(`${name.padEnd(30)} median ${t.median.toFixed(1).padStart(7)} ms   min ${t.min.toFixed(1).padStart(7)} ms`);
console.log(`sample row: ${JSON.stringify(sample)}`);
if (sink === 0.5) console.log('');
