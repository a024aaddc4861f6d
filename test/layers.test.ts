/**
 * The layers of lib/ point one way. Every `import`, `export … from`, `require('…')` and
 * `import('…')` of every lib/**\/*.ts is read (with the TypeScript parser, so examples in
 * comments do not count) and checked against the declared order:
 *
 *   errors, netlink                lowest
 *   diag                           above netlink (pure: no I/O)
 *   filter                         above diag (pure: no I/O)
 *   system, proc                   above diag (its types and tables), beside filter: the I/O next
 *                                  to the kernel dump (proc may use system)
 *   engine                         above diag, filter, system, proc
 *   api, monitor, prometheus, otel, exporter, cli   above everything; one of them may use
 *                                  another's public exports, never its `@internal` ones
 *   lib/index.ts, lib/tables.ts    the package's entry points: anything
 *
 * Pure layers import no `node:` module and nothing that opens sockets or files (the netlink
 * channel, the addon binding, namespace helpers), except as types.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

type Layer = 'errors' | 'netlink' | 'diag' | 'filter' | 'system' | 'proc' | 'engine' | 'consumer' | 'entry';

const CONSUMERS = new Set(['api', 'monitor', 'prometheus', 'otel', 'exporter', 'cli', 'top']);

/** What each layer may import (besides itself). */
const MAY_IMPORT: Readonly<Record<Layer, readonly Layer[]>> = {
  errors: [],
  netlink: ['errors'],
  diag: ['netlink', 'errors'],
  filter: ['diag', 'netlink', 'errors'],
  system: ['diag', 'netlink', 'errors'],
  proc: ['system', 'diag', 'netlink', 'errors'],
  engine: ['diag', 'filter', 'system', 'proc', 'netlink', 'errors'],
  consumer: ['engine', 'diag', 'filter', 'system', 'proc', 'netlink', 'errors'],
  entry: ['consumer', 'engine', 'diag', 'filter', 'system', 'proc', 'netlink', 'errors'],
};

/** Layers that must do no I/O. */
const PURE: ReadonlySet<Layer> = new Set(['diag', 'filter']);
/** Modules of lower layers that do I/O (a pure layer may import them as types only). */
const IO_MODULES = new Set(['lib/netlink/channel.ts', 'lib/netlink/binding.ts', 'lib/netlink/netns.ts']);

/**
 * Violations that exist today, each `file → import`. To be removed by the engine work: when
 * one is fixed, delete its line (the test fails while a listed violation no longer occurs).
 */
const ALLOWED_EXCEPTIONS: readonly string[] = [
  // The filter's default name resolver reads /etc/hosts, /etc/services and nl_protos.
  'lib/filter/values.ts → node:fs',
];

const ROOT = path.join(__dirname, '..');

/** The layer of a repository path under lib/, or undefined outside lib/. */
function layerOf(file: string): Layer | undefined {
  if (!file.startsWith('lib/')) return undefined;
  if (file === 'lib/errors.ts') return 'errors';
  const top = file.split('/')[1];
  if (top === 'index.ts' || top === 'tables.ts') return 'entry';
  if (CONSUMERS.has(top)) return 'consumer';
  if (['netlink', 'diag', 'filter', 'system', 'proc', 'engine'].includes(top)) return top as Layer;
  throw new Error(`${file}: no layer declared for lib/${top}`);
}

/** One import of a file. */
interface Import {
  /** The specifier as written. */
  specifier: string;
  /** True for `import type`, `export type … from`, `typeof import('…')`. */
  typeOnly: boolean;
  /** Names imported (undefined: the whole module, e.g. `import * as`, `require`). */
  names?: string[];
}

