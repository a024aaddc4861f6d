/**
 * Record and replay: `recordSockets()` appends each dump's raw netlink bytes, with a
 * timestamp, to a rotating gzip file; `replay()` reads such files back into the same
 * {@link Socket} objects a listing gives, later and on any machine. Nothing is lost to
 * parsing: the file holds what the kernel sent (like m-lab/tcp-info's archives), and a
 * newer sockdiag decodes more of the same bytes.
 *
 * File format: a series of gzip members, one per record, so each record is written with one
 * `write()`. Each member has a plain 10-byte gzip header (`1f 8b 08 00`, no optional fields)
 * and holds exactly one record: a {@link recordHeader} then `length` payload bytes; its gzip
 * trailer (CRC-32 and size) vouches for the record. The first record of a file is an `info`
 * record (JSON: where and how it was recorded); each `dump` record holds one listing's
 * datagrams exactly as {@link rawDump} yields them, which {@link decodeDump} reads. A reader
 * that meets bytes which are not a whole member (a cut, flipped bits, appended bytes) skips to
 * the next `1f 8b 08` that starts a whole record, so damage costs only the records it touches.
 * @module
 */
import { open, rename, rm, stat, FileHandle } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import * as os from 'node:os';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { defineStruct, encodeStruct, structDecoder } from '../netlink/struct';
import { AbortError, RecordingError, SockdiagError } from '../errors';
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
type RecordHeader = ReturnType<typeof decodeHeader>;
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
  /**
   * The file to write. A recording already there is rotated away first (a new recording starts
   * a new file). The recorder moves and removes only its own files: when `path`, or a `PATH.N`
   * that rotation would move or remove, is a directory or a file that is not a sockdiag
   * recording, the recording fails with a `RecordingError` naming it (rejecting
   * {@link Recording.finished} before the first dump) and leaves it as it is.
   */
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

/**
 * One record as {@link recordSockets} appends it to a file: a gzip member holding a
 * {@link recordHeader} (`kind`, `timeMs`, `flags`, the payload's length) and the payload
 * (the parts, joined). Files are such members back to back, starting with an `info` record
 * (a {@link RecordingInfo} as JSON); {@link replay} reads them.
 * @param kind a {@link RECORD_KIND}.
 * @param timeMs when, in milliseconds since the epoch.
 * @param parts the payload, in pieces (a dump's datagrams).
 * @param flags {@link RECORD_FLAG} bits.
 * @param level gzip level, 1 (fastest) to 9 (smallest).
 */
export function encodeRecord(kind: number, timeMs: number, parts: readonly Uint8Array[], flags = 0, level = 6): Promise<Buffer> {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = Buffer.allocUnsafe(HEADER_SIZE + length);
  encodeStruct(recordHeader, { magic: RECORD_MAGIC, version: RECORD_VERSION, kind, timeMs: BigInt(timeMs), length, flags }, out, 0);
  let at = HEADER_SIZE;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return gzip(out, { level });
}

/**
 * The files of a rotated recording that exist, oldest first: `PATH.N`, …, `PATH.1`, `PATH`.
 * Only regular files are listed (a directory named like one is not a recording).
 */
export function recordedFiles(path: string, maxFiles = 100): string[] {
  const out: string[] = [];
  const isFile = (f: string): boolean => statSync(f, { throwIfNoEntry: false })?.isFile() === true;
  for (let i = maxFiles - 1; i >= 1; i--) if (isFile(`${path}.${i}`)) out.push(`${path}.${i}`);
  if (isFile(path)) out.push(path);
  return out;
}

/**
 * Throws a {@link RecordingError} naming `file` unless it is missing, empty, or a regular file
 * whose first gzip member is a whole sockdiag record: the recorder moves or removes nothing
 * else. (An empty file holds nothing to lose; a crash can leave one between `open` and the
 * first write.)
 */
