/**
 * A world-readable copy of the built library (dist/, node-gyp-build and the addon) for child
 * processes that drop privileges: they cannot read a checkout under a private directory.
 */
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, statSync, copyFileSync } from 'node:fs';
import * as path from 'node:path';
import { addonForChildren, processTmpDir } from './native';

const ROOT = path.join(__dirname, '..', '..');
let copy: string | undefined;

function makeReadable(p: string): void {
  const st = statSync(p);
  chmodSync(p, st.isDirectory() ? 0o755 : 0o644);
  if (st.isDirectory()) for (const f of readdirSync(p)) makeReadable(path.join(p, f));
}


/**
 * The directory of the copy (`dist/`, `node_modules/node-gyp-build/`, `build/Release/`, and the
 * test/fixtures/destroy-* scripts at its top), made
 * once per process under /tmp/sockdiag-lib-<pid> and removed when the process exits (or by a
 * later run once that pid is gone). Throws when dist/ has not been built (`npm run compile`).
 */
export function libForChildren(): string {
  if (copy !== undefined) return copy;
  const dist = path.join(ROOT, 'dist');
  if (!existsSync(path.join(dist, 'api', 'destroy.js'))) throw new Error(`${dist}/api/destroy.js is missing: build first (npm run compile)`);
  const dir = processTmpDir('sockdiag-lib');
  mkdirSync(path.join(dir, 'build', 'Release'), { recursive: true });
  cpSync(dist, path.join(dir, 'dist'), { recursive: true });
  cpSync(path.dirname(require.resolve('node-gyp-build/package.json')), path.join(dir, 'node_modules', 'node-gyp-build'), { recursive: true });
  copyFileSync(addonForChildren(), path.join(dir, 'build', 'Release', 'sockdiag.node'));
  const fixtures = path.join(ROOT, 'test', 'fixtures');
  for (const f of readdirSync(fixtures)) if (f.startsWith('destroy-')) copyFileSync(path.join(fixtures, f), path.join(dir, f));
  makeReadable(dir);
  copy = dir;
  return dir;
}
