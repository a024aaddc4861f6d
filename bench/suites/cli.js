'use strict';
// The command: `sockdiag -tanie > /dev/null` against `ss -tanie > /dev/null` over a 100k-socket
// namespace (issue 5; target: no slower than ss, Node's start-up included). Both are timed by
// bash around the command alone (timeNsCommand), runs alternating. Also: the bytes each prints
// are compared (same rows, so the sizes must match up to moving figures), and the first byte's
// latency of `sockdiag -tanoi | head -c1` (streaming: ss renders every ~5 MB, so do we).

const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { nsShell } = require('../oldway');

const MAIN = path.join(__dirname, '..', '..', 'dist', 'cli', 'main.js');

/** Bytes a command prints in the namespace. */
function outputSize(ns, cmd) {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'sh', '-c', nsShell(`sh -c '${cmd} | wc -c'`)], { encoding: 'utf8', timeout: 120_000 });
  return Number(r.stdout.trim());
}

/** Time until the first byte reaches a reader that then goes away (`| head -c1`). */
function firstByteMs(ns, cmd) {
  const script = nsShell(`bash -c 's=$EPOCHREALTIME; ${cmd} | head -c1 >/dev/null; e=$EPOCHREALTIME; echo $s $e'`);
  const r = spawnSync('ip', ['netns', 'exec', ns, 'sh', '-c', script], { encoding: 'utf8', timeout: 120_000 });
  const [s, e] = r.stdout.trim().split(' ').map(Number);
  return (e - s) * 1000;
}

module.exports = {
  name: 'cli',
  title: 'Command: sockdiag -tanie vs ss -tanie (100k sockets, start-up included)',
  async run(ctx) {
    const { netns, startLoad, log, ms, timeNsCommand } = ctx;
    const size = ctx.quick ? 10000 : 100000;
    const runs = Math.max(3, Math.min(ctx.runs, 7));
    const ns = await netns.createNamespace('cli', { ehash: ctx.ehash });
    let load;
    try {
      load = await startLoad(ns, size);
      const node = `${process.execPath} ${MAIN}`;
      const ours = [];
      const theirs = [];
      // Alternate so that neither side always runs on a warmer cache.
      for (let i = 0; i < runs; i++) {
        theirs.push(timeNsCommand(ns, 'ss -tanie', 1));
        ours.push(timeNsCommand(ns, `${node} -tanie`, 1));
      }
      const med = (xs) => xs.map((x) => x.median).sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      const o = med(ours);
      const t = med(theirs);
      const start = timeNsCommand(ns, `${node} -V`, 3);
      const sizes = { ours: outputSize(ns, `${node} -tanie`), ss: outputSize(ns, 'ss -tanie') };
      const first = { ours: firstByteMs(ns, `${node} -tanoi`), ss: firstByteMs(ns, 'ss -tanoi') };
      log(`  cli ${size}: sockdiag -tanie ${ms(o)} ms, ss -tanie ${ms(t)} ms (x${(o / t).toFixed(2)}), node start-up ${ms(start.median)} ms`);
      return {
        header: ['', 'sockdiag', 'ss'],
        rows: [
          [`-tanie > /dev/null, ${size} sockets (median of ${runs})`, `${ms(o)} ms`, `${ms(t)} ms`],
          ['of which Node start-up (`sockdiag -V`)', `${ms(start.median)} ms`, ''],
          ['bytes printed', String(sizes.ours), String(sizes.ss)],
          ['first byte of -tanoi | head -c1', `${ms(first.ours)} ms`, `${ms(first.ss)} ms`],
        ],
        targets: [{ what: `sockdiag -tanie no slower than ss -tanie at ${size}`, value: `${(o / t).toFixed(2)}x`, target: '<= 1.00x', ok: o <= t }],
        data: { size, ours, theirs, start, sizes, first },
      };
    } finally {
      if (load) await load.stop();
      netns.deleteNamespace(ns);
    }
  },
};