async function checkOwnFile(file: string): Promise<void> {
  const st = await stat(file).catch((err: unknown) => {
    if ((err as { code?: unknown }).code === 'ENOENT') return undefined;
    throw err;
  });
  if (st === undefined || (st.isFile() && st.size === 0)) return;
  const refuse = (what: string): RecordingError =>
    new RecordingError(`${file} ${what}: recordSockets moves and removes only its own recordings; move it away or choose another path`, file);
  if (!st.isFile()) throw refuse(st.isDirectory() ? 'is a directory' : 'is not a regular file');
  const src = new FileBytes(await open(file, 'r'), st.size);
  try {
    // The first record of our files is the small info record: a MiB is plenty.
    const first = await readMember(src, 0, 2 ** 20);
    if (!first.ok) throw refuse(`is not a sockdiag recording (${first.reason})`);
  } finally {
    await src.close();
  }
}

/** `PATH`, `PATH.1`, …: the files a rotation keeping `maxFiles` moves or removes. */
function rotationFiles(path: string, maxFiles: number): string[] {
  return [path, ...Array.from({ length: maxFiles - 1 }, (_, i) => `${path}.${i + 1}`)];
}

/**
 * Shifts `PATH` → `PATH.1` → … keeping `maxFiles` files in all (the one about to start
 * included), after checking that every file it would move or remove is a recording.
 */
