/**
 * F20 (test/FAILURE-MODES.md): `sockdiag -tanoi | head -1` over 50,000 sockets exits quietly (status
 * 0, or 141 for SIGPIPE; no stack trace) with bounded memory. sockdiag renders in ss's
 * batches (about 5 MB of text), so the first write meets the closed pipe long before the
 * listing ends.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createNetns, describeRoot, Netns, runCommand } from './helpers/netns';

const MAIN = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { startLoad } = require('../bench/load.js') as { startLoad: (ns: string, n: number) => Promise<{ stop(): Promise<void>; sockets: number }> };

describeRoot('sockdiag on a huge listing', () => {
  let big: Netns | undefined;
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sd-cli-f20-'));
  });
  afterAll(async () => {
    await big?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test('F20: `sockdiag -tanoi | head -1` over 50,000 sockets exits quietly with bounded memory', async () => {
    big = await createNetns();
    const load = await startLoad(big.name, 50_000);
    try {
      const rssFile = path.join(dir, 'rss');
      const r = await runCommand('ip', [
        'netns', 'exec', big.name, 'bash', '-c',
        `/usr/bin/time -f %M -o ${rssFile} ${process.execPath} ${MAIN} -tanoi | head -1; echo "status=\${PIPESTATUS[0]}"`,
      ], { timeoutMs: 60_000 });
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/^State +Recv-Q Send-Q +Local Address:Port +Peer Address:Port +Process *\nstatus=(0|141)\n$/);
      const rssKb = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop());
      // eslint-disable-next-line no-console
      console.log(`F20: sockdiag -tanoi | head -1 over ${load.sockets} sockets: peak RSS ${(rssKb / 1024).toFixed(0)} MiB`);
      expect(rssKb).toBeLessThan(200 * 1024);
    } finally {
      await load.stop();
    }
  }, 120_000);
});
