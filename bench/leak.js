'use strict';
// F9: handle and memory growth over many dumps, in a fresh process:
//   node --expose-gc bench/leak.js '{"ns":…,"idleNs":…,"dumps":10000,"warmup":1000,"every":1000,"cycles":10000}'
// After a warm-up, gc() and sample every `every` iterations: fds (/proc/self/fd) and
// threads (/proc/self/task) must stay exactly equal; RSS and heap growth are reported
// against the first sample. Then the same for Channel open/close cycles in another namespace.
// Prints one JSON line.

const { sampleProcess } = require('./sample');

const cfg = JSON.parse(process.argv[2]);


function summarize(samples) {
  const first = samples[0];
  const last = samples[samples.length - 1];
  const max = (k) => Math.max(...samples.map((s) => s[k]));
  const growth = (k) => (last[k] - first[k]) / first[k];
  return {
    samples,
    fdsFlat: samples.every((s) => s.fds === first.fds),
    threadsFlat: samples.every((s) => s.threads === first.threads),
    rssGrowth: growth('rss'),
    heapGrowth: growth('heapUsed'),
    externalGrowth: growth('external'),
    // Max over the samples, not only the last: catches growth that a late GC hides.
    rssMaxGrowth: (max('rss') - first.rss) / first.rss,
    heapMaxGrowth: (max('heapUsed') - first.heapUsed) / first.heapUsed,
  };
}

async function loop(n, every, body) {
  const samples = [await sampleProcess(0)];
  const t0 = process.hrtime.bigint();
  for (let i = 1; i <= n; i++) {
    await body();
    if (i % every === 0) samples.push(await sampleProcess(i));
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { iterations: n, ms, perIterationMs: ms / n, ...summarize(samples) };
}

async function main() {
  if (typeof global.gc !== 'function') throw new Error('run with --expose-gc');
  const lib = require('../dist');
  const opts = { netns: cfg.ns, protocols: ['tcp'], extensions: 'all' };
  let sockets = 0;
  const dump = async () => {
    sockets = (await lib.listSockets(opts)).length;
  };
  for (let i = 0; i < cfg.warmup; i++) await dump();
  const dumps = await loop(cfg.dumps, cfg.every, dump);
  dumps.socketsPerDump = sockets;

  const cycle = async () => {
    const ch = await lib.Channel.open({ netns: cfg.idleNs });
    ch.close();
  };
  for (let i = 0; i < Math.min(cfg.warmup, cfg.cycles); i++) await cycle();
  const channels = await loop(cfg.cycles, cfg.every, cycle);

  process.stdout.write(JSON.stringify({ dumps, channels }) + '\n');
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ error: String(err && err.stack ? err.stack : err) }) + '\n');
  process.exitCode = 1;
});