async function rotateFiles(path: string, maxFiles: number): Promise<void> {
  for (const f of rotationFiles(path, maxFiles)) await checkOwnFile(f);
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
      // Refuse a path that is not ours before the first dump, not after it.
      for (const f of rotationFiles(this.#path, this.#maxFiles)) await checkOwnFile(f);
      let next = Date.now();
      while (!this.#stop.signal.aborted && (this.#dumps === undefined || this.stats.dumps < this.#dumps)) {
        const at = Date.now();
        next = Math.max(next + this.#interval, at);
        const member = await this.#dump(at);
        if (member === undefined) break; // stopped mid-dump: nothing to write
        await this.#write(member);
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

  /** One dump as a gzip member; undefined when the recording was stopped during it. */
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
    for (const p of parts) this.stats.rawBytes += p.length;
    return encodeRecord(RECORD_KIND.dump, at, parts, stats.interrupted ? RECORD_FLAG.interrupted : 0, this.#level);
  }

  /** Appends a record's gzip member, rotating first when it would not fit. */
  async #write(member: Buffer): Promise<void> {
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
    await this.#append(await encodeRecord(RECORD_KIND.info, Date.now(), [Buffer.from(JSON.stringify(info))], 0, this.#level));
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
  /**
   * Damage is an error: the first stretch of a file that is not whole records (a cut, flipped
   * bits, appended bytes, an oversized or invalid record) throws a `RecordingError` (a
   * {@link DecodeError}) with the file and the stretch's byte offsets, instead of being counted
   * in `stats` and skipped. Default false.
   */
  strict?: boolean;
  /**
   * The largest record payload to read, in bytes (default 256 MiB). A record header claiming
   * more is damage (kind `'oversized'`), decided before anything of it is buffered, so this
   * bounds what a damaged or hostile file can make replay hold. A dump record holds about 520
   * bytes per TCP socket with every extension, so the default reads dumps of about 500,000
   * sockets; raise it to replay bigger ones.
   */
  maxRecordBytes?: number;
}

/** Counters of a replay. */
export interface ReplayStats {
  /** Dumps yielded. */
  dumps: number;
  /** Files whose last record was cut short (a crash mid-write); everything before it was read. */
  truncatedFiles: string[];
  /**
   * Damaged stretches, in the order met (the first 100; `damaged` counts them all). Each is a
   * run of bytes that are not whole records, from `offset` up to `end` (byte offsets in
   * `file`), after which reading went on at the next whole record (or the file ended).
   * `kind`: `'truncated'`, the file ends inside a record (a crash mid-write); `'corrupt'`, bytes
   * that are not an intact gzip member holding one record (flipped bits, appended or foreign
   * bytes); `'oversized'`, a record longer than `maxRecordBytes`; `'invalid'`, an intact
   * record this sockdiag cannot use (another format version, a time no `Date` holds, an
   * unreadable info or dump). `reason` says what was found.
   */
  damage: Array<{ file: string; offset: number; end: number; kind: 'truncated' | 'corrupt' | 'oversized' | 'invalid'; reason: string }>;
  /** Damaged stretches met, all of them. */
  damaged: number;
}

/** The dumps of a replay, with its counters. */
export interface Replay extends AsyncIterable<ReplayedDump> {
  /** Counters so far. */
  readonly stats: ReplayStats;
}

type Damage = ReplayStats['damage'][number];
type DamageKind = Damage['kind'];

const DEFAULT_MAX_RECORD_BYTES = 256 * 2 ** 20;
/** How many damaged stretches `stats.damage` keeps (a hostile file can hold millions). */
const DAMAGE_LISTED = 100;
/** The latest time a `Date` can hold, in ms since the epoch. */
const MAX_TIME_MS = 8_640_000_000_000_000n;
/** Every member sockdiag writes starts so: ID1 ID2, CM = deflate, FLG = 0 (zlib's header). */
const GZIP_START = Buffer.from([0x1f, 0x8b, 0x08, 0x00]);
/** What a reader looks for to find the next member after damage. */
const GZIP_MAGIC = GZIP_START.subarray(0, 3);
const GZIP_HEADER_SIZE = 10;
const GZIP_TRAILER_SIZE = 8;
const READ_SIZE = 64 * 1024;

let crcTable: Int32Array | undefined;
/** CRC-32 (gzip's): zlib's where Node has it (20.15+), else this table-driven one. @internal */
export function crc32js(data: Uint8Array, value = 0): number {
  const t = (crcTable ??= Int32Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c;
  }));
  let c = ~value;
  for (let i = 0; i < data.length; i++) c = t[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
const crc32: (data: Uint8Array, value?: number) => number = typeof zlib.crc32 === 'function' ? zlib.crc32 : crc32js;

/** A file read by position through a 64 KiB window: memory stays bounded whatever the file holds. */
class FileBytes {
  #window = Buffer.alloc(0);
  #at = 0;
  constructor(
    private readonly fh: FileHandle,
    /** The file's size when opened (smaller if it shrinks under us). */
    public size: number,
  ) {}

  /** The bytes from `pos` on: at least `min` unless the file ends first (none at its end). */
  async from(pos: number, min = 1): Promise<Buffer> {
    const off = pos - this.#at;
    if (off >= 0 && off <= this.#window.length && this.#window.length - off >= Math.min(min, this.size - pos)) return this.#window.subarray(off);
    const buf = Buffer.allocUnsafe(Math.max(0, Math.min(Math.max(READ_SIZE, min), this.size - pos)));
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await this.fh.read(buf, got, buf.length - got, pos + got);
      if (bytesRead === 0) {
        this.size = pos + got;
        break;
      }
      got += bytesRead;
    }
    this.#window = buf.subarray(0, got);
    this.#at = pos;
    return this.#window;
  }

  close(): Promise<void> {
    return this.fh.close();
  }

  /**
   * Where `pattern` next occurs at or after `pos`; a prefix of it that ends the file counts
   * (a member cut in its first bytes). The file's size when there is none.
   */
  async find(pattern: Buffer, pos: number): Promise<number> {
    while (pos < this.size) {
      const buf = await this.from(pos, pattern.length);
      const i = buf.indexOf(pattern);
      if (i >= 0) return pos + i;
      if (buf.length < pattern.length || pos + buf.length >= this.size) {
        for (let k = Math.max(0, buf.length - pattern.length + 1); k < buf.length; k++) if (pattern.subarray(0, buf.length - k).equals(buf.subarray(k))) return pos + k;
        return this.size;
      }
      pos += buf.length - pattern.length + 1;
    }
    return this.size;
  }
}

/** Why the bytes at an offset are not a whole record. */
interface MemberFailure {
  ok: false;
  kind: DamageKind;
  reason: string;
}
/** A gzip member holding one whole, intact record. */
interface MemberRecord {
  ok: true;
  header: RecordHeader;
  payload: Buffer;
  /** The first byte after the member. */
  end: number;
}

/** The output of one member, checked as it comes: a record header first, then no more than it announces. */
class RecordBytes {
  readonly chunks: Buffer[] = [];
  size = 0;
  crc = 0;
  header: RecordHeader | undefined;
  failure: MemberFailure | undefined;
  constructor(private readonly maxRecordBytes: number) {}

  /** Takes the next output chunk; false (and `failure` set) once the member cannot be a record. */
  add(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    this.size += chunk.length;
    this.crc = crc32(chunk, this.crc);
    if (this.header === undefined && this.size >= HEADER_SIZE) {
      const h = decodeHeader(Buffer.concat(this.chunks), 0, HEADER_SIZE);
      if (h.magic !== RECORD_MAGIC) return this.#fail('corrupt', `not a sockdiag record (magic 0x${h.magic.toString(16).padStart(8, '0')})`);
      if (h.version !== RECORD_VERSION) return this.#fail('invalid', `record format version ${h.version} is not supported (this sockdiag reads ${RECORD_VERSION})`);
      // Decided on the header alone, before the payload is buffered.
      if (h.length > this.maxRecordBytes) return this.#fail('oversized', `the record header claims ${h.length} bytes, more than maxRecordBytes (${this.maxRecordBytes})`);
      this.header = h;
    }
    if (this.header !== undefined && this.size > HEADER_SIZE + this.header.length) return this.#fail('corrupt', `the gzip member holds more than its record's ${this.header.length} bytes`);
    return true;
  }

  #fail(kind: DamageKind, reason: string): false {
    this.failure = { ok: false, kind, reason };
    return false;
  }
}

/** Writes a chunk to the inflater; resolves once it is processed or the inflater is gone. */
function feed(inflate: zlib.InflateRaw, chunk: Buffer): Promise<void> {
  return new Promise((resolve) => {
    if (inflate.destroyed) return resolve();
    const done = (): void => {
      inflate.off('close', done);
      resolve();
    };
    inflate.once('close', done);
    inflate.write(chunk, done);
  });
}

/**
 * Reads the gzip member at `pos` as one record: header, deflate data inflated as a stream
 * (never more output than the record header announces, never more than `maxRecordBytes`),
 * trailer (CRC-32 and size) checked. Memory: one 64 KiB window plus the record.
 */
async function readMember(src: FileBytes, pos: number, maxRecordBytes: number): Promise<MemberRecord | MemberFailure> {
  const head = await src.from(pos, GZIP_HEADER_SIZE);
  const lead = Math.min(head.length, GZIP_START.length);
  if (!head.subarray(0, lead).equals(GZIP_START.subarray(0, lead))) return { ok: false, kind: 'corrupt', reason: 'not the start of a gzip member written by sockdiag (1f 8b 08 00)' };
  if (head.length < GZIP_HEADER_SIZE) return { ok: false, kind: 'truncated', reason: 'the file ends inside a gzip header' };
  const start = pos + GZIP_HEADER_SIZE;
  const out = new RecordBytes(maxRecordBytes);
  const inflate = zlib.createInflateRaw();
  const settled = new Promise<Error | undefined>((resolve) => {
    inflate.once('end', () => resolve(undefined));
    inflate.once('error', resolve);
    inflate.once('close', () => resolve(undefined));
  });
  inflate.on('data', (chunk: Buffer) => {
    if (out.failure === undefined && !out.add(chunk)) inflate.destroy();
  });
  let fed = 0;
  let atEnd = false;
  try {
    // Until the deflate stream ends (it leaves input unconsumed), fails, or the file ends.
    while (!inflate.destroyed && inflate.bytesWritten === fed) {
      const chunk = await src.from(start + fed);
      if (chunk.length === 0) {
        atEnd = true;
        inflate.end();
        break;
      }
      await feed(inflate, chunk);
      fed += chunk.length;
    }
    const error = await settled;
    if (out.failure !== undefined) return out.failure;
    if (error !== undefined) {
      // zlib's "unexpected end of file": the input ran out inside the deflate stream.
      if (atEnd && (error as { code?: unknown }).code === 'Z_BUF_ERROR') return { ok: false, kind: 'truncated', reason: 'the file ends inside a gzip member' };
      return { ok: false, kind: 'corrupt', reason: `gzip data broken near byte ${start + inflate.bytesWritten} (${error.message})` };
    }
  } finally {
    inflate.destroy();
  }
  const header = out.header;
  if (header === undefined || out.size !== HEADER_SIZE + header.length) {
    return { ok: false, kind: 'corrupt', reason: `the gzip member holds ${out.size} bytes, not a whole record${header === undefined ? '' : ` (${HEADER_SIZE} + ${header.length})`}` };
  }
  const trailerAt = start + inflate.bytesWritten;
  const trailer = await src.from(trailerAt, GZIP_TRAILER_SIZE);
  if (trailer.length < GZIP_TRAILER_SIZE) return { ok: false, kind: 'truncated', reason: 'the file ends inside a gzip trailer' };
  if (trailer.readUInt32LE(0) !== out.crc || trailer.readUInt32LE(4) !== out.size % 2 ** 32) return { ok: false, kind: 'corrupt', reason: `the gzip trailer at byte ${trailerAt} does not match the data (CRC-32 or size)` };
  if (header.timeMs > MAX_TIME_MS) return { ok: false, kind: 'invalid', reason: `record time ${header.timeMs} ms is past what a Date holds` };
  const payload = Buffer.concat(out.chunks, out.size).subarray(HEADER_SIZE);
  return { ok: true, header, payload, end: trailerAt + GZIP_TRAILER_SIZE };
}

/** What a file holds, in order: whole records, and damaged stretches between them. */
type Piece = { record: MemberRecord; offset: number } | { damage: Damage };

/**
 * The records of one file, and its damage: a stretch that is not whole records runs from
 * where a member failed to the next `1f 8b 08` that starts a whole record (tried at every
 * match after the failure, so no whole record is passed over), or to the end of the file.
 */
async function* pieces(src: FileBytes, file: string, maxRecordBytes: number): AsyncGenerator<Piece, void, undefined> {
  let pos = 0;
  let damage: { offset: number; first: MemberFailure; truncated: MemberFailure | undefined } | undefined;
  while (pos < src.size) {
    const m = await readMember(src, pos, maxRecordBytes);
    if (m.ok) {
      if (damage !== undefined) yield { damage: { file, offset: damage.offset, end: pos, kind: damage.first.kind, reason: damage.first.reason } };
      damage = undefined;
      yield { record: m, offset: pos };
      pos = m.end;
      continue;
    }
    damage ??= { offset: pos, first: m, truncated: undefined };
    if (m.kind === 'truncated') damage.truncated ??= m;
    pos = await src.find(GZIP_MAGIC, pos + 1);
  }
  // A stretch that runs to the end with a cut member in it is a truncation (a crash mid-write).
  if (damage !== undefined) {
    const why = damage.truncated ?? damage.first;
    yield { damage: { file, offset: damage.offset, end: src.size, kind: why.kind, reason: why.reason } };
  }
}

/** Opens a file to replay: a directory or anything but a regular file is a {@link RecordingError}. */
async function openRecording(file: string): Promise<FileBytes> {
  const st = await stat(file); // a missing file is an ENOENT error, before anything is read
  if (!st.isFile()) throw new RecordingError(`${file} is ${st.isDirectory() ? 'a directory' : 'not a regular file'}, not a sockdiag recording`, file);
  return new FileBytes(await open(file, 'r'), st.size);
}

function parseInfo(payload: Buffer): RecordingInfo {
  const info: unknown = JSON.parse(payload.toString('utf8'));
  if (info === null || typeof info !== 'object' || Array.isArray(info)) throw new TypeError('not a JSON object');
  return info as RecordingInfo;
}

/**
 * Reads recordings back: yields each recorded dump, in order, as the same {@link Socket}
 * objects a listing gave at that time (decoded here, on any machine). Give one file or
 * several (e.g. `recordedFiles(path)`, oldest first).
 *
 * Damage costs only the records it touches: every whole, intact record is yielded, and each
 * stretch of bytes that is not (a file cut by a crash, flipped bits, appended bytes, a record
 * over `maxRecordBytes`) is skipped and counted in `stats.damage` with its byte offsets, the
 * reader going on at the next gzip member that holds a whole record. With `strict: true` the
 * first damage throws instead. A file with no whole record in it, a directory, or anything
 * but a regular file is a `RecordingError` (a {@link DecodeError}) naming it; a file that is
 * only cut short (a crash right after it was started) is not.
 *
 * Memory stays bounded whatever the files hold: members are inflated as streams, and no
 * record is buffered beyond `maxRecordBytes`.
 *
 * @example
 * ```ts
 * const r = replay(recordedFiles('/var/lib/agent/tcp.sdrec'));
 * for await (const { at, sockets } of r) {
 *   console.log(at.toISOString(), sockets.filter((s) => s.state === 'established').length);
 * }
 * if (r.stats.damaged > 0) console.warn('damaged recording', r.stats.damage);
 * ```
 */
export function replay(path: string | readonly string[], opts: ReplayOptions = {}): Replay {
  const files = typeof path === 'string' ? [path] : path;
  if (!Array.isArray(files) || files.some((f) => typeof f !== 'string')) throw new TypeError('path must be a file name or an array of them');
  if (opts === null || typeof opts !== 'object') throw new TypeError('options must be an object');
  const signal = opts.signal;
  const strict = opts.strict ?? false;
  if (typeof strict !== 'boolean') throw new TypeError(`strict must be a boolean, got ${String(strict)}`);
  const maxRecordBytes = positiveInteger(opts.maxRecordBytes, 'maxRecordBytes', 1, DEFAULT_MAX_RECORD_BYTES);
  const decodeOpts: DecodeDumpOptions = opts.protocol === undefined ? {} : { protocol: opts.protocol };
  const stats: ReplayStats = { dumps: 0, truncatedFiles: [], damage: [], damaged: 0 };

  function report(d: Damage, size: number): void {
    const where = `bytes ${d.offset} to ${d.end}`;
    if (d.offset === 0 && d.end === size && d.kind !== 'truncated') throw new RecordingError(`${d.file}: not a sockdiag recording (${d.reason})`, d.file, d.offset, d.end);
    if (strict) throw new RecordingError(`${d.file}: damaged recording, ${where} are not whole records (${d.kind}: ${d.reason})`, d.file, d.offset, d.end);
    stats.damaged++;
    if (stats.damage.length < DAMAGE_LISTED) stats.damage.push(d);
    if (d.kind === 'truncated') stats.truncatedFiles.push(d.file);
  }

  return {
    stats,
    async *[Symbol.asyncIterator]() {
      for (const file of files) {
        const src = await openRecording(file);
        let info: RecordingInfo | undefined;
        try {
          for await (const p of pieces(src, file, maxRecordBytes)) {
            if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
            if ('damage' in p) {
              report(p.damage, src.size);
              continue;
            }
            const { header, payload, end } = p.record;
            const invalid = (err: unknown): void => report({ file, offset: p.offset, end, kind: 'invalid', reason: `the ${header.kind === RECORD_KIND.info ? 'info' : 'dump'} record does not decode (${(err as Error).message})` }, src.size);
            if (header.kind === RECORD_KIND.info) {
              try {
                info = parseInfo(payload);
              } catch (err) {
                invalid(err);
              }
            } else if (header.kind === RECORD_KIND.dump) {
              let sockets: SocketList;
              try {
                sockets = decodeDump(payload, decodeOpts);
              } catch (err) {
                if (!(err instanceof SockdiagError)) throw err;
                invalid(err);
                continue;
              }
              stats.dumps++;
              yield { at: new Date(Number(header.timeMs)), sockets, interrupted: (header.flags & RECORD_FLAG.interrupted) !== 0, file, info };
            }
            // Other kinds are newer than this reader: skipped.
          }
        } finally {
          await src.close();
        }
      }
    },
  };
}
