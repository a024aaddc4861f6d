/**
 * Damaged recordings (issue 12): a recording built from the library's own framing
 * (encodeRecord), then cut at every offset, bit-flipped, appended to, given a corrupt member
 * in the middle or a hostile record header. Every whole record must come back, every damaged
 * stretch must be reported with its exact byte offsets, and a hostile file must not cost
 * memory: peak RSS is measured in a child process. Needs no kernel and no root.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as fc from 'fast-check';
import { RecordingError } from '../lib/errors';
import { buildRecording, dumpsOf, hostileMember, replayAll, type BuiltMember, type BuiltRecording } from './helpers/recording';
import { transpileLib } from './helpers/transpile-lib';

let dir: string;
let rec: BuiltRecording;
let n = 0;
const file = (): string => path.join(dir, `case-${n++}`);
const write = (bytes: Buffer): string => {
  const f = file();
  writeFileSync(f, bytes);
  return f;
};

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'sd-rec-fuzz-'));
  // An info record and 12 dumps of 8 sockets: about 4.5 KB, 13 members.
  rec = await buildRecording(12, 12, 8);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The members of `rec` shifted by `delta` bytes (after an insertion). */
const shifted = (ms: readonly BuiltMember[], delta: number): BuiltMember[] => ms.map((m) => ({ ...m, offset: m.offset + delta, end: m.end + delta }));

