'use strict';
// One sample of this process's handles and memory, after the last iteration's garbage is
// collected: fds and threads must stay exactly flat over a run; RSS and heap are compared.

const fs = require('node:fs');

async function sampleProcess(i) {
  // Yield first so the last iteration's result is really garbage, then collect.
  await new Promise((resolve) => setImmediate(resolve));
  global.gc();
  global.gc();
  const m = process.memoryUsage();
  return {
    i,
    fds: fs.readdirSync('/proc/self/fd').length,
    threads: fs.readdirSync('/proc/self/task').length,
    rss: m.rss,
    heapUsed: m.heapUsed,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
  };
}

module.exports = { sampleProcess };
