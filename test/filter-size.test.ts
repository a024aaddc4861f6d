/**
 * Filters of any size: no input overflows the stack (it works or is a positioned syntax
 * error), and parsing is linear. Pure: no kernel, no privileges.
 */
import { parseFilter, FilterSyntaxError, filterToString } from '../lib';
import { compileFilter } from '../lib/filter/bytecode';
import { formatFilterError } from '../lib/filter/errors';
import { MAX_FILTER_DEPTH } from '../lib/filter/parse';
import { matchesFilter } from '../lib/filter/evaluate';

function orTerms(n: number): string {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(`dport = :${1 + (i % 60000)}`);
  return parts.join(' or ');
}

describe('filters of any size', () => {
  test.each([
    ['8,000 nested not', `${'not '.repeat(8000)}dport = :22`],
    ['5,000 nested parentheses', `${'( '.repeat(5000)}dport = :22${' )'.repeat(5000)}`],
  ])('%s: a FilterSyntaxError at the word that nests too deeply', (_what, text) => {
    let err: unknown;
    try {
      parseFilter(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FilterSyntaxError);
    const e = err as FilterSyntaxError;
    expect(e.message).toMatch(/nests too deeply/);
    // The position is that of the (MAX+1)th opener: each opener is 4 ("not ") or 2 ("( ") characters.
    expect(e.position).toBe(MAX_FILTER_DEPTH * (text.startsWith('not') ? 4 : 2));
    expect(e.exitStatus).toBe(255);
    // The rendered message stays a few short lines.
    expect(formatFilterError(e).length).toBeLessThan(600);
  });

  test(`${MAX_FILTER_DEPTH} levels work: parse, print, compile and evaluate`, () => {
    const text = `${'not '.repeat(MAX_FILTER_DEPTH - 1)}( dport = :22 )`;
    const f = parseFilter(text);
    expect(parseFilter(filterToString(f))).toEqual(f);
    expect(compileFilter(f.expr!, { family: 'inet' }).bytecode!.length).toBeGreaterThan(0);
  });

  test('40,000 terms parse in well under a second (linear), and 14,000 or terms compile and evaluate', () => {
    const text = orTerms(40000);
    // The fastest of three runs (other load only ever adds time).
    let ms = Infinity;
    let f = parseFilter(text);
    for (let k = 0; k < 3; k++) {
      const t0 = process.hrtime.bigint();
      f = parseFilter(text);
      ms = Math.min(ms, Number(process.hrtime.bigint() - t0) / 1e6);
    }
    expect(f.expr?.kind).toBe('or');
    expect((f.expr as { items: unknown[] }).items).toHaveLength(40000);
    expect(ms).toBeLessThan(1000);
    const g = parseFilter(orTerms(14000));
    // Too many conditions for a kernel program: the whole filter runs in userspace, no stack overflow.
    expect(compileFilter(g.expr!, { family: 'inet' })).toEqual({ bytecode: undefined, exact: false });
    expect(compileFilter(parseFilter(orTerms(2000)).expr!, { family: 'inet' }).bytecode).toBeDefined();
    const socket = { family: 'inet', protocol: 'tcp', remote: { address: '127.0.0.1', port: 14000 }, local: { address: '127.0.0.1', port: 1 } };
    expect(matchesFilter(g.expr!, socket as never)).toBe(true);
  });

  test('a 1 MiB word gives a short message', () => {
    const text = `dport = :${'9'.repeat(1 << 20)}`;
    let err: Error | undefined;
    try {
      parseFilter(text);
    } catch (e) {
      err = e as Error;
    }
    expect(err).toBeDefined();
    expect(err!.message.length).toBeLessThan(300);
  });
});
