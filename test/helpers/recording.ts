/**
 * Recordings made of bytes, without a kernel: records framed by the library's own
 * encodeRecord (one gzip member each), holding dumps of inet messages built from the decoder's
 * tables. Each member's place in the file is known, so tests can say exactly which records a
 * damaged file must still give and which bytes it must report.
 */
import * as zlib from 'node:zlib';
import { encodeRecord, recordHeader, replay, RECORD_KIND, RECORD_MAGIC, RECORD_VERSION, type ReplayOptions, type ReplayStats } from '../../lib/monitor/record';
import { encodeStruct } from '../../lib/netlink/struct';
import { encodeInetMessage } from '../../lib/diag/inet';
import { NLMSG, NLM_F } from '../../lib/netlink/message';

/** One member of a built recording. */
export interface BuiltMember {
  /** Byte offsets of the member in the file. */
  offset: number;
  end: number;
  kind: number;
  /** Record time (unique per dump: it names the record in a replay). */
  time: number;
  /** The cookies of the dump's sockets, in order ('' for the info record). */
  cookies: string;
  /** The record's payload length. */
  length: number;
}

/** A recording as bytes, with where each member lies. */
export interface BuiltRecording {
  bytes: Buffer;
  members: BuiltMember[];
}

/** A small deterministic PRNG (mulberry32), so a failing case can be rebuilt from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DONE = ((): Buffer => {
  const b = Buffer.alloc(20);
  b.writeUInt32LE(20, 0);
  b.writeUInt16LE(NLMSG.DONE, 4);
  return b;
})();

/** One dump's raw bytes: `n` inet sockets with random fields, then NLMSG_DONE. */
export function dumpBytes(n: number, rnd: () => number, firstCookie: number): { bytes: Buffer; cookies: string } {
  const parts: Buffer[] = [];
  const cookies: bigint[] = [];
  for (let i = 0; i < n; i++) {
    const cookie = BigInt(firstCookie + i);
    cookies.push(cookie);
    const r = (max: number): number => Math.floor(rnd() * max);
    parts.push(
      encodeInetMessage({
        msg: { family: 2, state: 1 + r(11), cookie, sport: r(65536), dport: r(65536), src: Buffer.from([10, 0, r(256), r(256)]), dst: Buffer.from([10, 1, r(256), r(256)]), rqueue: r(1e6), wqueue: r(1e6), uid: r(70000), inode: r(2 ** 31) },
        flags: NLM_F.MULTI,
      }),
    );
  }
  parts.push(DONE);
  return { bytes: Buffer.concat(parts), cookies: cookies.join() };
}

/** An info record then `dumps` dump records of `sockets` to `sockets + 2` sockets (by turns), times 1000, 2000, …; framed by encodeRecord. */
export async function buildRecording(seed: number, dumps: number, sockets: number): Promise<BuiltRecording> {
  const rnd = prng(seed);
  const members: BuiltMember[] = [];
  const parts: Buffer[] = [];
  let at = 0;
  const add = (bytes: Buffer, kind: number, time: number, cookies: string, length: number): void => {
    members.push({ offset: at, end: at + bytes.length, kind, time, cookies, length });
    parts.push(bytes);
    at += bytes.length;
  };
  const info = JSON.stringify({ format: 'sockdiag-recording', version: RECORD_VERSION, hostname: 'test', kernel: 'test', options: {}, started: new Date(0).toISOString(), writer: 'test' });
  add(await encodeRecord(RECORD_KIND.info, 0, [Buffer.from(info)]), RECORD_KIND.info, 0, '', Buffer.byteLength(info));
  for (let d = 0; d < dumps; d++) {
    const { bytes, cookies } = dumpBytes(sockets + (d % 3), rnd, 1000 * (d + 1));
    const time = 1000 * (d + 1);
    add(await encodeRecord(RECORD_KIND.dump, time, [bytes]), RECORD_KIND.dump, time, cookies, bytes.length);
  }
  return { bytes: Buffer.concat(parts), members };
}

/**
 * A gzip member holding a record header with any field values (a hostile or damaged writer's)
 * followed by `zeros` zero bytes, compressed as a stream (nothing of that size is in memory).
 */
export async function hostileMember(fields: { length: number; timeMs?: bigint; kind?: number }, zeros: number): Promise<Buffer> {
  const header = Buffer.alloc(recordHeader.size);
  encodeStruct(recordHeader, { magic: RECORD_MAGIC, version: RECORD_VERSION, kind: fields.kind ?? RECORD_KIND.dump, timeMs: fields.timeMs ?? 1n, length: fields.length, flags: 0 }, header, 0);
  const gz = zlib.createGzip({ level: 9 });
  const out: Buffer[] = [];
  gz.on('data', (c: Buffer) => out.push(c));
  const ended = new Promise((resolve, reject) => gz.on('end', resolve).on('error', reject));
  gz.write(header);
  const block = Buffer.alloc(Math.min(zeros, 16 * 2 ** 20));
  for (let left = zeros; left > 0; left -= block.length) {
    const chunk = left >= block.length ? block : block.subarray(0, left);
    if (!gz.write(chunk)) await new Promise((resolve) => gz.once('drain', resolve));
  }
  gz.end();
  await ended;
  return Buffer.concat(out);
}

/** What a replay of `files` gave: each dump's time and cookies, the counters, and the error it ended with. */
export async function replayAll(files: string | string[], opts?: ReplayOptions): Promise<{ dumps: Array<{ time: number; cookies: string }>; stats: ReplayStats; error: unknown }> {
  const r = replay(files, opts);
  const dumps: Array<{ time: number; cookies: string }> = [];
  let error: unknown;
  try {
    for await (const d of r) dumps.push({ time: d.at.getTime(), cookies: d.sockets.map((s) => s.cookie).join() });
  } catch (err) {
    error = err;
  }
  return { dumps, stats: r.stats, error };
}

/** The dumps of these members, as replayAll reports them. */
export function dumpsOf(members: readonly BuiltMember[]): Array<{ time: number; cookies: string }> {
  return members.filter((m) => m.kind === RECORD_KIND.dump).map((m) => ({ time: m.time, cookies: m.cookies }));
}
