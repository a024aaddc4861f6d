'use strict';
// watchSockets() under a stream of destroy events (F9 for watches): a python process in a
// private namespace opens and closes loopback TCP connections (two events each) as fast as
// it can, while a fresh node process (this file, run as a child) consumes the events.
// After a warm-up, gc() and sample every `every` events: fds and threads must stay exactly
// equal; RSS and heap growth are reported against the first sample. Reports the rate of
// events received and what was lost to overruns (received + lost must equal what was made).

const path = require('node:path');
const { sampleProcess } = require('../sample');
const fs = require('node:fs');
const { spawn } = require('node:child_process');

// Opens and closes `n` connections; the client resets (SO_LINGER 0) so no TIME-WAIT piles up.
const GENERATOR = String.raw`
import socket, struct, sys
n = int(sys.argv[1])
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(1024)
addr = l.getsockname()
linger = struct.pack('ii', 1, 0)
for i in range(n):
    c = socket.socket(); c.connect(addr); s, _ = l.accept()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger); c.close(); s.close()
l.close()
`;

const python = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';


/** The child: consume warmup + events destroy events, sampling every `every`. */
async function child(cfg) {
  if (typeof global.gc !== 'function') throw new Error('run with --expose-gc');
  const lib = require('../../dist');
  const watchSockets = lib.watchSockets ?? require('../../dist/api/watch').watchSockets;
  const total = cfg.warmup + cfg.events;
  const watch = watchSockets({ netns: cfg.ns, ...(cfg.rcvbuf ? { rcvbuf: cfg.rcvbuf } : {}) });
  const gen = spawn('ip', ['netns', 'exec', cfg.ns, python, '-c', GENERATOR, String(total / 2 + 1)], { stdio: ['ignore', 'ignore', 'inherit'] });
  const made = total + 3; // + the last pair and the listener
  let seen = 0;
  let lost = 0;
  let t0;
  let cpu0;
  let measuredFrom = 0;
  const samples = [];
  let nextSample = cfg.warmup;
  const timer = setTimeout(() => watch.close(), cfg.timeoutMs);
  try {
    for await (const e of watch) {
      if (e.type === 'destroy') seen++;
      else lost += e.lost ?? NaN;
      if (seen + lost >= nextSample) {
        samples.push(await sampleProcess(seen + lost));
        if (t0 === undefined) {
          t0 = process.hrtime.bigint();
          cpu0 = process.cpuUsage();
          measuredFrom = seen;
        }
        while (nextSample <= seen + lost) nextSample += cfg.every;
      }
      if (seen + lost >= made) break;
    }
  } finally {
    clearTimeout(timer);
    watch.close();
    gen.kill('SIGKILL');
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  const cpuUsPerEvent = (cpu.user + cpu.system) / (seen - measuredFrom);
  const first = samples[0];
  const last = samples[samples.length - 1];
  const growth = (k) => (last[k] - first[k]) / first[k];
  const maxGrowth = (k) => (Math.max(...samples.map((s) => s[k])) - first[k]) / first[k];
  return {
    made,
    seen,
    lost,
    complete: seen + lost === made,
    overruns: watch.stats.overruns,
    ms,
    eventsPerSecond: ((seen - measuredFrom) / ms) * 1000,
    cpuUsPerEvent,
    fdsFlat: samples.every((s) => s.fds === first.fds),
    threadsFlat: samples.every((s) => s.threads === first.threads),
    rssGrowth: growth('rss'),
    heapGrowth: growth('heapUsed'),
    rssMaxGrowth: maxGrowth('rss'),
    heapMaxGrowth: maxGrowth('heapUsed'),
    samples,
  };
}

const pct = (v) => `${(v * 100).toFixed(1)} %`;

module.exports = {
  name: 'watch',
  title: 'watchSockets: a stream of destroy events (F9)',
  async run(ctx) {
    const events = ctx.quick ? 20_000 : 100_000;
    const ns = await ctx.netns.createNamespace('watch');
    try {
      // The default buffer, then a small one where the reader cannot keep up (the overrun path).
      const runs = [];
      for (const rcvbuf of [undefined, 16 * 1024]) {
        ctx.log(`watch: ${events.toLocaleString('en-US')} events, rcvbuf ${rcvbuf ?? 'default'}`);
        // With the small buffer the warm-up is longer, so that it holds several overruns: the first
        // ones start the query threads, and their allocator arenas and stacks (a one-time RSS step).
        const warmup = rcvbuf ? 50_000 : 10_000;
        const cfg = { ns, events, warmup, every: events / 10, timeoutMs: 10 * 60_000, rcvbuf };
        runs.push(await ctx.runChild(path.join('suites', 'watch.js'), [JSON.stringify(cfg)], 15 * 60_000));
      }
      const row = (label, f) => [label, ...runs.map(f)];
      const rows = [
        row('events made (connections × 2)', (r) => r.made.toLocaleString('en-US')),
        row('received / lost (overrun events)', (r) => `${r.seen.toLocaleString('en-US')} / ${r.lost.toLocaleString('en-US')} (${r.overruns})`),
        row('received + lost = made', (r) => (r.complete ? 'yes' : 'no')),
        row('events/s received (after warm-up; the generator sets the pace)', (r) => Math.round(r.eventsPerSecond).toLocaleString('en-US')),
        row('CPU per event received, this process (µs)', (r) => r.cpuUsPerEvent.toFixed(1)),
        row('fds / threads flat', (r) => `${r.fdsFlat} / ${r.threadsFlat}`),
        row('RSS growth (last / max)', (r) => `${pct(r.rssGrowth)} / ${pct(r.rssMaxGrowth)}`),
        row('heap growth (last / max)', (r) => `${pct(r.heapGrowth)} / ${pct(r.heapMaxGrowth)}`),
      ];
      const all = (f) => runs.every(f);
      return {
        header: ['', 'default rcvbuf', 'rcvbuf 16 KiB'],
        rows,
        targets: [
          { what: 'every event received or counted lost', value: runs.map((r) => `${r.seen + r.lost}/${r.made}`).join(', '), target: 'all', ok: all((r) => r.complete) },
          { what: 'fds and threads flat', value: `${all((r) => r.fdsFlat && r.threadsFlat)}`, target: 'true', ok: all((r) => r.fdsFlat && r.threadsFlat) },
          { what: 'RSS growth', value: runs.map((r) => pct(r.rssGrowth)).join(', '), target: '< 5 %', ok: all((r) => r.rssGrowth < 0.05) },
          { what: 'heap growth', value: runs.map((r) => pct(r.heapGrowth)).join(', '), target: '< 5 %', ok: all((r) => r.heapGrowth < 0.05) },
        ],
        data: runs,
      };
    } finally {
      ctx.netns.deleteNamespace(ns);
    }
  },
};

if (require.main === module) {
  child(JSON.parse(process.argv[2])).then(
    (r) => process.stdout.write(JSON.stringify(r) + '\n'),
    (err) => {
      process.stdout.write(JSON.stringify({ error: String(err.stack ?? err) }) + '\n');
      process.exitCode = 1;
    },
  );
}
