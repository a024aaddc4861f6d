/**
 * Record and replay: `recordSockets()` appends each dump's raw netlink bytes, with a
 * timestamp, to a rotating gzip file; `replay()` reads such files back into the same
 * {@link Socket} objects a listing gives, later and on any machine. Nothing is lost to
 * parsing: the file holds what the kernel sent (like m-lab/tcp-info's archives), and a
 * newer sockdiag decodes more of the same bytes.
 *
 * File format: a series of gzip members, one per record, so each record is written with one
 * `write()` and a file cut anywhere (a crash mid-write) still decodes up to its last whole
 * record. Inside each member, one record: a {@link recordHeader} then `length` payload bytes.
 * The first record of a file is a `info` record (JSON: where and how it was recorded); each
 * `dump` record holds one listing's datagrams exactly as {@link rawDump} yields them, which
 * {@link decodeDump} reads.
 * @module
 */
import { open, rename, rm, stat, FileHandle } from 'node:fs/promises';
import { createReadStream, existsSync } from 'node:fs';
import * as os from 'node:os';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { defineStruct, encodeStruct, structDecoder } from '../netlink/struct';
import { AbortError, DecodeError } from '../errors';
import type { ListOptions } from '../api/options';
import type { SocketList } from '../api/list';
import { decodeDump, DecodeDumpOptions } from '../api/raw';
import { rawDatagrams, newEngineStats } from '../engine';
import { engineOf, runOptionsOf, type EngineChannel } from '../engine';

/** The header of every record in a recording (little-endian, 24 bytes). */
export const recordHeader = defineStruct('sockdiag_record', 24, [
  { name: 'magic', orig: 'magic', type: 'u32', offset: 0 },
  { name: 'version', orig: 'version', type: 'u16', offset: 4 },
  { name: 'kind', orig: 'kind', type: 'u16', offset: 6 },
  { name: 'timeMs', orig: 'time_ms', type: 'u64', offset: 8 },
  { name: 'length', orig: 'length', type: 'u32', offset: 16 },
  { name: 'flags', orig: 'flags', type: 'u32', offset: 20 },
] as const);

/** `magic` of every record: "SDRC" as a little-endian u32. */
export const RECORD_MAGIC = 0x43524453;
/** The format version this library writes and reads. */
export const RECORD_VERSION = 1;
/** Record kinds: the JSON description that starts each file, and one dump. */
export const RECORD_KIND = { info: 1, dump: 2 } as const;
/** Record flags: the kernel flagged the dump as interrupted (NLM_F_DUMP_INTR). */
export const RECORD_FLAG = { interrupted: 1 } as const;

const HEADER_SIZE = recordHeader.size;
const decodeHeader = structDecoder(recordHeader);
// A record longer than this is not one of ours (a dump of a million sockets is ~700 MB).
const MAX_RECORD = 0x7fffffff;
const gzip = promisify(zlib.gzip);

/** What the `info` record at the start of each file says. */
export interface RecordingInfo {
  /** Always `'sockdiag-recording'`. */
  format: string;
  /** Format version. */
  version: number;
  /** `os.hostname()` of the recording machine. */
  hostname: string;
  /** `os.release()` there (the kernel decides which attributes exist). */
  kernel: string;
  /** The namespace recorded, as given. */
  netns?: string | number;
  /** What was dumped: the listing options (without the signal). */
  options: Record<string, unknown>;
  /** When this file was started (ISO 8601). */
  started: string;
  /** The sockdiag version that wrote it. */
  writer: string;
}

/** Options of {@link recordSockets}. */
export interface RecordOptions extends Omit<ListOptions, 'processes' | 'signal'> {
  /** The file to write. An existing file there is rotated away first (a new recording starts a new file). */
  path: string;
  /** Milliseconds from the start of one dump to the start of the next (default 1000, at least 10). */
  interval?: number;
  /**
   * Rotation: when the file would exceed `maxBytes` (compressed; default 64 MiB), it is renamed
   * `PATH.1` (older ones shift to `.2`, …) and a new one started; at most `maxFiles` files
   * (default 5, the current one included) are kept.
   */
  rotate?: { maxBytes?: number; maxFiles?: number };
  /** Stop after this many dumps (default: until stopped). */
  dumps?: number;
  /** gzip level, 1 (fastest) to 9 (smallest); default 6. */
  level?: number;
  /** Aborting stops the recording like {@link Recording.stop}: the file ends with the last whole record. */
  signal?: AbortSignal;
}