describe('a recording built from encodeRecord', () => {
  test('replays whole: every dump, no damage', async () => {
    expect(rec.bytes.length).toBeGreaterThan(3000);
    const r = await replayAll(write(rec.bytes));
    expect(r.error).toBeUndefined();
    expect(r.dumps).toEqual(dumpsOf(rec.members));
    expect(r.stats).toEqual({ dumps: 12, truncatedFiles: [], damage: [], damaged: 0 });
  });

  test('cut at every offset: the whole records before the cut, and the cut member reported as truncated where it starts', async () => {
    const ends = new Set([0, ...rec.members.map((m) => m.end)]);
    let truncations = 0;
    for (let cut = 0; cut <= rec.bytes.length; cut++) {
      const f = write(rec.bytes.subarray(0, cut));
      const r = await replayAll(f);
      expect(r.error).toBeUndefined();
      const whole = rec.members.filter((m) => m.end <= cut);
      expect(r.dumps).toEqual(dumpsOf(whole));
      if (ends.has(cut)) {
        expect(r.stats.damage).toEqual([]);
        expect(r.stats.truncatedFiles).toEqual([]);
      } else {
        const start = whole.length === 0 ? 0 : whole[whole.length - 1].end;
        expect(r.stats.damage).toEqual([{ file: f, offset: start, end: cut, kind: 'truncated', reason: expect.any(String) }]);
        expect(r.stats.truncatedFiles).toEqual([f]);
        truncations++;
        // Strictly, the same stretch is an error, after the same records.
        if (cut % 5 === 0) {
          const s = await replayAll(f, { strict: true });
          expect(s.dumps).toEqual(r.dumps);
          expect(s.error).toBeInstanceOf(RecordingError);
          expect(s.error).toMatchObject({ file: f, offset: start, end: cut });
        }
      }
      rmSync(f);
    }
    expect(truncations).toBe(rec.bytes.length + 1 - ends.size);
  }, 30_000);

  test('random bit flips cost only the records they hit, and each damaged stretch is exactly the members hit', async () => {
    const len = rec.bytes.length;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ at: fc.nat(len - 1), bit: fc.nat(7) }), { minLength: 1, maxLength: 4 }), async (flips) => {
        const bytes = Buffer.from(rec.bytes);
        for (const { at, bit } of flips) bytes[at] ^= 1 << bit;
        const f = write(bytes);
        const r = await replayAll(f);
        rmSync(f);
        expect(r.error).toBeUndefined();
        const hit = (m: BuiltMember): boolean => flips.some(({ at }) => at >= m.offset && at < m.end);
        // Each stretch covers whole members, all of them hit.
        const lost = new Set<BuiltMember>();
        for (const d of r.stats.damage) {
          const inside = rec.members.filter((m) => m.offset >= d.offset && m.end <= d.end);
          expect(inside.length).toBeGreaterThan(0);
          expect(d.offset).toBe(inside[0].offset);
          expect(d.end).toBe(inside[inside.length - 1].end);
          for (const m of inside) {
            expect(hit(m)).toBe(true);
            lost.add(m);
          }
        }
        // Everything else comes back as it was recorded (a flip in the gzip header's MTIME,
        // XFL or OS bytes, or in deflate's padding bits, changes nothing the reader uses).
        expect(r.dumps).toEqual(dumpsOf(rec.members.filter((m) => !lost.has(m))));
        expect(r.stats.damaged).toBe(r.stats.damage.length);
      }),
      { numRuns: 400, seed: 12 },
    );
  }, 30_000);

  test('appended bytes are one damaged stretch where they start; every record before them comes back', async () => {
    const len = rec.bytes.length;
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 200 }), async (extra) => {
        const f = write(Buffer.concat([rec.bytes, extra]));
        const r = await replayAll(f);
        rmSync(f);
        expect(r.error).toBeUndefined();
        expect(r.dumps).toEqual(dumpsOf(rec.members));
        expect(r.stats.damage).toEqual([{ file: f, offset: len, end: len + extra.length, kind: expect.stringMatching(/^(corrupt|truncated)$/), reason: expect.any(String) }]);
      }),
      { numRuns: 200, seed: 7 },
    );
    // The case: 7 bytes after 5 dumps gave 4.
    const five = rec.bytes.subarray(0, rec.members[5].end);
    const r = await replayAll(write(Buffer.concat([five, Buffer.from([1, 2, 3, 4, 5, 6, 7])])));
    expect(r.dumps).toHaveLength(5);
    expect(r.stats.damage).toMatchObject([{ offset: five.length, end: five.length + 7, kind: 'corrupt' }]);
  }, 30_000);

  test('a corrupt member in the middle: the reader resynchronises at the next member, every record after it comes back', async () => {
    const ms = rec.members;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: ms.length - 2 }), fc.uint8Array({ minLength: 1, maxLength: 600 }), fc.boolean(), async (k, junk, keepHeader) => {
        const m = ms[k];
        // Either garbage in place of the whole member, or a gzip header that promises one.
        const bad = keepHeader ? Buffer.concat([rec.bytes.subarray(m.offset, m.offset + 10), junk]) : Buffer.from(junk);
        const bytes = Buffer.concat([rec.bytes.subarray(0, m.offset), bad, rec.bytes.subarray(m.end)]);
        const f = write(bytes);
        const r = await replayAll(f);
        rmSync(f);
        expect(r.error).toBeUndefined();
        expect(r.dumps).toEqual(dumpsOf([...ms.slice(0, k), ...ms.slice(k + 1)]));
        expect(r.stats.damage).toEqual([{ file: f, offset: m.offset, end: m.offset + bad.length, kind: 'corrupt', reason: expect.any(String) }]);
      }),
      { numRuns: 200, seed: 3 },
    );
  }, 30_000);

  test('an oversized record header is damage decided on the header; the records after it come back', async () => {
    const ms = rec.members;
    const k = 4;
    const huge = await hostileMember({ length: 2 ** 31 }, 2 ** 20);
    const bytes = Buffer.concat([rec.bytes.subarray(0, ms[k].end), huge, rec.bytes.subarray(ms[k].end)]);
    const f = write(bytes);
    const r = await replayAll(f);
    expect(r.dumps).toEqual(dumpsOf(ms));
    expect(r.stats.damage).toEqual([{ file: f, offset: ms[k].end, end: ms[k].end + huge.length, kind: 'oversized', reason: expect.stringMatching(/claims 2147483648 bytes, more than maxRecordBytes \(268435456\)/) }]);
    const s = await replayAll(f, { strict: true });
    expect(s.dumps).toEqual(dumpsOf(ms.slice(0, k + 1)));
    expect(s.error).toMatchObject({ name: 'RecordingError', file: f, offset: ms[k].end, end: ms[k].end + huge.length });
    // The limit is the caller's: a record of exactly maxRecordBytes is read, one byte less is not.
    const whole = write(rec.bytes);
    const longest = Math.max(...ms.map((m) => m.length));
    expect((await replayAll(whole, { maxRecordBytes: longest })).stats.damage).toEqual([]);
    const over = ms.filter((m) => m.length === longest);
    const cut = await replayAll(whole, { maxRecordBytes: longest - 1 });
    expect(cut.dumps).toEqual(dumpsOf(ms.filter((m) => m.length < longest)));
    expect(cut.stats.damage.map((d) => [d.offset, d.end, d.kind])).toEqual(over.map((m) => [m.offset, m.end, 'oversized']));
  });
});

