'use strict';
// "The old way": what Node programs do without sockdiag — spawn `ss -tanie` and split its
// text into objects. Deliberately simple, like the code it stands for.

const { spawn } = require('node:child_process');

/** The shell line that runs a command in the namespace with cgroup2 visible (see DESIGN.md). */
function nsShell(cmd) {
  return `mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null; exec ${cmd}`;
}

/** Spawns `ss -tanie` in the namespace and resolves with its whole stdout. `onChunk` sees each chunk. */
function runSs(ns, onChunk) {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, 'sh', '-c', nsShell('ss -tanie')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    const chunks = [];
    let err = '';
    child.stdout.on('data', (c) => {
      chunks.push(c);
      if (onChunk) onChunk();
    });
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`ss -tanie exited ${code}: ${err.trim()}`));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** One object per socket: the columns, then `key:value` tokens as fields, bare words as flags. */
function parseSs(text) {
  const out = [];
  let cur = null;
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line === '') continue;
    const info = line.charCodeAt(0) === 9; // -i details come on a tab-indented line
    const tokens = line.trim().split(/\s+/);
    let k = 0;
    if (!info) {
      cur = { state: tokens[0], recvQ: Number(tokens[1]), sendQ: Number(tokens[2]), local: tokens[3], peer: tokens[4] };
      out.push(cur);
      k = 5;
    }
    for (; k < tokens.length; k++) {
      const t = tokens[k];
      const c = t.indexOf(':');
      if (c > 0) cur[t.slice(0, c)] = t.slice(c + 1);
      else cur[t] = true;
    }
  }
  return out;
}

module.exports = { nsShell, runSs, parseSs };