/** The imports of a TypeScript source text. */
function importsOf(fileName: string, text: string): Import[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const out: Import[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      let names: string[] | undefined;
      let typeOnly = clause?.isTypeOnly ?? false;
      if (clause?.namedBindings && ts.isNamedImports(clause.namedBindings)) {
        const elements = clause.namedBindings.elements;
        names = elements.map((e) => (e.propertyName ?? e.name).text);
        if (!typeOnly && elements.length > 0 && elements.every((e) => e.isTypeOnly) && clause.name === undefined) typeOnly = true;
      }
      out.push({ specifier: node.moduleSpecifier.text, typeOnly, names });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const names = node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause.elements.map((e) => (e.propertyName ?? e.name).text) : undefined;
      out.push({ specifier: node.moduleSpecifier.text, typeOnly: node.isTypeOnly, names });
    } else if (ts.isCallExpression(node) && node.arguments.length === 1 && ts.isStringLiteral(node.arguments[0])) {
      const callee = node.expression;
      if ((ts.isIdentifier(callee) && callee.text === 'require') || callee.kind === ts.SyntaxKind.ImportKeyword) {
        out.push({ specifier: node.arguments[0].text, typeOnly: false });
      }
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      out.push({ specifier: node.argument.literal.text, typeOnly: true });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** Names a file exports with an `@internal` TSDoc tag. */
function internalExports(fileName: string, text: string): Set<string> {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const out = new Set<string>();
  for (const st of sf.statements) {
    const exported = ts.canHaveModifiers(st) && (ts.getModifiers(st) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
    if (!exported) continue;
    const internal = ts.getJSDocTags(st).some((t) => t.tagName.text === 'internal');
    if (!internal) continue;
    if (ts.isVariableStatement(st)) {
      for (const d of st.declarationList.declarations) if (ts.isIdentifier(d.name)) out.add(d.name.text);
    } else if ((ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st) || ts.isInterfaceDeclaration(st) || ts.isTypeAliasDeclaration(st) || ts.isEnumDeclaration(st)) && st.name) {
      out.add(st.name.text);
    }
  }
  return out;
}

/** Resolves a relative specifier of `from` to a repository path (`lib/x/y.ts`), or undefined when it leaves the sources. */
function resolve(from: string, specifier: string, exists: (p: string) => boolean): string | undefined {
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
  for (const candidate of [`${base}.ts`, `${base}/index.ts`, base]) if (exists(candidate)) return candidate;
  return undefined;
}

/** The layer violations of a set of sources (repository path → text), each `file → import`. */
function layerViolations(files: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  const internalCache = new Map<string, Set<string>>();
  const internals = (file: string): Set<string> => {
    let s = internalCache.get(file);
    if (s === undefined) internalCache.set(file, (s = internalExports(file, files.get(file) ?? '')));
    return s;
  };
  for (const [file, text] of files) {
    const layer = layerOf(file);
    if (layer === undefined) continue;
    for (const imp of importsOf(file, text)) {
      if (imp.specifier.startsWith('node:')) {
        if (PURE.has(layer) && !imp.typeOnly) out.push(`${file} → ${imp.specifier}`);
        continue;
      }
      if (!imp.specifier.startsWith('.')) continue; // packages (prom-client, …)
      const target = resolve(file, imp.specifier, (p) => files.has(p));
      const targetLayer = target === undefined ? undefined : layerOf(target);
      if (target === undefined || targetLayer === undefined) continue; // package.json and the like
      if (PURE.has(layer) && IO_MODULES.has(target) && !imp.typeOnly) {
        out.push(`${file} → ${target}`);
        continue;
      }
      if (targetLayer === layer) {
        // Within the consumers: another consumer's public exports only.
        const sameGroup = layer !== 'consumer' || file.split('/')[1] === target.split('/')[1];
        if (!sameGroup) {
          const hidden = (imp.names ?? []).filter((n) => internals(target).has(n));
          if (hidden.length > 0) out.push(`${file} → ${target} (@internal ${hidden.join(', ')})`);
        }
        continue;
      }
      if (!MAY_IMPORT[layer].includes(targetLayer)) out.push(`${file} → ${target}`);
    }
  }
  return out.sort();
}

/** Every lib/**\/*.ts of the repository, by repository path. */
function libSources(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.ts')) out.set(rel, fs.readFileSync(path.join(ROOT, rel), 'utf8'));
    }
  };
  walk('lib');
  return out;
}

describe('layers point one way', () => {
  test('every import of lib/ follows the declared order, but for the listed exceptions', () => {
    const found = layerViolations(libSources());
    const unexpected = found.filter((v) => !ALLOWED_EXCEPTIONS.includes(v));
    const fixed = ALLOWED_EXCEPTIONS.filter((v) => !found.includes(v));
    expect({ unexpected, fixed }).toEqual({ unexpected: [], fixed: [] });
  });

  test('the checker sees each kind of violation', () => {
    const files = new Map<string, string>([
      ['lib/errors.ts', 'export class E {}'],
      ['lib/netlink/channel.ts', "import { readFileSync } from 'node:fs';\nexport type MessageDecoder = number;\nexport class Channel {}"],
      ['lib/diag/a.ts', "import type { MessageDecoder } from '../netlink/channel';\nimport { Channel } from '../netlink/channel';\n// import { x } from '../api/list';\nexport const a = 1;"],
      ['lib/diag/b.ts', "import type { L } from '../api/list';\nexport const b = 1;"],
      ['lib/filter/f.ts', "import { a } from '../diag/a';\nconst fs = require('node:fs');\nexport { b } from '../system/s';"],
      ['lib/system/s.ts', "import { p } from '../proc/p';\nexport type T = typeof import('node:child_process');\nexport const b = 2;"],
      ['lib/proc/p.ts', "import { b } from '../system/s';\nexport const p = 1;"],
      ['lib/api/list.ts', '/** @internal For the command. */\nexport function openChannel() {}\n/** Public. */\nexport function streamSockets() {}\nexport type L = 1;'],
      ['lib/cli/main.ts', "import { streamSockets, openChannel } from '../api/list';\nimport { x } from './other';"],
      ['lib/index.ts', "export * from './cli/main';"],
    ]);
    expect(layerViolations(files)).toEqual([
      'lib/cli/main.ts → lib/api/list.ts (@internal openChannel)',
      'lib/diag/a.ts → lib/netlink/channel.ts',
      'lib/diag/b.ts → lib/api/list.ts',
      'lib/filter/f.ts → lib/system/s.ts',
      'lib/filter/f.ts → node:fs',
      'lib/system/s.ts → lib/proc/p.ts',
    ]);
  });
});