describe('memory on hostile recordings (child process, peak RSS from the kernel)', () => {
  let lib: string;
  let warm: string;
  beforeAll(() => {
    lib = transpileLib(path.join(dir, 'js'));
    warm = write(rec.bytes);
  });
  interface ChildReport {
    rssBefore: number;
    peak: number;
    dumps: number;
    invalidDates: number;
    damage: Array<{ kind: string; offset: number; end: number }>;
    error?: string;
  }
  const child = (f: string, opts?: object): ChildReport => {
    const args = [path.join(__dirname, 'fixtures', 'record-rss.js'), lib, warm, f, ...(opts ? [JSON.stringify(opts)] : [])];
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return JSON.parse(r.stdout) as ChildReport;
  };
  const MiB = 2 ** 20;
  const above = (r: ChildReport): string => `peak RSS ${((r.peak - r.rssBefore) / MiB).toFixed(1)} MiB above the start`;
  // What replay may add to a process beyond the record it assembles: a 64 KiB read window,
  // zlib's state and output chunks, V8's slack. The unbounded reader took 1.6 GB here.
  const SLACK = 16 * MiB;

  test('a 1.5 MB file whose record header claims 2 GiB, then gzipped zeros: damage, not memory', async () => {
    const ms = rec.members;
    const hostile = await hostileMember({ length: 2 ** 31 - 1 }, 1536 * MiB);
    const bytes = Buffer.concat([rec.bytes.subarray(0, ms[3].end), hostile, rec.bytes.subarray(ms[3].end)]);
    expect(bytes.length).toBeGreaterThan(1.5e6);
    const r = child(write(bytes));
    // eslint-disable-next-line no-console
    console.log(`2 GiB record header, then 1.5 GiB of zeros in ${(bytes.length / 1e6).toFixed(2)} MB: ${above(r)}`);
    expect(r.error).toBeUndefined();
    expect(r.dumps).toBe(12);
    expect(r.damage).toMatchObject([{ kind: 'oversized', offset: ms[3].end, end: ms[3].end + hostile.length }]);
    expect(r.peak - r.rssBefore).toBeLessThan(SLACK);
  }, 30_000);

  test('a header within maxRecordBytes followed by far more zeros: no more than maxRecordBytes is buffered', async () => {
    const limit = 32 * MiB;
    const hostile = await hostileMember({ length: limit }, 512 * MiB);
    const r = child(write(Buffer.concat([rec.bytes, hostile])), { maxRecordBytes: limit });
    // eslint-disable-next-line no-console
    console.log(`${limit / MiB} MiB record header (maxRecordBytes), then 512 MiB of zeros: ${above(r)}`);
    expect(r.dumps).toBe(12);
    expect(r.damage).toMatchObject([{ kind: 'corrupt', offset: rec.bytes.length }]);
    expect(r.peak - r.rssBefore).toBeLessThan(limit + SLACK);
  }, 30_000);

  test('a record time of 2^64-1 is an invalid record, never an Invalid Date', async () => {
    const bad = await hostileMember({ length: 0, timeMs: 2n ** 64n - 1n }, 0);
    const r = child(write(Buffer.concat([rec.bytes, bad, rec.bytes.subarray(rec.members[1].offset)])));
    expect(r.invalidDates).toBe(0);
    expect(r.dumps).toBe(24);
    expect(r.damage).toMatchObject([{ kind: 'invalid', offset: rec.bytes.length, end: rec.bytes.length + bad.length }]);
  });
});
