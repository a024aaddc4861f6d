/**
 * recordSockets / replay: a recording replays to the sockets a listing gives; a file cut
 * anywhere (a crash mid-write) replays up to its last whole record; rotation; bad input.
 */
import { mkdtempSync, rmSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { recordSockets, replay, recordedFiles, ReplayedDump, RECORD_KIND } from '../lib/monitor/record';
import { listSockets } from '../lib/api/list';
import { DecodeError } from '../lib/errors';
import { createNetns, describeRoot, Netns, Population } from './helpers/netns';
import { expectSameSockets } from './helpers/same-sockets';

async function all(files: string | string[]): Promise<{ dumps: ReplayedDump[]; truncated: string[] }> {
  const r = replay(files);
  const dumps: ReplayedDump[] = [];
  for await (const d of r) dumps.push(d);
  return { dumps, truncated: r.stats.truncatedFiles };
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sd-rec-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('replay without a kernel', () => {
  test('what is not a recording is a DecodeError; a missing file is ENOENT; bad options throw at once', async () => {
    const notGzip = path.join(dir, 'plain');
    writeFileSync(notGzip, 'hello, this is not gzip');
    await expect(all(notGzip)).rejects.toBeInstanceOf(DecodeError);
    const otherGzip = path.join(dir, 'other.gz');
    writeFileSync(otherGzip, zlib.gzipSync(Buffer.alloc(100, 7)));
    await expect(all(otherGzip)).rejects.toThrow(/not a sockdiag recording/);
    await expect(all(path.join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(() => replay(42 as never)).toThrow(TypeError);
    expect(() => recordSockets({} as never)).toThrow(TypeError);
    expect(() => recordSockets({ path: 'x', interval: 1 })).toThrow(RangeError);
    expect(() => recordSockets({ path: 'x', rotate: { maxFiles: 0 } })).toThrow(RangeError);
    expect(() => recordSockets({ path: 'x', level: 10 })).toThrow(RangeError);
    expect(() => recordSockets({ path: 'x', processes: true } as never)).toThrow(TypeError);
  });

  test('an empty file replays to nothing', async () => {
    const empty = path.join(dir, 'empty');
    writeFileSync(empty, '');
    expect((await all(empty)).dumps).toEqual([]);
  });
});

describeRoot('record and replay on live sockets', () => {
  let ns: Netns;
  let pop: Population;
  beforeAll(async () => {
    ns = await createNetns();
    pop = await ns.spawnPopulation({ kinds: ['tcp', 'udp', 'unix'], extraTcpPairs: 100 });
  }, 120_000);
  afterAll(async () => {
    await pop?.stop();
    await ns?.destroy();
  });

  const protocols = ['tcp', 'udp', 'unix'] as const;

  test('record → replay gives the sockets a listing gives, with the time of each dump', async () => {
    const file = path.join(dir, 'roundtrip.sdrec');
    const t0 = Date.now();
    const rec = recordSockets({ path: file, netns: ns.name, protocols: [...protocols], interval: 30, dumps: 3 });
    const stats = await rec.finished;
    const listed = await listSockets({ netns: ns.name, protocols: [...protocols] });
    expect(stats).toMatchObject({ dumps: 3, files: 1 });
    expect(stats.bytesWritten).toBeLessThan(stats.rawBytes);
    const { dumps, truncated } = await all(file);
    expect(truncated).toEqual([]);
    expect(dumps).toHaveLength(3);
    for (let i = 0; i < dumps.length; i++) {
      const d = dumps[i];
      expect(d.at.getTime()).toBeGreaterThanOrEqual(t0 - 1);
      expect(d.at.getTime()).toBeLessThanOrEqual(Date.now());
      // Dumps keep a fixed rate (one late dump does not shift the ones after it).
      expect(d.at.getTime()).toBeGreaterThanOrEqual(dumps[0].at.getTime() + i * 30 - 2);
      expect(d.info).toMatchObject({ format: 'sockdiag-recording', netns: ns.name, options: { protocols: [...protocols] } });
      expectSameSockets(d.sockets, listed, pop);
    }
    expect(new Set(dumps[0].sockets.map((s) => s.protocol))).toEqual(new Set(protocols));
    expect(dumps[0].sockets.length).toBeGreaterThan(200);
  });

  test('a file cut anywhere replays up to its last whole record, without an error', async () => {
    const file = path.join(dir, 'cut.sdrec');
    await recordSockets({ path: file, netns: ns.name, protocols: ['tcp'], interval: 10, dumps: 4 }).finished;
    const whole = readFileSync(file);
    const full = await all(file);
    expect(full.dumps).toHaveLength(4);
    const cookies = full.dumps.map((d) => d.sockets.map((s) => s.cookie).join());
    const counts = new Set<number>();
    const cutFile = path.join(dir, 'cut-part.sdrec');
    let last = 0;
    const step = Math.max(1, Math.floor(whole.length / 400));
    for (let cut = 0; cut <= whole.length; cut += cut < 64 || whole.length - cut < 64 ? 1 : step) {
      writeFileSync(cutFile, whole.subarray(0, cut));
      const part = await all(cutFile);
      // A prefix of the file is a prefix of its records.
      expect(part.dumps.map((d) => d.sockets.map((s) => s.cookie).join())).toEqual(cookies.slice(0, part.dumps.length));
      expect(part.dumps.length).toBeGreaterThanOrEqual(last);
      last = part.dumps.length;
      counts.add(part.dumps.length);
      if (cut === whole.length) expect(part.truncated).toEqual([]);
    }
    // Cuts landed inside every record, and the whole file gives all four.
    expect([...counts].sort()).toEqual([0, 1, 2, 3, 4]);
  }, 60_000);

  test('rotation keeps maxFiles files of whole dumps; a new recording rotates the old file away', async () => {
    const file = path.join(dir, 'rot.sdrec');
    const first = await recordSockets({ path: file, netns: ns.name, protocols: ['tcp'], interval: 10, dumps: 1 }).finished;
    expect(first.files).toBe(1);
    const firstAt = (await all(file)).dumps[0].at.getTime();
    const stats = await recordSockets({ path: file, netns: ns.name, protocols: ['tcp'], interval: 10, dumps: 5, rotate: { maxBytes: 1, maxFiles: 3 } }).finished;
    expect(stats).toMatchObject({ dumps: 5, files: 5 });
    const files = recordedFiles(file);
    expect(files).toEqual([`${file}.2`, `${file}.1`, file]);
    expect(existsSync(`${file}.3`)).toBe(false);
    const { dumps } = await all(files);
    expect(dumps).toHaveLength(3);
    for (let i = 1; i < dumps.length; i++) expect(dumps[i].at.getTime()).toBeGreaterThan(dumps[i - 1].at.getTime());
    expect(dumps[0].at.getTime()).toBeGreaterThan(firstAt);
    for (const d of dumps) expect(d.info?.hostname).toBeDefined();
  });

  test('stop() and the signal end a recording after a whole record', async () => {
    const file = path.join(dir, 'stop.sdrec');
    const rec = recordSockets({ path: file, netns: ns.name, protocols: ['tcp'], interval: 20 });
    await new Promise((r) => setTimeout(r, 150));
    const stats = await rec.stop();
    expect(stats.dumps).toBeGreaterThan(0);
    const replayed = await all(file);
    expect(replayed.truncated).toEqual([]);
    expect(replayed.dumps).toHaveLength(stats.dumps);

    const ac = new AbortController();
    const file2 = path.join(dir, 'signal.sdrec');
    const rec2 = recordSockets({ path: file2, netns: ns.name, protocols: ['tcp'], interval: 20, signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    const stats2 = await rec2.finished;
    expect((await all(file2)).dumps).toHaveLength(stats2.dumps);

    const failed = recordSockets({ path: path.join(dir, 'fail.sdrec'), netns: 'sd-no-such-namespace' });
    await expect(failed.finished).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('the record header table matches the bytes on disk', async () => {
    const file = path.join(dir, 'hdr.sdrec');
    await recordSockets({ path: file, netns: ns.name, protocols: ['udp'], interval: 10, dumps: 1 }).finished;
    const plain = zlib.gunzipSync(readFileSync(file));
    expect(plain.readUInt32LE(0)).toBe(0x43524453);
    expect(plain.subarray(0, 4).toString('latin1')).toBe('SDRC');
    expect(plain.readUInt16LE(6)).toBe(RECORD_KIND.info);
    const infoLen = plain.readUInt32LE(16);
    const second = 24 + infoLen;
    expect(plain.readUInt16LE(second + 6)).toBe(RECORD_KIND.dump);
    expect(plain.length).toBe(second + 24 + plain.readUInt32LE(second + 16));
  });
});
