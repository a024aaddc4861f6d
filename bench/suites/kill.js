'use strict';
// Kill half of a namespace's TCP sockets: destroySockets() against `ss -K` with the same filter
// (issue 4 item 8; target: at most 0.5x ss's time).
//
// The load (load.js) is N/2 established loopback pairs. Client ends connect to listener ports
// below 32768 (20000 and up, 443, just under 20000 for the ::1 pairs) from ephemeral ports
// (32768 and up); server ends are the reverse. So `state established dport lt :32768` selects
// exactly the client ends: N/2 sockets, one end of every pair (destroying it also resets its
// peer, for us as for ss -K). `lt` rather than `<`, which the shell would take as a redirection.
// Every run needs a fresh load, so runs are few (3, or ctx.runs if fewer); ours and ss alternate
// which goes first. --quick uses 10,000 sockets instead of 100,000.

const fs = require('node:fs');
const { spawnSync } = require('node:child_process');
const { countSs, sockstat } = require('../load');
const { nsShell } = require('../oldway');

const FILTER = 'state established dport lt :32768';

/**
 * ss -K in the namespace, timed by bash around the command alone (as timeNsCommand does);
 * bash's `times` adds the CPU time ss used (user + system, children of that bash).
 */
function ssKill(ns) {
  const script = nsShell(`bash -c 's=$EPOCHREALTIME; ss -K -t ${FILTER} >/dev/null || exit 1; e=$EPOCHREALTIME; echo $s $e; times'`);
  const r = spawnSync('ip', ['netns', 'exec', ns, 'sh', '-c', script], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`ss -K: exit ${r.status ?? r.signal ?? r.error} ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  const [s, e] = lines[0].split(' ').map(Number);
  // `times` prints "0m1.277s 0m2.497s" for the children on its second line.
  const secs = (lines[2] ?? '').split(' ').map((t) => {
    const m = /^(\d+)m([\d.]+)s$/.exec(t);
    return m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
  });
  return { ms: (e - s) * 1000, cpuMs: (secs[0] + secs[1]) * 1000 };
}

/** Waits until the namespace has no TCP sockets left from the last load. */
async function drained(ns, timeoutMs = 60_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = sockstat(ns);
    if (s.tcp + s.tcp6 <= 0 || Date.now() > end) return s;
    await new Promise((r) => setTimeout(r, 200));
  }
}

module.exports = {
  name: 'kill',
  title: 'Kill: destroySockets vs ss -K (half of the sockets)',
  async run(ctx) {
    const { netns, startLoad, log, ms, stats } = ctx;
    // Until lib/index.ts exports it, take it from its module.
    const destroySockets = ctx.lib.destroySockets ?? require('../../dist/api/destroy').destroySockets;
    const size = ctx.quick ? 10000 : 100000;
    const runs = Math.min(ctx.runs, 3);
    const ns = await netns.createNamespace('kill', { ehash: ctx.ehash });
    const ours = [];
    const theirs = [];
    try {
      for (let i = 0; i < 2 * runs; i++) {
        const mine = i % 4 === 0 || i % 4 === 3; // ours, ss, ss, ours, ...
        await drained(ns);
        const load = await startLoad(ns, size);
        const matched = countSs(ns, FILTER);
        let took;
        let detail;
        if (mine) {
          global.gc?.();
          const cpu0 = process.cpuUsage();
          const t0 = process.hrtime.bigint();
          const r = await destroySockets({ netns: ns, protocols: ['tcp'], filter: FILTER });
          const wall = Number(process.hrtime.bigint() - t0) / 1e6;
          const cpu = process.cpuUsage(cpu0);
          took = { ms: wall, cpuMs: (cpu.user + cpu.system) / 1000 };
          detail = r.counts;
        } else {
          took = ssKill(ns);
        }
        const left = countSs(ns, FILTER);
        const load1 = Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
        (mine ? ours : theirs).push({ ...took, matched, left, counts: detail, setupMs: load.setupMs, loadavg: load1 });
        log(`  kill ${size}: ${mine ? 'destroySockets' : 'ss -K'} ${ms(took.ms)} ms (CPU ${ms(took.cpuMs)} ms), ${matched} matched, ${left} left, load ${load1}${detail ? ` ${JSON.stringify(detail)}` : ''}`);
        await load.stop();
      }
    } finally {
      netns.deleteNamespace(ns);
    }
    const o = stats(ours.map((x) => x.ms));
    const t = stats(theirs.map((x) => x.ms));
    const oc = stats(ours.map((x) => x.cpuMs));
    const tc = stats(theirs.map((x) => x.cpuMs));
    const ratio = o.median / t.median;
    const fmt = (s) => `${ms(s)} (${ms(s.min)}–${ms(s.max)})`;
    const sum = (xs, f) => xs.map(f).join(', ');
    return {
      header: ['', 'destroySockets', 'ss -K'],
      rows: [
        [`sockets / matched (\`${FILTER}\`)`, `${size.toLocaleString('en-US')} / ${sum(ours, (x) => x.matched)}`, `${size.toLocaleString('en-US')} / ${sum(theirs, (x) => x.matched)}`],
        ['time, ms: median (min–max)', fmt(o), fmt(t)],
        ['CPU time (user + system), ms: median (min–max)', fmt(oc), fmt(tc)],
        ['load average (1 min) at each run', sum(ours, (x) => x.loadavg), sum(theirs, (x) => x.loadavg)],
        ['matching sockets left after the kill', sum(ours, (x) => x.left), sum(theirs, (x) => x.left)],
        ['destroyed / gone / refused', sum(ours, (x) => `${x.counts.destroyed}/${x.counts.gone}/${x.counts.refused}`), 'n/a'],
        ['ratio (median): time / CPU time', `${ratio.toFixed(2)}× / ${(oc.median / tc.median).toFixed(2)}×`, '1×'],
      ],
      targets: [
        { what: `destroySockets / ss -K, ${size.toLocaleString('en-US')} sockets, half killed`, value: `${ratio.toFixed(2)}×`, target: '≤ 0.5×', ok: ratio <= 0.5 },
        { what: 'matching sockets left after destroySockets', value: String(Math.max(...ours.map((x) => x.left))), target: '0', ok: ours.every((x) => x.left === 0) },
      ],
      data: { size, filter: FILTER, ours, ss: theirs },
    };
  },
};
