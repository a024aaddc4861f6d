/**
 * Every TypeScript block of the README is a complete module that compiles as written, under
 * `strict` with `module: nodenext`, against the built package as a consumer sees it
 * (`import … from 'sockdiag'` resolves through package.json's exports to dist/).
 */
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';

const ROOT = path.join(__dirname, '..');

function tsBlocks(markdown: string): Array<{ line: number; code: string }> {
  const out: Array<{ line: number; code: string }> = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '```ts') continue;
    const start = i + 1;
    let j = start;
    while (j < lines.length && lines[j].trim() !== '```') j++;
    out.push({ line: start + 1, code: lines.slice(start, j).join('\n') });
    i = j;
  }
  return out;
}

describe('README', () => {
  const blocks = tsBlocks(readFileSync(path.join(ROOT, 'README.md'), 'utf8'));

  test('has TypeScript examples', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(5);
  });

  test('every TypeScript block compiles as written (strict, nodenext, as a consumer of the package)', () => {
    expect(existsSync(path.join(ROOT, 'dist', 'index.d.ts'))).toBe(true);
    const dir = mkdtempSync(path.join(tmpdir(), 'sockdiag-readme-'));
    try {
      mkdirSync(path.join(dir, 'node_modules', '@types'), { recursive: true });
      symlinkSync(ROOT, path.join(dir, 'node_modules', 'sockdiag'));
      for (const dep of ['prom-client', '@opentelemetry/api', '@types/node']) {
        const target = path.join(ROOT, 'node_modules', dep);
        mkdirSync(path.dirname(path.join(dir, 'node_modules', dep)), { recursive: true });
        symlinkSync(target, path.join(dir, 'node_modules', dep));
      }
      writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'readme-examples', private: true, type: 'module' }));
      const files = blocks.map((b, i) => {
        const name = `block${i + 1}-line${b.line}.ts`;
        writeFileSync(path.join(dir, name), `${b.code}\nexport {};\n`);
        return name;
      });
      writeFileSync(
        path.join(dir, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, types: ['node'], skipLibCheck: false }, files }),
      );
      const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
      const r = spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8' });
      expect(r.stdout + r.stderr).toBe('');
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
