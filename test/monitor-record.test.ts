/**
 * recordSockets / replay: a recording replays to the sockets a listing gives; a file cut
 * anywhere (a crash mid-write) replays up to its last whole record; rotation, which moves
 * only the library's own files; bad input, damage counted or (strict) thrown, hostile
 * records. The damage fuzz test is monitor-record-fuzz.test.ts.
 */
import { mkdtempSync, mkdirSync, rmSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { recordSockets, replay, recordedFiles, encodeRecord, crc32js, ReplayedDump, RECORD_KIND, RECORD_VERSION } from '../lib/monitor/record';
import { listSockets } from '../lib/api/list';
import { DecodeError, RecordingError } from '../lib/errors';
import { createNetns, describeRoot, Netns, Population } from './helpers/netns';
import { expectSameSockets } from './helpers/same-sockets';
import { buildRecording, dumpBytes, dumpsOf, hostileMember, prng, replayAll } from './helpers/recording';

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

describe('replay: damage, limits and what is not a recording', () => {
  test('a directory or anything but a regular file is a RecordingError naming it, not a bare EISDIR', async () => {
    const sub = path.join(dir, 'a-directory');
    mkdirSync(sub);
    await expect(all(sub)).rejects.toThrow(RecordingError);
    await expect(all(sub)).rejects.toMatchObject({ file: sub, message: expect.stringContaining(`${sub} is a directory`) });
    await expect(all('/dev/null')).rejects.toMatchObject({ name: 'RecordingError', file: '/dev/null', message: expect.stringContaining('not a regular file') });
    // Also in the middle of a list: the files before it are replayed first.
    const good = path.join(dir, 'good-before-dir.sdrec');
    writeFileSync(good, (await buildRecording(1, 2, 3)).bytes);
    const r = await replayAll([good, sub]);
    expect(r.dumps).toHaveLength(2);
    expect(r.error).toBeInstanceOf(RecordingError);
  });

  test('options: strict is a boolean, maxRecordBytes a positive integer', () => {
    expect(() => replay('x', { strict: 1 as never })).toThrow(TypeError);
    expect(() => replay('x', { maxRecordBytes: 0 })).toThrow(RangeError);
    expect(() => replay('x', { maxRecordBytes: 1.5 })).toThrow(TypeError);
    expect(() => replay('x', null as never)).toThrow(TypeError);
  });

  test('a file of another format version is not a recording this sockdiag reads; foreign files are RecordingErrors in either mode', async () => {
    const v2 = path.join(dir, 'v2.sdrec');
    const member = await encodeRecord(RECORD_KIND.info, 0, [Buffer.from('{}')]);
    const plain = zlib.gunzipSync(member);
    plain.writeUInt16LE(RECORD_VERSION + 1, 4);
    writeFileSync(v2, zlib.gzipSync(plain));
    await expect(all(v2)).rejects.toThrow(/not a sockdiag recording \(record format version 2 is not supported/);
    const text = path.join(dir, 'text');
    writeFileSync(text, 'hello\n'.repeat(1000));
    for (const strict of [false, true]) {
      const r = await replayAll(text, { strict });
      expect(r.error).toBeInstanceOf(RecordingError);
      expect(r.error).toMatchObject({ file: text, offset: 0, end: 6000, message: expect.stringContaining('not a sockdiag recording') });
    }
    // A file holding only the start of a member is a recording cut short, not a foreign file.
    const start = path.join(dir, 'just-started.sdrec');
    writeFileSync(start, member.subarray(0, 15));
    const cut = await replayAll(start);
    expect(cut.error).toBeUndefined();
    expect(cut.stats.truncatedFiles).toEqual([start]);
  });

  test('record times: the latest a Date holds is read; one ms later is an invalid record, skipped and counted', async () => {
    const { bytes } = dumpBytes(2, prng(5), 1);
    const ok = await encodeRecord(RECORD_KIND.dump, 8.64e15, [bytes]);
    const late = await hostileMember({ length: 0, timeMs: 8_640_000_000_000_001n }, 0);
    const f = path.join(dir, 'times.sdrec');
    writeFileSync(f, Buffer.concat([(await buildRecording(2, 1, 2)).bytes, late, ok]));
    const r = await replay(f);
    const at: Date[] = [];
    for await (const d of r) at.push(d.at);
    expect(at.map((d) => d.getTime())).toEqual([1000, 8.64e15]);
    expect(r.stats.damage).toMatchObject([{ kind: 'invalid', reason: expect.stringContaining('8640000000000001') }]);
  });

  test('an intact record whose info or dump does not decode is an invalid record; the others come back', async () => {
    const rec = await buildRecording(3, 3, 2);
    const badInfo = await encodeRecord(RECORD_KIND.info, 0, [Buffer.from('{not json')]);
    const badDump = await encodeRecord(RECORD_KIND.dump, 5, [Buffer.from('not netlink at all')]);
    const f = path.join(dir, 'invalid.sdrec');
    const at = rec.members[2].end;
    writeFileSync(f, Buffer.concat([rec.bytes.subarray(0, at), badInfo, badDump, rec.bytes.subarray(at)]));
    const r = await replayAll(f);
    expect(r.error).toBeUndefined();
    expect(r.dumps).toEqual(dumpsOf(rec.members));
    expect(r.stats.damage).toMatchObject([
      { kind: 'invalid', offset: at, end: at + badInfo.length, reason: expect.stringContaining('info record') },
      { kind: 'invalid', offset: at + badInfo.length, end: at + badInfo.length + badDump.length, reason: expect.stringContaining('dump record') },
    ]);
    const strict = await replayAll(f, { strict: true });
    expect(strict.dumps).toEqual(dumpsOf(rec.members.slice(0, 3)));
    expect(strict.error).toMatchObject({ name: 'RecordingError', file: f, offset: at, end: at + badInfo.length });
  });

  test('stats.damage lists the first 100 damaged stretches and `damaged` counts them all', async () => {
    const rec = await buildRecording(4, 1, 1);
    const parts: Buffer[] = [];
    for (let i = 0; i < 150; i++) parts.push(rec.bytes, Buffer.from([0x42]));
    const f = path.join(dir, 'many-damages.sdrec');
    writeFileSync(f, Buffer.concat(parts));
    const r = await replayAll(f);
    expect(r.dumps).toHaveLength(150);
    expect(r.stats.damaged).toBe(150);
    expect(r.stats.damage).toHaveLength(100);
    expect(r.stats.damage[99]).toMatchObject({ offset: 100 * (rec.bytes.length + 1) - 1, end: 100 * (rec.bytes.length + 1), kind: 'corrupt' });
  });

  test('CRC-32: the table-driven fallback (Node before 20.15) gives gzip\'s check value and chains', () => {
    expect(crc32js(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32js(Buffer.alloc(0))).toBe(0);
    const member = zlib.gzipSync(Buffer.from('hello, hello, recording'));
    const data = zlib.gunzipSync(member);
    expect(crc32js(data.subarray(7), crc32js(data.subarray(0, 7)))).toBe(member.readUInt32LE(member.length - 8));
  });
});

describe('recordSockets moves and removes only its own files', () => {
  // A namespace that does not exist: were a check to let the recording start, its first dump
  // would fail (ENOENT) rather than list anything.
  const netns = 'sd-no-such-namespace';
  const expectRefused = async (p: string, named: string, opts: { rotate?: { maxFiles?: number } } = {}): Promise<void> => {
    const rec = recordSockets({ path: p, netns, interval: 10, dumps: 1, ...opts });
    await expect(rec.finished).rejects.toThrow(RecordingError);
    await expect(rec.finished).rejects.toMatchObject({ file: named, message: expect.stringContaining(named) });
  };

  test('a path that is a directory is refused and left where it is', async () => {
    const p = path.join(dir, 'scratch-folder');
    mkdirSync(p);
    writeFileSync(path.join(p, 'notes.txt'), 'mine');
    await expectRefused(p, p);
    expect(readFileSync(path.join(p, 'notes.txt'), 'utf8')).toBe('mine');
    expect(existsSync(`${p}.1`)).toBe(false);
  });

  test('a file that is not a recording is refused and left as it is (a gzip file too)', async () => {
    for (const [name, content] of [['notes.txt', Buffer.from('important\n')], ['data.gz', zlib.gzipSync(Buffer.alloc(64, 1))]] as const) {
      const p = path.join(dir, name);
      writeFileSync(p, content);
      await expectRefused(p, p);
      expect(readFileSync(p)).toEqual(content);
      expect(existsSync(`${p}.1`)).toBe(false);
    }
  });

  test('a rotation target that is not ours (PATH.N) is refused before anything moves', async () => {
    const p = path.join(dir, 'chain.sdrec');
    const ours = (await buildRecording(6, 1, 1)).bytes;
    writeFileSync(p, ours);
    writeFileSync(`${p}.1`, ours);
    writeFileSync(`${p}.2`, 'not a recording');
    await expectRefused(p, `${p}.2`, { rotate: { maxFiles: 3 } });
    mkdirSync(`${p}.3`);
    rmSync(`${p}.2`);
    await expectRefused(p, `${p}.3`, { rotate: { maxFiles: 4 } });
    expect(readFileSync(p)).toEqual(ours);
    expect(readFileSync(`${p}.1`)).toEqual(ours);
    expect(existsSync(`${p}.2`)).toBe(false);
    // recordedFiles lists recordings, not the directory named like one.
    expect(recordedFiles(p)).toEqual([`${p}.1`, p]);
  });

  test('an empty file at the path is not refused (a crash can leave one): the recording goes on to its dump', async () => {
    const p = path.join(dir, 'empty.sdrec');
    writeFileSync(p, '');
    await expect(recordSockets({ path: p, netns, interval: 10, dumps: 1 }).finished).rejects.toMatchObject({ code: 'ENOENT' });
    expect(readdirSync(dir).filter((f) => f.startsWith('empty.sdrec'))).toEqual(['empty.sdrec']);
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

  test('a directory at the path is refused, not renamed aside; a foreign file appearing at PATH.1 stops the rotation', async () => {
    const scratch = path.join(dir, 'scratch');
    mkdirSync(scratch);
    writeFileSync(path.join(scratch, 'keep'), 'x');
    const refused = recordSockets({ path: scratch, netns: ns.name, protocols: ['tcp'], interval: 10, dumps: 2 });
    await expect(refused.finished).rejects.toMatchObject({ name: 'RecordingError', file: scratch });
    expect(refused.stats.dumps).toBe(0);
    expect(readFileSync(path.join(scratch, 'keep'), 'utf8')).toBe('x');
    expect(existsSync(`${scratch}.1`)).toBe(false);

    const file = path.join(dir, 'midway.sdrec');
    // The second dump, a second later, rotates (maxBytes 1): PATH.1 is foreign by then.
    const rec = recordSockets({ path: file, netns: ns.name, protocols: ['tcp'], interval: 1000, dumps: 3, rotate: { maxBytes: 1, maxFiles: 3 } });
    for (let i = 0; rec.stats.dumps < 1 && i < 2000; i++) await new Promise((r) => setTimeout(r, 5));
    writeFileSync(`${file}.1`, 'someone else');
    await expect(rec.finished).rejects.toMatchObject({ name: 'RecordingError', file: `${file}.1` });
    expect(readFileSync(`${file}.1`, 'utf8')).toBe('someone else');
    expect((await all(file)).dumps).toHaveLength(1);
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
