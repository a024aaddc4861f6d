'use strict';
// One load process, started by load.js as `ip netns exec NS node bench/load-worker.js JSON`.
// It listens on a few loopback ports, opens `pairs` connections to them (both ends live in
// this process, so each pair costs 2 fds; keep pairs below ~8,500 for the 20k fd limit),
// `pairs443` of them (spread evenly) to its listener on 127.0.44.<index+1>:443, the rest to
// the others; the 443 listener takes the place of one regular listener, so the socket count
// does not change. Its own address per worker, since only one socket may listen on an
// address:port.
// prints {"ready":…} once every connection is established on both sides, and then waits.
// A "close" line on stdin resets every connection (RST: no TIME_WAIT left behind) and
// exits; stdin closing (the parent died) exits too.

const net = require('node:net');

const cfg = JSON.parse(process.argv[2]);
const { index, pairs, pairs443 = 0, v6pairs = 0, listeners = 2, portBase = 20000, concurrency = 512 } = cfg;

const sockets = [];
const servers = [];
let connected = 0;
let accepted = 0;
const started = process.hrtime.bigint();

function send(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function fail(err) {
  send({ error: String(err && err.stack ? err.stack : err) });
  process.exit(1);
}

function keep(s) {
  s.on('error', () => {}); // a reset during teardown is expected
  sockets.push(s);
}

function listen(host, port) {
  return new Promise((resolve, reject) => {
    const srv = net.createServer((s) => {
      keep(s);
      accepted++;
      check();
    });
    srv.once('error', reject);
    // A deep backlog: up to `concurrency` handshakes are in flight at once.
    srv.listen({ host, port, backlog: 4096, ipv6Only: host === '::1' }, () => resolve(srv));
    servers.push(srv);
  });
}

// Each worker uses its own block of 127.<100+index>.x.y source addresses (at most 250
// connections per address), so bind-before-connect never runs out of ephemeral ports.
function sourceAddress(i) {
  const a = Math.floor(i / 250);
  return `127.${100 + index}.${Math.floor(a / 250)}.${(a % 250) + 1}`;
}

const targets = [];
let next = 0;
let inFlight = 0;

function pump() {
  while (inFlight < concurrency && next < targets.length) {
    const t = targets[next++];
    inFlight++;
    const s = net.connect(t, () => {
      inFlight--;
      connected++;
      check();
      pump();
    });
    s.once('error', fail); // before the connection is up, any error is a bench failure
    s.once('connect', () => s.removeListener('error', fail));
    keep(s);
  }
}

let reported = false;
function check() {
  const total = pairs + v6pairs;
  if (!reported && connected === total && accepted === total) {
    reported = true;
    send({ ready: true, index, pairs: total, ms: Number(process.hrtime.bigint() - started) / 1e6 });
  }
}

function teardown() {
  for (const s of sockets) s.resetAndDestroy();
  for (const srv of servers) srv.close();
  // Give the resets a moment to leave, then go.
  setTimeout(() => process.exit(0), 50);
}

async function main() {
  if (!(pairs443 >= 0 && pairs443 <= pairs)) throw new Error(`pairs443 ${pairs443} not in 0..${pairs}`);
  const ports = [];
  // With a 443 share, one of the `listeners` slots is the 443 listener.
  const regular = pairs443 > 0 ? Math.max(1, listeners - 1) : listeners;
  for (let j = 0; j < regular; j++) {
    const port = portBase + index * listeners + j;
    await listen('127.0.0.1', port);
    ports.push(port);
  }
  const host443 = `127.0.44.${index + 1}`;
  if (pairs443 > 0) await listen(host443, 443);
  let r = 0;
  for (let i = 0; i < pairs; i++) {
    // Pair i goes to 443 when floor((i+1)·k/n) steps up: exactly k of n, evenly spread.
    const to443 = Math.floor(((i + 1) * pairs443) / pairs) > Math.floor((i * pairs443) / pairs);
    const t = to443 ? { host: host443, port: 443 } : { host: '127.0.0.1', port: ports[r++ % ports.length] };
    targets.push({ ...t, localAddress: sourceAddress(i) });
  }
  if (v6pairs > 0) {
    const port6 = portBase - 1 - index;
    await listen('::1', port6);
    for (let i = 0; i < v6pairs; i++) targets.push({ host: '::1', port: port6, localAddress: '::1', family: 6 });
  }
  check();
  pump();
}

process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  if (d.includes('close')) teardown();
});
process.stdin.on('end', () => process.exit(0));
main().catch(fail);
