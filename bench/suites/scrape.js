'use strict';
// One Prometheus scrape (sockdiag/prometheus: registry.metrics(), which dumps and formats)
// against `ss -tanie` on the same sockets, and the scrape's heap, measured in a fresh child.
// Targets (issue 6): at 100k sockets, at most 0.5x the time of ss -tanie and under 100 MiB of heap.
//
// Size: 100k (10k with --quick), or SOCKDIAG_SCRAPE_SIZES=10000,100000.
// As a child (the heap probe): node --expose-gc bench/suites/scrape.js probe NAMESPACE

const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { nsShell } = require('../oldway');

const MiB = 1024 * 1024;
const dist = path.join(__dirname, '..', '..', 'dist');
const scrapeOptions = (ns) => ({ netns: ns, protocols: ['tcp'] });

function newRegistry(ns) {
  const { Registry } = require('prom-client');
  const { registerSocketMetrics } = require(path.join(dist, 'prometheus'));
  const register = new Registry();
  registerSocketMetrics({ register, ...scrapeOptions(ns) });
  return register;
}

/** The heap probe: peak heapUsed during a scrape, in a process that did nothing else. */
async function probe(ns) {
  if (typeof global.gc !== 'function') throw new Error('run with --expose-gc');
  const register = newRegistry(ns);
  for (let i = 0; i < 3; i++) await register.metrics(); // warm: code, pools, the addon's thread
  await new Promise((resolve) => setImmediate(resolve));
  global.gc();
  global.gc();
  const base = process.memoryUsage();
  let peakHeap = base.heapUsed;
  let peakExternal = base.external;
  const sample = () => {
    const m = process.memoryUsage();
    if (m.heapUsed > peakHeap) peakHeap = m.heapUsed;
    if (m.external > peakExternal) peakExternal = m.external;
  };
  // The dump yields to the event loop between receive batches, so the timer samples throughout.
  const timer = setInterval(sample, 1);
  const text = await register.metrics();
  clearInterval(timer);
  sample();
  const socketLine = /^sockdiag_tcp_connection_states\{state="established"\} (\d+)$/m.exec(text);
  return {
    established: socketLine ? Number(socketLine[1]) : undefined,
    bytes: text.length,
    baseHeapMiB: base.heapUsed / MiB,
    peakHeapMiB: peakHeap / MiB,
    peakHeapAboveBaseMiB: (peakHeap - base.heapUsed) / MiB,
    peakExternalAboveBaseMiB: (peakExternal - base.external) / MiB,
  };
}

/** Median CPU time (user + system, all threads, kernel dump work included) of `fn` over `runs`. */
async function cpuOf(runs, fn) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    global.gc();
    const c0 = process.cpuUsage();
    await fn();
    const c = process.cpuUsage(c0);
    samples.push((c.user + c.system) / 1000);
  }
  return samples.sort((a, b) => a - b)[samples.length >> 1];
}

/** Median CPU time of `ss -tanie` in the namespace, from bash's `time` (so the wrapper is not billed). */
function ssCpu(ns, runs) {
  const script = nsShell(`bash -c 'TIMEFORMAT="%U %S"; time ss -tanie >/dev/null'`);
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const r = spawnSync('ip', ['netns', 'exec', ns, 'sh', '-c', script], { encoding: 'utf8', timeout: 120_000 });
    const [u, sys] = r.stderr.trim().split('\n').pop().split(' ').map(Number);
    samples.push((u + sys) * 1000);
  }
  return samples.sort((a, b) => a - b)[samples.length >> 1];
}

