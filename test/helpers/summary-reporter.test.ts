/**
 * The `N passed, N failed` reporter, run on a throwaway jest project in a child process.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const JEST = path.join(__dirname, '..', '..', 'node_modules', 'jest', 'bin', 'jest.js');
const REPORTER = path.join(__dirname, 'summary-reporter.js');

function runJest(files: Record<string, string>, env: Record<string, string | undefined>): { out: string; status: number | null } {
  const dir = mkdtempSync(path.join(tmpdir(), 'sd-reporter-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
    const config = { rootDir: dir, testMatch: ['<rootDir>/*.test.js'], reporters: ['default', REPORTER], watchman: false };
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
    // stdout and stderr into one file, in the order they were written
    const log = path.join(dir, 'out.log');
    const fd = openSync(log, 'w');
    let status: number | null;
    try {
      status = spawnSync(process.execPath, [JEST, '--config', JSON.stringify(config), '--ci'], {
        cwd: dir,
        env: childEnv,
        stdio: ['ignore', fd, fd],
        timeout: 60_000,
      }).status;
    } finally {
      closeSync(fd);
    }
    return { out: readFileSync(log, 'utf8'), status };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const lastLine = (s: string): string => s.trimEnd().split('\n').pop()!;

describe('summary reporter', () => {
  test('counts passed and failed tests, and a suite that could not run as one failure; printed last', () => {
    const r = runJest(
      {
        'a.test.js': "test('ok', () => {}); test('ok2', () => {}); test('bad', () => { throw new Error('x'); });",
        'b.test.js': "require('./does-not-exist');",
        'c.test.js': "afterAll(() => { throw new Error('hook'); }); test('fine', () => {});",
      },
      { CI: undefined },
    );
    expect(r.status).toBe(1);
    expect(lastLine(r.out)).toBe('3 passed, 3 failed');
    expect(r.out.match(/^\d+ passed, \d+ failed$/gm)).toHaveLength(1);
  }, 90_000);

  test('skipped tests: ignored normally, failures under CI=true (and jest exits non-zero)', () => {
    const files = { 'a.test.js': "test('ok', () => {}); test.skip('later', () => {}); test.todo('some day');" };
    const local = runJest(files, { CI: undefined });
    expect(local.status).toBe(0);
    expect(lastLine(local.out)).toBe('1 passed, 0 failed');
    const ci = runJest(files, { CI: 'true' });
    expect(ci.status).toBe(1);
    expect(lastLine(ci.out)).toBe('1 passed, 2 failed');
    expect(ci.out).toMatch(/CI=true forbids skipped tests; counted as failed:\n.*a\.test\.js: later\n.*a\.test\.js: some day/);
  }, 90_000);
});
