// @ts-check
// Walks /proc once on a worker thread and sends back, for every socket fd found,
// (inode, pid, fd[, tid]) in transferable typed arrays plus one command name per pid.
'use strict';
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');

/** @param {{ threads: boolean, procRoot: string }} req */
function scan(req) {
  const root = req.procRoot;
  let cap = 4096;
  let n = 0;
  let inodes = new Float64Array(cap);
  let pids = new Int32Array(cap);
  let fds = new Int32Array(cap);
  let tids = new Int32Array(cap);
  /** @type {Record<number, string>} */
  const commands = {};
  const grow = () => {
    cap *= 2;
    const i2 = new Float64Array(cap); i2.set(inodes); inodes = i2;
    const p2 = new Int32Array(cap); p2.set(pids); pids = p2;
    const f2 = new Int32Array(cap); f2.set(fds); fds = f2;
    const t2 = new Int32Array(cap); t2.set(tids); tids = t2;
  };
  /** @param {string} dir @param {number} pid @param {number} tid */
  const walkFds = (dir, pid, tid) => {
    let names;
    try { names = fs.readdirSync(dir); } catch { return false; }
    let found = false;
    for (const name of names) {
      let link;
      try { link = fs.readlinkSync(dir + '/' + name); } catch { continue; }
      // "socket:[12345]"
      if (link.charCodeAt(0) !== 115 || !link.startsWith('socket:[')) continue;
      if (n === cap) grow();
      inodes[n] = Number(link.slice(8, -1));
      pids[n] = pid;
      fds[n] = Number(name);
      tids[n] = tid;
      n++;
      found = true;
    }
    return found;
  };
  /** @type {string[]} */
  let entries;
  try { entries = fs.readdirSync(root); } catch { entries = []; }
  for (const entry of entries) {
    const c = entry.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(entry);
    let found = false;
    if (req.threads) {
      /** @type {string[]} */
      let tasks;
      try { tasks = fs.readdirSync(`${root}/${pid}/task`); } catch { tasks = []; }
      for (const t of tasks) if (walkFds(`${root}/${pid}/task/${t}/fd`, pid, Number(t))) found = true;
    } else {
      found = walkFds(`${root}/${pid}/fd`, pid, 0);
    }
    if (found) {
      try {
        // comm is the text between the first '(' and the last ')' of /proc/PID/stat.
        const stat = fs.readFileSync(`${root}/${pid}/stat`, 'latin1');
        commands[pid] = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      } catch {
        commands[pid] = '';
      }
    }
  }
  return { count: n, inodes: inodes.slice(0, n), pids: pids.slice(0, n), fds: fds.slice(0, n), tids: tids.slice(0, n), commands };
}

if (parentPort) {
  const port = parentPort;
  port.on('message', (req) => {
    try {
      const r = scan(req);
      port.postMessage({ id: req.id, result: r }, [r.inodes.buffer, r.pids.buffer, r.fds.buffer, r.tids.buffer]);
    } catch (err) {
      port.postMessage({ id: req.id, error: String(err && /** @type {Error} */ (err).stack || err) });
    }
  });
}

module.exports = { scan };