async function benchSize(ctx, size) {
  const ns = await ctx.netns.createNamespace(`scrape${size}`, { ehash: ctx.ehash });
  let load;
  try {
    load = await ctx.startLoad(ns, size);
    ctx.log(`  scrape ${size}: load up in ${load.setupMs.toFixed(0)} ms`);
    const register = newRegistry(ns);
    // Warm the JIT on this size before timing, as the main bench does.
    for (let i = 0; i < (ctx.quick ? 3 : 5); i++) await ctx.withTimeout(register.metrics(), 120_000, 'warm-up scrape');
    const scrape = await ctx.timeRuns(ctx.runs, () => ctx.withTimeout(register.metrics(), 120_000, 'scrape'));
    const dump = /^sockdiag_dump_duration_seconds (\S+)$/m.exec(scrape.result);
    const ss = ctx.timeNsCommand(ns, 'ss -tanie', ctx.runs);
    // CPU time is what contention disturbs least on a shared machine.
    const cpu = { scrape: await cpuOf(ctx.runs, () => register.metrics()), ss: ssCpu(ns, ctx.runs) };
    const mem = await ctx.runChild(path.join('suites', 'scrape.js'), ['probe', ns], 300_000);
    ctx.log(`  scrape ${size}: ${ctx.ms(scrape)} ms (ss -tanie ${ctx.ms(ss)} ms), peak heap ${mem.peakHeapMiB.toFixed(1)} MiB, ${mem.established} established`);
    return { size, scrape: { ...scrape, result: undefined }, lastDumpSeconds: dump ? Number(dump[1]) : undefined, ss, cpu, mem, ratio: scrape.median / ss.median, fastestRatio: scrape.min / ss.min };
  } finally {
    if (load) await load.stop();
    ctx.netns.deleteNamespace(ns);
  }
}

module.exports = {
  name: 'scrape',
  title: 'Prometheus scrape (sockdiag/prometheus registry.metrics(), tcp) vs ss -tanie',
  async run(ctx) {
    const sizes = process.env.SOCKDIAG_SCRAPE_SIZES ? process.env.SOCKDIAG_SCRAPE_SIZES.split(',').map(Number) : ctx.quick ? [10000] : [100000];
    const results = [];
    for (const size of sizes) results.push(await benchSize(ctx, size));
    const col = (f) => results.map(f);
    const rows = [
      ['established sockets seen by the scrape', ...col((r) => String(r.mem.established))],
      ['scrape: registry.metrics(), median (fastest) ms', ...col((r) => `${ctx.ms(r.scrape)} (${ctx.ms(r.scrape.min)})`)],
      ['  the last one\'s dump (sockdiag_dump_duration_seconds), ms', ...col((r) => (r.lastDumpSeconds === undefined ? 'n/a' : (r.lastDumpSeconds * 1000).toFixed(0)))],
      ['ss -tanie, median (fastest) ms', ...col((r) => `${ctx.ms(r.ss)} (${ctx.ms(r.ss.min)})`)],
      ['scrape / ss -tanie, medians (fastest runs)', ...col((r) => `${r.ratio.toFixed(2)}x (${r.fastestRatio.toFixed(2)}x)`)],
      ['CPU (user+sys, kernel dump included): scrape / ss -tanie, ms', ...col((r) => `${r.cpu.scrape.toFixed(0)} / ${r.cpu.ss.toFixed(0)} = ${(r.cpu.scrape / r.cpu.ss).toFixed(2)}x`)],
      ['peak heapUsed during a scrape, MiB', ...col((r) => r.mem.peakHeapMiB.toFixed(1))],
      ['  above the idle baseline, MiB', ...col((r) => r.mem.peakHeapAboveBaseMiB.toFixed(1))],
      ['peak external (receive buffers) above baseline, MiB', ...col((r) => r.mem.peakExternalAboveBaseMiB.toFixed(1))],
      ['exposition size, bytes', ...col((r) => String(r.mem.bytes))],
    ];
    const big = results.find((r) => r.size === 100000) ?? results[results.length - 1];
    const targets = big
      ? [
          { what: `scrape time at ${big.size.toLocaleString('en-US')} sockets vs ss -tanie (medians; fastest runs ${big.fastestRatio.toFixed(2)}x)`, value: `${big.ratio.toFixed(2)}x`, target: '≤ 0.5x', ok: big.ratio <= 0.5 },
          { what: `peak heap during a scrape at ${big.size.toLocaleString('en-US')} sockets`, value: `${big.mem.peakHeapMiB.toFixed(1)} MiB`, target: '< 100 MiB', ok: big.mem.peakHeapMiB < 100 },
        ]
      : [];
    return { header: ['', ...sizes.map((s) => s.toLocaleString('en-US'))], rows, targets, data: results };
  },
};

if (require.main === module && process.argv[2] === 'probe') {
  probe(process.argv[3]).then(
    (r) => process.stdout.write(JSON.stringify(r) + '\n'),
    (err) => {
      process.stdout.write(JSON.stringify({ error: String(err && err.stack ? err.stack : err) }) + '\n');
      process.exitCode = 1;
    },
  );
}
