/** TSDoc on every export: TypeDoc treats a missing comment or a broken link as an error. */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

test('npm run docs builds the API documentation without a warning', () => {
  const root = path.join(__dirname, '..');
  const r = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--emit', 'none'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  const out = `${r.stdout}${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, '');
  expect(out).not.toMatch(/\[warning\]|\[error\]/);
  expect(r.status).toBe(0);
}, 150_000);
