'use strict';
// trackSockets() at 10,000 sockets polled every 100 ms (issue 6 target: under 20% of one
// core). A fresh node process (this file, run as a child) tracks the TCP sockets of a loaded
// namespace; after the first dump's opens and a warm-up, process.cpuUsage() over ~10 s
// (user + system: the kernel's dump work runs in this process's recvmsg calls, so it counts).
// For scale, the same child also times bare raw dumps at the same pace (the floor: kernel
// and transport, no diff), and the tracker asking for every extension.

const path = require('node:path');

const SIZE = 10_000;
const INTERVAL_MS = 100;

function libraryParts() {
  const lib = require('../../dist');
  return {
    trackSockets: lib.trackSockets ?? require('../../dist/monitor/track').trackSockets,
    rawDump: lib.rawDump ?? require('../../dist/api/raw').rawDump,
  };
}

/** CPU share of one core and dumps done over `ms`, after `warmupMs` (the first dump's opens included in the warm-up). */
async function measure(cfg) {
  const { trackSockets, rawDump } = libraryParts();
  const opts = { netns: cfg.ns, protocols: ['tcp'], ...(cfg.extensions ? { extensions: cfg.extensions } : {}) };
  let dumps = 0;
  let events = 0;
  let sockets = 0;
  let stop;
  let running;
  let tracker;
  if (cfg.mode === 'raw') {
    // The floor: one raw dump per interval, bytes counted and dropped.
    let halted = false;
    stop = () => (halted = true);
    running = (async () => {
      let next = Date.now();
      while (!halted) {
        for await (const d of rawDump({ ...opts, extensions: cfg.extensions ?? ['info'] })) sockets += d.length;
        dumps++;
        next += cfg.interval;
        const wait = next - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        else next = Date.now();
      }
    })();
  } else {
    tracker = trackSockets({ ...opts, interval: cfg.interval });
    stop = () => tracker.close();
    running = (async () => {
      for await (const e of tracker) {
        events++;
        if (e.type === 'open') sockets++;
      }
    })();
  }
  const dumpsNow = () => (cfg.mode === 'raw' ? dumps : tracker.stats.dumps);
  await new Promise((r) => setTimeout(r, cfg.warmupMs));
  const d0 = dumpsNow();
  const e0 = events;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, cfg.ms));
  const cpu = process.cpuUsage(cpu0);
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const d1 = dumpsNow();
  const e1 = events;
  stop();
  await running;
  global.gc?.();
  return {
    mode: cfg.mode,
    extensions: cfg.extensions ?? ['info'],
    wallMs,
    dumps: d1 - d0,
    eventsDuringMeasure: e1 - e0,
    opened: cfg.mode === 'raw' ? undefined : sockets,
    bytesPerDump: cfg.mode === 'raw' ? sockets / Math.max(1, dumps) : undefined,
    loadAverage: require('node:os').loadavg()[0],
    cpuShare: (cpu.user + cpu.system) / 1000 / wallMs,
    userShare: cpu.user / 1000 / wallMs,
    systemShare: cpu.system / 1000 / wallMs,
    cpuMsPerDump: (cpu.user + cpu.system) / 1000 / Math.max(1, d1 - d0),
    tracked: cfg.mode === 'raw' ? undefined : tracker.stats.tracked,
    heapMiB: process.memoryUsage().heapUsed / 2 ** 20,
  };
}

const pct = (v) => `${(v * 100).toFixed(1)} %`;

module.exports = {
  name: 'tracker',
  title: `trackSockets: CPU at ${SIZE.toLocaleString('en-US')} sockets polled every ${INTERVAL_MS} ms`,
  async run(ctx) {
    const ms = ctx.quick ? 5_000 : 10_000;
    const ns = await ctx.netns.createNamespace('tracker', { ehash: ctx.ehash });
    const load = await ctx.startLoad(ns, SIZE);
    try {
      const runs = [];
      for (const [mode, extensions] of [['track', undefined], ['raw', undefined], ['track', 'all']]) {
        ctx.log(`tracker: ${mode} extensions ${extensions ?? 'info'}, ${ms} ms`);
        const cfg = { ns, mode, extensions, interval: INTERVAL_MS, warmupMs: 2_000, ms };
        runs.push(await ctx.runChild(path.join('suites', 'tracker.js'), [JSON.stringify(cfg)], 120_000));
      }
      const [tracked, floor, all] = runs;
      const row = (label, f) => [label, ...runs.map(f)];
      return {
        header: ['', 'trackSockets (extensions: info, default)', 'raw dumps alone (floor)', "trackSockets (extensions: 'all')"],
        rows: [
          row('sockets tracked', (r) => (r.mode === 'raw' ? `– (${(r.bytesPerDump / 2 ** 20).toFixed(1)} MiB per dump)` : r.tracked.toLocaleString('en-US'))),
          row(`dumps in ${ms / 1000} s (${1000 / INTERVAL_MS}/s asked)`, (r) => String(r.dumps)),
          row('CPU, share of one core (user + system)', (r) => pct(r.cpuShare)),
          row('of which system (kernel dump work)', (r) => pct(r.systemShare)),
          row('CPU per dump (ms)', (r) => r.cpuMsPerDump.toFixed(1)),
          row('events while measured (idle load: none expected)', (r) => (r.mode === 'raw' ? '–' : String(r.eventsDuringMeasure))),
          row('heap after (MiB)', (r) => r.heapMiB.toFixed(1)),
          row('machine load average (1 min) at the end; 2 CPUs', (r) => r.loadAverage.toFixed(1)),
        ],
        targets: [
          { what: `tracker CPU at ${SIZE.toLocaleString('en-US')} sockets every ${INTERVAL_MS} ms`, value: pct(tracked.cpuShare), target: '< 20 % of one core', ok: tracked.cpuShare < 0.2 },
          { what: 'tracker above the raw-dump floor', value: `${pct(tracked.cpuShare - floor.cpuShare)} (all extensions: ${pct(all.cpuShare)})`, target: 'informational', ok: true },
        ],
        data: runs,
      };
    } finally {
      await load.stop();
      ctx.netns.deleteNamespace(ns);
    }
  },
};

if (require.main === module) {
  measure(JSON.parse(process.argv[2])).then(
    (r) => process.stdout.write(JSON.stringify(r) + '\n'),
    (err) => {
      process.stdout.write(JSON.stringify({ error: String(err.stack ?? err) }) + '\n');
      process.exitCode = 1;
    },
  );
}
