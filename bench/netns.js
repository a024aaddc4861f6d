'use strict';
// Private network namespaces for the bench, and the cleanup that always runs.
//
// Every namespace and every child process the bench creates is registered here, and
// removed on normal exit, on an error, and on SIGINT/SIGTERM/SIGHUP, so nothing is left
// behind on the host. Names are `sdbench-<pid>-<tag>`, which lets a later run remove
// namespaces left by a run that was killed with SIGKILL.

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');

const PREFIX = 'sdbench-';
const namespaces = new Set();
const children = new Set();

/** Runs a command synchronously; throws with its stderr when it fails. */
function run(cmd, args, { timeout = 60_000, input } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout, input });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}: ${(r.stderr || '').trim()}`);
  }
  return r.stdout;
}

/** Runs a shell command inside the namespace and returns its stdout. */
function nsRun(ns, script, opts) {
  return run('ip', ['netns', 'exec', ns, 'sh', '-c', script], opts);
}

function nsName(tag) {
  return `${PREFIX}${process.pid}-${tag}`;
}

/** Tracks a child process so that cleanup kills it if it is still running. */
function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/**
 * Creates a namespace with loopback up. With `ehash` > 0 it gets a private TCP hash
 * table of that many buckets, so its dumps do not walk the host's shared table.
 *
 * net.ipv4.tcp_child_ehash_entries is read from the namespace of the process that
 * creates a new namespace. Setting it on the host would change host state, and
 * `ip netns exec OUTER ip netns add INNER` does not work: `ip netns exec` runs in a
 * private mount namespace, so the /run/netns/INNER bind mount never reaches the host
 * (the host sees an empty file). So: `unshare -n` makes a throwaway outer namespace,
 * sets the knob there, and `unshare -n` again creates the inner one; that process
 * prints "ready" and waits, and `ip netns attach` pins its namespace from the host.
 * The outer namespace disappears when the helper exits.
 */
async function createNamespace(tag, { ehash = 0 } = {}) {
  const name = nsName(tag);
  namespaces.add(name);
  if (ehash > 0) {
    const inner = `echo ready; exec cat >/dev/null`;
    const outer = `echo ${ehash} > /proc/sys/net/ipv4/tcp_child_ehash_entries && exec unshare -n sh -c '${inner}'`;
    const holder = track(spawn('unshare', ['-n', 'sh', '-c', outer], { stdio: ['pipe', 'pipe', 'inherit'] }));
    try {
      await waitForLine(holder, 'ready', 10_000);
      // sh, unshare and sh again all exec, so the pid is the one living in the inner namespace.
      run('ip', ['netns', 'attach', name, String(holder.pid)]);
    } finally {
      holder.stdin.end();
      if (holder.exitCode === null) holder.kill('SIGKILL');
    }
  } else {
    run('ip', ['netns', 'add', name]);
  }
  run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return name;
}

/** TCP hash table of the namespace: positive = private, negative = the host's shared one. */
function ehashEntries(ns) {
  return Number(nsRun(ns, 'cat /proc/sys/net/ipv4/tcp_ehash_entries').trim());
}

function deleteNamespace(name) {
  spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore', timeout: 30_000 });
  namespaces.delete(name);
}

function waitForLine(child, text, timeoutMs) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => done(new Error(`timed out waiting for "${text}"`)), timeoutMs);
    const onData = (d) => {
      buf += d;
      if (buf.includes(text)) done();
    };
    const onExit = (code) => done(new Error(`helper exited (${code}) before "${text}"`));
    function done(err) {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve();
    }
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Kills every tracked child and deletes every namespace; synchronous so it works in 'exit'. */
function cleanupAll() {
  for (const c of children) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  children.clear();
  for (const ns of [...namespaces]) deleteNamespace(ns);
}

/** Removes namespaces left by earlier bench runs whose process no longer exists. */
function removeStale() {
  let names = [];
  try {
    names = fs.readdirSync('/run/netns');
  } catch {
    return [];
  }
  const removed = [];
  for (const n of names) {
    const m = /^sdbench-(\d+)-/.exec(n);
    if (m && Number(m[1]) !== process.pid && !fs.existsSync(`/proc/${m[1]}`)) {
      deleteNamespace(n);
      removed.push(n);
    }
  }
  return removed;
}

let hooked = false;
/** Installs the exit/signal hooks once. */
function installCleanupHooks() {
  if (hooked) return;
  hooked = true;
  process.on('exit', cleanupAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      process.stderr.write(`\n${sig}: cleaning up\n`);
      cleanupAll();
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
}

module.exports = {
  createNamespace,
  deleteNamespace,
  ehashEntries,
  nsRun,
  run,
  track,
  cleanupAll,
  removeStale,
  installCleanupHooks,
  waitForLine,
};