/** Counters of a recording. */
export interface RecordStats {
  /** Dump records written. */
  dumps: number;
  /** Raw dump bytes recorded (before compression). */
  rawBytes: number;
  /** Bytes written to files (compressed, every file). */
  bytesWritten: number;
  /** Files started (1 + rotations). */
  files: number;
  /** Dumps the kernel flagged as interrupted. */
  interruptedDumps: number;
}

/** A running recording. */
export interface Recording {
  /** Counters, updated after each record. */
  readonly stats: RecordStats;
  /** Resolves with the final counters once the recording has stopped; rejects if a dump or a write failed. */
  readonly finished: Promise<RecordStats>;
  /** Stops after the record being written (a dump in flight is dropped); resolves like {@link finished}. */
  stop(): Promise<RecordStats>;
}

function frame(kind: number, timeMs: number, flags: number, parts: readonly Buffer[]): Buffer {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = Buffer.allocUnsafe(HEADER_SIZE + length);
  encodeStruct(recordHeader, { magic: RECORD_MAGIC, version: RECORD_VERSION, kind, timeMs: BigInt(timeMs), length, flags }, out, 0);
  let at = HEADER_SIZE;
  for (const p of parts) at += p.copy(out, at);
  return out;
}

/** The files of a rotated recording that exist, oldest first: `PATH.N`, …, `PATH.1`, `PATH`. */
export function recordedFiles(path: string, maxFiles = 100): string[] {
  const out: string[] = [];
  for (let i = maxFiles - 1; i >= 1; i--) if (existsSync(`${path}.${i}`)) out.push(`${path}.${i}`);
  if (existsSync(path)) out.push(path);
  return out;
}

/** Shifts `PATH` → `PATH.1` → … keeping `maxFiles` files in all (the one about to start included). */
async function rotateFiles(path: string, maxFiles: number): Promise<void> {
  if (maxFiles <= 1) {
    await rm(path, { force: true });
    return;
  }
  await rm(`${path}.${maxFiles - 1}`, { force: true });
  for (let i = maxFiles - 2; i >= 1; i--) if (existsSync(`${path}.${i}`)) await rename(`${path}.${i}`, `${path}.${i + 1}`);
  if (existsSync(path)) await rename(path, `${path}.1`);
}

