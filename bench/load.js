'use strict';
// TCP load inside a bench namespace: N sockets as N/2 established loopback pairs,
// spread over worker processes because one process may hold at most 20,000 fds.
// 1% of the N sockets have destination port 443 (for the `dport = :443` filter rows).
//
// As a library: `const load = await startLoad(ns, 100000); …; await load.stop();`
// Standalone (measures setup time, then tears everything down):
//   node bench/load.js --sockets 100000 [--ehash 262144] [--hold 10]

const path = require('node:path');
const { spawn } = require('node:child_process');
const netns = require('./netns');

const PAIRS_PER_WORKER = 8000; // 16,000 fds + listeners + Node's own, under the 20k limit
const V6_PAIRS = 16; // a few ::1 pairs so both families are in every dump
// Share of the N sockets that `dport = :443` selects: the client ends of pairs that connect
// to a :443 listener (the server ends have sport 443, and listeners dport 0, so they do not
// match). 1% of sockets = 2% of pairs.
const MATCH_443 = 0.01;

/** Counts TCP sockets in the namespace from /proc/net/sockstat{,6} (cheap, unlike ss). */
function sockstat(ns) {
  const out = netns.nsRun(ns, 'cat /proc/net/sockstat /proc/net/sockstat6');
  const v4 = /^TCP: inuse (\d+)/m.exec(out);
  const v6 = /^TCP6: inuse (\d+)/m.exec(out);
  const tw = /^TCP: .* tw (\d+)/m.exec(out);
  return { tcp: Number(v4[1]), tcp6: Number(v6[1]), timeWait: Number(tw[1]) };
}

/** Sockets that `ss -tanH FILTER` prints in the namespace (one line each without -e/-i). */
function countSs(ns, filter) {
  return Number(netns.nsRun(ns, `ss -tanH ${filter} | wc -l`).trim());
}

/** Established sockets as ss sees them (slow at 100k, so called once per size). */
function countEstablished(ns) {
  return Number(netns.nsRun(ns, 'ss -tanH state established | wc -l').trim());
}

/**
 * Starts the load and resolves once every connection is established on both ends.
 * `sockets` counts both ends of each pair; listeners come on top.
 */
async function startLoad(ns, sockets, { timeoutMs = 180_000, match443 = MATCH_443 } = {}) {
  const pairs = Math.floor(sockets / 2);
  const v6 = Math.min(V6_PAIRS, Math.floor(pairs / 10));
  const v4 = pairs - v6;
  const total443 = Math.min(v4, Math.round(sockets * match443));
  const nWorkers = Math.max(1, Math.ceil(v4 / PAIRS_PER_WORKER));
  const t0 = process.hrtime.bigint();
  const workers = [];
  for (let i = 0; i < nWorkers; i++) {
    const share = Math.floor(v4 / nWorkers) + (i < v4 % nWorkers ? 1 : 0);
    const share443 = Math.floor(total443 / nWorkers) + (i < total443 % nWorkers ? 1 : 0);
    const cfg = { index: i, pairs: share, pairs443: Math.min(share, share443), v6pairs: i === 0 ? v6 : 0 };
    const child = netns.track(
      spawn('ip', ['netns', 'exec', ns, process.execPath, path.join(__dirname, 'load-worker.js'), JSON.stringify(cfg)], {
        stdio: ['pipe', 'pipe', 'inherit'],
      }),
    );
    workers.push(child);
  }

  const stop = async () => {
    // Ask nicely (RST every connection), then make sure.
    await Promise.all(
      workers.map(
        (w) =>
          new Promise((resolve) => {
            if (w.exitCode !== null || w.signalCode !== null) return resolve();
            const t = setTimeout(() => w.kill('SIGKILL'), 10_000);
            w.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
            w.stdin.write('close\n');
          }),
      ),
    );
  };

  try {
    await Promise.all(workers.map((w) => waitReady(w, timeoutMs)));
  } catch (err) {
    await stop();
    throw err;
  }
  const setupMs = Number(process.hrtime.bigint() - t0) / 1e6;
  return { ns, sockets: 2 * pairs, pairs, v6pairs: v6, pairs443: total443, workers: nWorkers, setupMs, stop };
}

function waitReady(child, timeoutMs) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => finish(new Error(`load worker ${child.pid} not ready after ${timeoutMs} ms`)), timeoutMs);
    const onExit = (code, sig) => finish(new Error(`load worker ${child.pid} exited (${code ?? sig}) before ready`));
    const onData = (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (msg.error) return finish(new Error(`load worker: ${msg.error}`));
        if (msg.ready) return finish(null, msg);
      }
    };
    function finish(err, msg) {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(msg);
    }
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', onData);
    child.once('exit', onExit);
  });
}

module.exports = { startLoad, sockstat, countEstablished, countSs };

if (require.main === module) {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : dflt;
  };
  const sockets = opt('sockets', 10000);
  const ehash = opt('ehash', 262144);
  const hold = opt('hold', 0);
  (async () => {
    netns.installCleanupHooks();
    netns.removeStale();
    const ns = await netns.createNamespace('load', { ehash });
    console.log(`namespace ${ns}, tcp_ehash_entries ${netns.ehashEntries(ns)}`);
    const load = await startLoad(ns, sockets);
    console.log(`${load.sockets} sockets (${load.pairs} pairs, ${load.v6pairs} over ::1, ${load.pairs443} to :443) in ${load.workers} workers: ${load.setupMs.toFixed(0)} ms`);
    console.log('sockstat:', JSON.stringify(sockstat(ns)), 'ss established:', countEstablished(ns), 'ss dport = :443:', countSs(ns, 'dport = :443'));
    if (hold > 0) await new Promise((r) => setTimeout(r, hold * 1000));
    const t = process.hrtime.bigint();
    await load.stop();
    console.log(`teardown ${(Number(process.hrtime.bigint() - t) / 1e6).toFixed(0)} ms; sockstat after:`, JSON.stringify(sockstat(ns)));
    netns.deleteNamespace(ns);
  })().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
