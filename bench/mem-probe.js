'use strict';
// Memory of one listing, measured in a fresh process so earlier runs cannot blur it:
//   node --expose-gc bench/mem-probe.js list|stream|oldway NAMESPACE
// Prints one JSON line. "mem" is heapUsed + external (external includes ArrayBuffers,
// where netlink datagrams live), so native-side buffers are counted too.

const fs = require('node:fs');
const { runSs, parseSs } = require('./oldway');

const [mode, ns] = process.argv.slice(2);
const MiB = 1024 * 1024;

function mem() {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

async function settle() {
  // Yield first: a listing's result stays reachable from the finished call until the
  // event loop turns once. Two passes: the first can leave finalizable objects for the second.
  await new Promise((resolve) => setImmediate(resolve));
  global.gc();
  global.gc();
}

function peakRss() {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return Number(m[1]) * 1024;
}

async function main() {
  if (typeof global.gc !== 'function') throw new Error('run with --expose-gc');
  const opts = { netns: ns, protocols: ['tcp'], extensions: 'all' };
  let result = { mode };
  let peak = 0;
  const sample = () => {
    const m = mem();
    if (m > peak) peak = m;
  };

  if (mode === 'list' || mode === 'stream') {
    const lib = require('../dist');
    // Warm-up on the same namespace: lazy pools, code and the worker thread exist before the baseline.
    await lib.listSockets(opts);
    await settle();
    const base = mem();
    peak = base;
    if (mode === 'stream') {
      let n = 0;
      for await (const s of lib.streamSockets(opts)) {
        if (s === undefined) throw new Error('undefined socket');
        if (++n % 1000 === 0) sample();
      }
      sample();
      result = { ...result, sockets: n, peakAboveBaseMiB: (peak - base) / MiB };
    } else {
      // Sample on a timer too: it fires whenever the listing yields to the event loop.
      const timer = setInterval(sample, 2);
      const sockets = await lib.listSockets(opts);
      clearInterval(timer);
      sample();
      await settle();
      const retained = mem() - base;
      result = {
        ...result,
        sockets: sockets.length, // also keeps the result alive across the measurement
        retainedMiB: retained / MiB,
        retainedBytesPerSocket: Math.round(retained / sockets.length),
        peakAboveBaseMiB: (peak - base) / MiB,
      };
    }
  } else if (mode === 'oldway') {
    parseSs(await runSs(ns)); // warm-up
    await settle();
    const base = mem();
    peak = base;
    const t0 = process.hrtime.bigint();
    const text = await runSs(ns, sample);
    sample();
    const rows = parseSs(text);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    sample();
    await settle();
    const retained = mem() - base;
    result = { ...result, sockets: rows.length, ms, retainedMiB: retained / MiB, peakAboveBaseMiB: (peak - base) / MiB };
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  result.peakRssMiB = peakRss() / MiB;
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ mode, error: String(err && err.stack ? err.stack : err) }) + '\n');
  process.exitCode = 1;
});