function positiveInteger(v: unknown, name: string, min: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${name} must be an integer, got ${String(v)}`);
  if (v < min) throw new RangeError(`${name} must be at least ${min}, got ${v}`);
  return v;
}

class Recorder implements Recording {
  readonly stats: RecordStats = { dumps: 0, rawBytes: 0, bytesWritten: 0, files: 0, interruptedDumps: 0 };
  readonly finished: Promise<RecordStats>;
  readonly #path: string;
  readonly #list: ListOptions;
  readonly #interval: number;
  readonly #maxBytes: number;
  readonly #maxFiles: number;
  readonly #dumps: number | undefined;
  readonly #level: number;
  readonly #signal: AbortSignal | undefined;
  readonly #stop = new AbortController();
  readonly #info: RecordingInfo;
  #file: FileHandle | undefined;
  #size = 0;
  #fileDumps = 0;
  #channel: EngineChannel | undefined;
  #wake: (() => void) | undefined;
  readonly #onAbort = (): void => void this.stop();

  constructor(opts: RecordOptions) {
    if (opts === null || typeof opts !== 'object') throw new TypeError('options must be an object');
    if (typeof opts.path !== 'string' || opts.path === '') throw new TypeError('path must be a file name');
    if ((opts as ListOptions).processes !== undefined && (opts as ListOptions).processes !== false) throw new TypeError('recordings hold what the kernel sent: the processes option cannot be recorded');
    const interval = opts.interval ?? 1000;
    if (typeof interval !== 'number' || !Number.isFinite(interval)) throw new TypeError(`interval must be a number of milliseconds, got ${String(interval)}`);
    if (interval < 10) throw new RangeError(`interval must be at least 10 ms, got ${interval}`);
    const rotate = opts.rotate ?? {};
    if (rotate === null || typeof rotate !== 'object') throw new TypeError('rotate must be an object');
    this.#maxBytes = positiveInteger(rotate.maxBytes, 'rotate.maxBytes', 1, 64 * 2 ** 20);
    this.#maxFiles = positiveInteger(rotate.maxFiles, 'rotate.maxFiles', 1, 5);
    this.#dumps = opts.dumps === undefined ? undefined : positiveInteger(opts.dumps, 'dumps', 1, 1);
    this.#level = positiveInteger(opts.level, 'level', 1, 6);
    if (this.#level > 9) throw new RangeError(`level must be from 1 to 9, got ${this.#level}`);
    const signal = opts.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal');
    const { path, interval: _i, rotate: _r, dumps: _d, level: _l, signal: _s, ...list } = opts;
    this.#path = path;
    this.#interval = interval;
    this.#list = { ...list, signal: this.#stop.signal };
    this.#signal = signal;
    this.#info = {
      format: 'sockdiag-recording',
      version: RECORD_VERSION,
      hostname: os.hostname(),
      kernel: os.release(),
      ...(list.netns === undefined ? {} : { netns: list.netns }),
      options: JSON.parse(JSON.stringify(list, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))) as Record<string, unknown>,
      started: '',
      writer: writerVersion(),
    };
    if (signal?.aborted) this.#stop.abort();
    else signal?.addEventListener('abort', this.#onAbort, { once: true });
    this.finished = this.#run();
    this.finished.catch(() => undefined);
  }

  stop(): Promise<RecordStats> {
    if (!this.#stop.signal.aborted) this.#stop.abort();
    this.#wake?.();
    return this.finished;
  }

  async #run(): Promise<RecordStats> {
    try {
      let next = Date.now();
      while (!this.#stop.signal.aborted && (this.#dumps === undefined || this.stats.dumps < this.#dumps)) {
        const at = Date.now();
        next = Math.max(next + this.#interval, at);
        const record = await this.#dump(at);
        if (record === undefined) break; // stopped mid-dump: nothing to write
        await this.#write(record);
        if (this.#dumps !== undefined && this.stats.dumps >= this.#dumps) break;
        await this.#sleep(next - Date.now());
      }
      return this.stats;
    } finally {
      this.#signal?.removeEventListener('abort', this.#onAbort);
      this.#channel?.close();
      this.#channel = undefined;
      await this.#file?.close();
      this.#file = undefined;
    }
  }

  /** One dump as a framed record; undefined when the recording was stopped during it. */
  async #dump(at: number): Promise<Buffer | undefined> {
    const stats = newEngineStats();
    const parts: Buffer[] = [];
    if (this.#channel?.closed) this.#channel = undefined;
    this.#channel ??= engineOf(this.#list).open(runOptionsOf(this.#list, false).channel);
    const channel = this.#channel;
    try {
      for await (const d of rawDatagrams(this.#list, stats, channel)) parts.push(d.data);
    } catch (err) {
      this.#channel = undefined;
      channel.close();
      if (this.#stop.signal.aborted && err instanceof AbortError) return undefined;
      throw err;
    }
    if (stats.interrupted) this.stats.interruptedDumps++;
    const record = frame(RECORD_KIND.dump, at, stats.interrupted ? RECORD_FLAG.interrupted : 0, parts);
    this.stats.rawBytes += record.length - HEADER_SIZE;
    return record;
  }

  /** Compresses and appends a record, rotating first when it would not fit. */
  async #write(record: Buffer): Promise<void> {
    const member = await gzip(record, { level: this.#level });
    // A file holds at least one dump, however small maxBytes is.
    if (this.#file === undefined || (this.#size + member.length > this.#maxBytes && this.#fileDumps > 0)) await this.#startFile();
    await this.#append(member);
    this.#fileDumps++;
    this.stats.dumps++;
  }

  async #startFile(): Promise<void> {
    await this.#file?.close();
    this.#file = undefined;
    await rotateFiles(this.#path, this.#maxFiles);
    this.#file = await open(this.#path, 'wx');
    this.#size = 0;
    this.#fileDumps = 0;
    this.stats.files++;
    const info = { ...this.#info, started: new Date().toISOString() };
    const member = await gzip(frame(RECORD_KIND.info, Date.now(), 0, [Buffer.from(JSON.stringify(info))]), { level: this.#level });
    await this.#append(member);
  }

  async #append(member: Buffer): Promise<void> {
    // One write per record: a crash leaves at most this member cut short.
    let done = 0;
    while (done < member.length) {
      const { bytesWritten } = await this.#file!.write(member, done, member.length - done);
      done += bytesWritten;
    }
    this.#size += member.length;
    this.stats.bytesWritten += member.length;
  }

  #sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.#stop.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }
}

function writerVersion(): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return `sockdiag ${(require('../../package.json') as { version: string }).version}`;
  } catch {
    return 'sockdiag';
  }
}

/**
 * Records dumps to a file: every `interval` ms, one listing's raw netlink bytes (as
 * {@link rawDump} yields them) with its time, appended as one gzip member per record, in
 * files rotated at `rotate.maxBytes`. Options are a listing's (protocols, families,
 * states, filter, netns, extensions; not `processes`). Returns at once; the recording
 * runs until {@link Recording.stop}, the signal, or `dumps` dumps. A dump or write error
 * stops it and rejects {@link Recording.finished}. Read recordings back with {@link replay}.
 *
 * @example
 * ```ts
 * const rec = recordSockets({ path: '/var/lib/agent/tcp.sdrec', protocols: ['tcp'], interval: 10_000 });
 * process.on('SIGTERM', () => rec.stop());
 * ```
 */
export function recordSockets(opts: RecordOptions): Recording {
  return new Recorder(opts);
}

// ---------------------------------------------------------------------------------------
// Reading.

/** One recorded dump, decoded. */
export interface ReplayedDump {
  /** When the dump started. */
  at: Date;
  /** Its sockets, as {@link listSockets} returned them then (with the listing's counters). */
  sockets: SocketList;
  /** The kernel flagged the dump as interrupted. */
  interrupted: boolean;
  /** The file it came from. */
  file: string;
  /** What that file's `info` record says (hostname, kernel, options). */
  info: RecordingInfo | undefined;
}

/** Options of {@link replay}. */
export interface ReplayOptions extends DecodeDumpOptions {
  /** Aborting stops the iteration with an `AbortError`. */
  signal?: AbortSignal;
}

/** The records of one file: header and payload, in order, until the last whole one. */
async function* records(file: string): AsyncGenerator<{ header: ReturnType<typeof decodeHeader>; payload: Buffer }, { truncated: boolean }, undefined> {
  const input = createReadStream(file);
  // SYNC_FLUSH at the end: a member cut short yields what it has instead of an error.
  const gunzip = zlib.createGunzip({ finishFlush: zlib.constants.Z_SYNC_FLUSH });
  input.on('error', (err) => gunzip.destroy(err));
  input.pipe(gunzip);
  // Chunks not yet parsed; joined only once a whole record (or a header) is there.
  let pending: Buffer[] = [];
  let have = 0;
  let need = HEADER_SIZE;
  let header: ReturnType<typeof decodeHeader> | undefined;
  let consumed = 0;
  const join = (): Buffer => {
    const all = pending.length === 1 ? pending[0] : Buffer.concat(pending, have);
    pending = [all];
    return all;
  };
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      pending.push(chunk);
      have += chunk.length;
      while (have >= need) {
        const buf = join();
        if (header === undefined) {
          header = decodeHeader(buf, 0, HEADER_SIZE);
          if (header.magic !== RECORD_MAGIC) throw new DecodeError(`${file}: not a sockdiag recording (bad record magic 0x${header.magic.toString(16)})`, consumed, 'sockdiag_record');
          if (header.version !== RECORD_VERSION) throw new DecodeError(`${file}: record format version ${header.version} is not supported (this sockdiag reads ${RECORD_VERSION})`, consumed, 'sockdiag_record');
          if (header.length > MAX_RECORD) throw new DecodeError(`${file}: record length ${header.length} is not plausible`, consumed, 'sockdiag_record');
          need = HEADER_SIZE + header.length;
          continue;
        }
        const payload = buf.subarray(HEADER_SIZE, need);
        const rest = buf.subarray(need);
        pending = rest.length > 0 ? [rest] : [];
        have = rest.length;
        consumed += need;
        const h = header;
        header = undefined;
        need = HEADER_SIZE;
        yield { header: h, payload };
      }
    }
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    const code = (err as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('Z_')) throw new DecodeError(`${file}: not a gzip stream or corrupt (${(err as Error).message})`, consumed, 'gzip');
    throw err;
  } finally {
    input.destroy();
    gunzip.destroy();
  }
  return { truncated: have > 0 };
}

function parseInfo(payload: Buffer, file: string): RecordingInfo {
  try {
    return JSON.parse(payload.toString('utf8')) as RecordingInfo;
  } catch (err) {
    throw new DecodeError(`${file}: the info record is not JSON (${(err as Error).message})`, 0, 'sockdiag_record');
  }
}

/** Counters of a replay. */
export interface ReplayStats {
  /** Dumps yielded. */
  dumps: number;
  /** Files whose last record was cut short (a crash mid-write); everything before it was read. */
  truncatedFiles: string[];
}

/** The dumps of a replay, with its counters. */
export interface Replay extends AsyncIterable<ReplayedDump> {
  /** Counters so far. */
  readonly stats: ReplayStats;
}

/**
 * Reads recordings back: yields each recorded dump, in order, as the same {@link Socket}
 * objects a listing gave at that time (decoded here, on any machine). Give one file or
 * several (e.g. `recordedFiles(path)`, oldest first). A file cut short by a crash yields
 * every whole record and ends quietly (see `stats.truncatedFiles`); anything else that is
 * not a recording is a {@link DecodeError}.
 *
 * @example
 * ```ts
 * for await (const { at, sockets } of replay(recordedFiles('/var/lib/agent/tcp.sdrec'))) {
 *   console.log(at.toISOString(), sockets.filter((s) => s.state === 'established').length);
 * }
 * ```
 */
export function replay(path: string | readonly string[], opts: ReplayOptions = {}): Replay {
  const files = typeof path === 'string' ? [path] : path;
  if (!Array.isArray(files) || files.some((f) => typeof f !== 'string')) throw new TypeError('path must be a file name or an array of them');
  const signal = opts.signal;
  const decodeOpts: DecodeDumpOptions = opts.protocol === undefined ? {} : { protocol: opts.protocol };
  const stats: ReplayStats = { dumps: 0, truncatedFiles: [] };
  return {
    stats,
    async *[Symbol.asyncIterator]() {
      for (const file of files) {
        await stat(file); // a missing file is an ENOENT error, before anything is read
        let info: RecordingInfo | undefined;
        const it = records(file);
        try {
          for (;;) {
            if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
            const r = await it.next();
            if (r.done) {
              if (r.value.truncated) stats.truncatedFiles.push(file);
              break;
            }
            const { header, payload } = r.value;
            if (header.kind === RECORD_KIND.info) {
              info = parseInfo(payload, file);
            } else if (header.kind === RECORD_KIND.dump) {
              const sockets = decodeDump(payload, decodeOpts);
              stats.dumps++;
              yield { at: new Date(Number(header.timeMs)), sockets, interrupted: (header.flags & RECORD_FLAG.interrupted) !== 0, file, info };
            }
            // Other kinds are newer than this reader: skipped.
          }
        } finally {
          await it.return({ truncated: false });
        }
      }
    },
  };
}
