/**
 * lib/ as plain JavaScript in a directory, for child processes that must measure themselves
 * without a TypeScript loader in the way (ts-jest compiles only inside jest). Each file is
 * transpiled on its own (as ts-jest's isolatedModules does); the addon is not needed until a
 * channel opens.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

/** Writes `lib/**\/*.js` under `outDir` and returns the path of that `lib`. */
export function transpileLib(outDir: string): string {
  const src = path.join(__dirname, '..', '..', 'lib');
  const out = path.join(outDir, 'lib');
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const from = path.join(dir, e.name);
      if (e.isDirectory()) walk(from);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
        const js = ts.transpileModule(readFileSync(from, 'utf8'), {
          fileName: from,
          compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
        }).outputText;
        const to = path.join(out, path.relative(src, from)).replace(/\.ts$/, '.js');
        mkdirSync(path.dirname(to), { recursive: true });
        writeFileSync(to, js);
      }
    }
  };
  walk(src);
  return out;
}
