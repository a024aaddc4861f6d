/**
 * `sockdiag --json`: the output validates against the documented schema
 * (schema/sockdiag-json.schema.json), with a small validator for the part of JSON Schema
 * the file uses; it lists the same sockets as the text output; bigints stay exact.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { createNetns, describeRoot, Netns, Population } from './helpers/netns';

const MAIN = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
const SCHEMA = JSON.parse(readFileSync(path.join(__dirname, '..', 'schema', 'sockdiag-json.schema.json'), 'utf8')) as Schema;

type Schema = { [key: string]: unknown };

/**
 * Errors of `value` against `schema` (JSON Schema 2020-12: type, enum, const, properties,
 * required, items, minimum, maximum, pattern, anyOf, allOf, if/then, $ref to #/$defs).
 */
function validate(value: unknown, schema: Schema, at = '$', root: Schema = schema): string[] {
  const errors: string[] = [];
  if (typeof schema.$ref === 'string') {
    const name = schema.$ref.replace('#/$defs/', '');
    return validate(value, (root.$defs as Record<string, Schema>)[name], at, root);
  }
  const typeOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v);
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    const t = typeOf(value);
    if (!types.some((x) => x === t || (x === 'number' && t === 'integer'))) errors.push(`${at}: ${t}, expected ${types.join('|')}`);
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errors.push(`${at}: ${JSON.stringify(value)} not in enum`);
  if ('const' in schema && schema.const !== value) errors.push(`${at}: ${JSON.stringify(value)} is not ${JSON.stringify(schema.const)}`);
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) errors.push(`${at}: ${value} < ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) errors.push(`${at}: ${value} > ${schema.maximum}`);
  }
  if (typeof value === 'string' && typeof schema.pattern === 'string' && !new RegExp(schema.pattern).test(value)) errors.push(`${at}: ${value} does not match ${schema.pattern}`);
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    for (const key of (schema.required as string[] | undefined) ?? []) if (!(key in obj)) errors.push(`${at}: missing ${key}`);
    for (const [key, sub] of Object.entries((schema.properties as Record<string, Schema> | undefined) ?? {})) {
      if (key in obj) errors.push(...validate(obj[key], sub, `${at}.${key}`, root));
    }
  }
  if (Array.isArray(value) && schema.items) value.forEach((v, i) => errors.push(...validate(v, schema.items as Schema, `${at}[${i}]`, root)));
  if (Array.isArray(schema.anyOf) && !(schema.anyOf as Schema[]).some((s) => validate(value, s, at, root).length === 0)) errors.push(`${at}: matches none of anyOf`);
  for (const s of (schema.allOf as Schema[] | undefined) ?? []) errors.push(...validate(value, s, at, root));
  if (schema.if && validate(value, schema.if as Schema, at, root).length === 0 && schema.then) errors.push(...validate(value, schema.then as Schema, at, root));
  return errors;
}

describe('the JSON schema validator', () => {
  test('catches what it must', () => {
    const sock = { protocol: 'tcp', family: 'inet', state: 'listening', inode: 1, cookie: 5, recvQ: 0, sendQ: 128, local: { address: '0.0.0.0', port: 80 }, remote: { address: '0.0.0.0', port: 0 }, interface: 0 };
    expect(validate([sock], SCHEMA)).toEqual([]);
    expect(validate([{ ...sock, cookie: '18446744073709551615' }], SCHEMA)).toEqual([]);
    expect(validate([{ ...sock, cookie: 'x1' }], SCHEMA)).not.toEqual([]);
    expect(validate([{ ...sock, state: 'LISTEN' }], SCHEMA)).not.toEqual([]);
    expect(validate([{ ...sock, local: undefined }], SCHEMA).join()).toMatch(/local/);
    expect(validate([{ ...sock, local: { address: '::', port: 70000 } }], SCHEMA).join()).toMatch(/70000/);
    expect(validate([{ ...sock, protocol: 'unix', family: 'unix' }], SCHEMA).join()).toMatch(/missing type/);
    expect(validate({}, SCHEMA)).not.toEqual([]);
  });
});

describeRoot('sockdiag --json', () => {
  let ns: Netns;
  let pop: Population;
  beforeAll(async () => {
    ns = await createNetns();
    pop = await ns.spawnPopulation({});
  }, 60_000);
  afterAll(async () => {
    await pop?.stop();
    await ns?.destroy();
  });

  test('--json -tan validates against the schema and lists the sockets -tan lists', async () => {
    const [json, text] = await Promise.all([ns.exec([process.execPath, MAIN, '--json', '-tan']), ns.exec([process.execPath, MAIN, '-tanH'])]);
    expect(json.stderr).toBe('');
    expect(json.status).toBe(0);
    const sockets = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    expect(validate(sockets, SCHEMA)).toEqual([]);
    const rows = text.stdout.split('\n').filter(Boolean);
    expect(sockets.length).toBe(rows.length);
    expect(sockets.length).toBeGreaterThan(10);
    // The population's listener is there, with its exact cookie.
    const listener = pop.byName('tcp4-listen');
    const found = sockets.find((s) => s.inode === listener.inode);
    expect(found).toBeDefined();
    expect(BigInt(found!.cookie as number | string)).toBe(listener.cookie);
    expect(new Set(sockets.map((s) => s.protocol))).toEqual(new Set(['tcp']));
  }, 60_000);

  test('--json=ndjson works with every table, a state and a filter; one valid socket per line', async () => {
    const socketSchema = (SCHEMA.$defs as Record<string, Schema>).socket;
    const r = await ns.exec([process.execPath, MAIN, '--json=ndjson', '-a']);
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n').filter(Boolean);
    const protocols = new Set<string>();
    for (const line of lines) {
      const s = JSON.parse(line) as Record<string, unknown>;
      expect(validate(s, socketSchema, '$', SCHEMA)).toEqual([]);
      protocols.add(s.protocol as string);
    }
    expect([...protocols].sort()).toEqual(['mptcp', 'netlink', 'packet', 'tcp', 'udp', 'unix']);
    const f = await ns.exec([process.execPath, MAIN, '--json=ndjson', '-t', 'state', 'listening', 'sport', '=', `:${pop.byName('tcp4-listen').local!.port}`]);
    const only = f.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(only.map((s) => s.inode)).toEqual([pop.byName('tcp4-listen').inode]);
    const none = await ns.exec([process.execPath, MAIN, '--json', '-t', 'dport', '=', ':1']);
    expect(JSON.parse(none.stdout)).toEqual([]);
  }, 60_000);
});
