/**
 * Shared harness of the sock_diag family decoder tests (unix, packet, netlink, vsock, xdp,
 * tipc): fast-check generators drawn from the struct tables, message builders, and the
 * checks every decoder must pass — decode or throw `DecodeError`, never read outside its
 * message, survive truncation and garbage.
 *
 * Importing this module sets fast-check's global `baseSize` to `'medium'` (see below).
 * @module
 */
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecodeError } from '../../lib/errors';
import { RawAttribute } from '../../lib/netlink/attributes';
import { nlmsghdr } from '../../lib/netlink/message';
import { FieldSpec, StructSpec, fieldSize, structToBuffer } from '../../lib/netlink/struct';

// Arrays and strings up to their maxLength, not the default "small" (at most ~10 elements):
// with "small", `fc.uint8Array({ maxLength: 65536 })` never gives more than 10 bytes.
fc.configureGlobal({ baseSize: 'medium' });

// ---------------------------------------------------------------------------------------
// The decoder under test

/** A message decoder: `b`, the offset of the message's `nlmsghdr` in it, and `nlmsg_len`. */
export type Decoder = (b: Buffer, off: number, len: number) => unknown;

/** What the checks below need to know about one family's decoder. */
export interface FamilyDecoder {
  /** The family's `decode*Message`. */
  decode: Decoder;
  /** The `protocol` of every socket it returns, e.g. `'unix'`. */
  protocol: string;
  /** The `AF_*` number in the first byte after the netlink header (families with a fixed structure there). */
  af?: number;
  /**
   * The decoder rejects a message whose `nlmsg_len` is not `len` (vsock, xdp, tipc): cut
   * messages get their `nlmsg_len` patched to the cut, or the decoder would stop at the header.
   */
  checksLength?: boolean;
  /** A message without a socket decodes to `undefined` (tipc: a socket the state filter skipped). */
  mayBeEmpty?: boolean;
}

/** The result of {@link attempt}: the decoded value, or the `DecodeError` thrown. */
export type Attempt = { ok: unknown } | { err: DecodeError };

/**
 * Runs a decoder; returns the socket or the `DecodeError`. Any other throw fails the test
 * on the spot: a `RangeError` or `TypeError` from a decoder is a bug, never an answer.
 */
export function attempt(decode: Decoder, b: Buffer, off: number, len: number): Attempt {
  try {
    return { ok: decode(b, off, len) };
  } catch (e) {
    if (e instanceof DecodeError) return { err: e };
    throw new Error(`decoder threw ${(e as Error)?.constructor?.name}: ${String(e)}`);
  }
}

/**
 * The outcome with positions made relative to the message start, so that outcomes of the
 * same message at different places in a buffer compare equal. The error message is kept
 * (without its absolute "(at byte N)"), so that an error quoting a byte read from outside
 * the message shows up as a difference.
 */
function outcome(decode: Decoder, b: Buffer, off: number, len: number): unknown {
  const r = attempt(decode, b, off, len);
  if ('ok' in r) return { ok: r.ok };
  return { err: r.err.structName, at: r.err.offset - off, message: r.err.message.replace(/ \(at byte \d+\)$/, '') };
}

/**
 * Decodes `msg` alone, then placed after `lead` and before `trail` bytes of 0xAA, and of 0x55:
 * all three outcomes must agree, or the decoder read bytes outside `[off, off + len)`.
 */
export function checkConfined(decode: Decoder, msg: Buffer, lead = 13, trail = 61): void {
  const alone = outcome(decode, msg, 0, msg.length);
  for (const fill of [0xaa, 0x55]) {
    const big = Buffer.alloc(lead + msg.length + trail, fill);
    msg.copy(big, lead);
    expect(outcome(decode, big, lead, msg.length)).toEqual(alone);
  }
}

/** A decoded value must be a socket of the family (or `undefined`, where the family allows it). */
function expectSocket(fam: FamilyDecoder, value: unknown): void {
  if (value === undefined && fam.mayBeEmpty) return;
  expect((value as { protocol?: unknown } | undefined)?.protocol).toBe(fam.protocol);
}

/**
 * Decodes `b` whole: a socket of the family or a `DecodeError`, and the same outcome
 * inside sentinel bytes ({@link checkConfined}).
 */
export function checkDecodes(fam: FamilyDecoder, b: Buffer): void {
  const r = attempt(fam.decode, b, 0, b.length);
  if ('ok' in r) expectSocket(fam, r.ok);
  checkConfined(fam.decode, b);
}

// ---------------------------------------------------------------------------------------
// Generators

/** Random bytes up to `maxLength`, with lengths spread over the whole range (`size: 'max'`). */
export const arbBytes = (maxLength: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength, size: 'max' });

/** Random bytes: often short, sometimes up to 64 KiB. */
const arbGarbage = fc.oneof(arbBytes(300), arbBytes(65536));

/** Any u32. */
export const arbU32 = fc.integer({ min: 0, max: 0xffffffff });

/** Values of one field, over the whole range of its type. */
function arbField(f: FieldSpec): fc.Arbitrary<unknown> {
  switch (f.type) {
    case 'u8': return fc.integer({ min: 0, max: 0xff });
    case 's8': return fc.integer({ min: -0x80, max: 0x7f });
    case 'u16': case 'be16': return fc.integer({ min: 0, max: 0xffff });
    case 's16': return fc.integer({ min: -0x8000, max: 0x7fff });
    case 'u32': case 'be32': return arbU32;
    case 's32': return fc.integer({ min: -0x80000000, max: 0x7fffffff });
    case 'u64': return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    case 's64': return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    case 'bytes': return fc.uint8Array({ minLength: fieldSize(f), maxLength: fieldSize(f) }).map((a) => Buffer.from(a));
  }
}

/**
 * Values of a structure, every field drawn from its type in the table. Bit fields are left
 * out: they are views of a scalar that has its own row (e.g. `zerocopy` of the umem `flags`),
 * and a random value for both would contradict itself.
 */
export function arbStruct(spec: StructSpec): fc.Arbitrary<Record<string, unknown>> {
  return fc.record(Object.fromEntries(spec.fields.filter((f) => !f.bits).map((f) => [f.name, arbField(f)])));
}

/**
 * One to four attributes of types in `[minType, 0x3fff]` (none of `exclude`), with payloads
 * up to 40 bytes: attributes a table does not know, as decoders return them in `unknown`.
 */
export function arbRawAttributes(minType: number, exclude: readonly number[] = []): fc.Arbitrary<RawAttribute[]> {
  const type = fc.integer({ min: minType, max: 0x3fff }).filter((t) => !exclude.includes(t));
  return fc.array(fc.record({ type, bytes: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)) }), { minLength: 1, maxLength: 4 });
}

/** An `unknown` value for tables of up to 16 rows: absent, or attributes of types past the last row. */
export const arbUnknown = fc.option(arbRawAttributes(0x10), { nil: undefined });

/**
 * An attribute stream of up to 12 random TLVs: any `nla_len` (0…100) and type, and a body
 * whose length need not match it — framing errors included.
 */
export const arbRawTlvs: fc.Arbitrary<Buffer> = fc
  .array(fc.record({ len: fc.integer({ min: 0, max: 100 }), type: fc.integer({ min: 0, max: 0xffff }), body: fc.uint8Array({ maxLength: 100 }) }), { maxLength: 12 })
  .map((tlvs) => Buffer.concat(tlvs.map(({ len, type, body }) => {
    const p = Buffer.alloc(4 + body.length);
    p.writeUInt16LE(len, 0);
    p.writeUInt16LE(type, 2);
    p.set(body, 4);
    return p;
  })));

// ---------------------------------------------------------------------------------------
// Message builders

/** A netlink header (`SOCK_DIAG_BY_FAMILY`, `NLM_F_MULTI`, pid 0) in front of `payload`. */
export function nlmsg(payload: Buffer, seq = 1): Buffer {
  const h = structToBuffer(nlmsghdr, { len: 16 + payload.length, type: 20, flags: 2, seq, pid: 0 });
  return Buffer.concat([h, payload]);
}

/** One well-framed attribute: `nla_len` = 4 + payload, padded to 4 bytes. */
export function nlattr(type: number, payload: Uint8Array): Buffer {
  const a = Buffer.alloc((4 + payload.length + 3) & ~3);
  a.writeUInt16LE(4 + payload.length, 0);
  a.writeUInt16LE(type, 2);
  a.set(payload, 4);
  return a;
}

/** A copy of the first `len` bytes of a message, with `nlmsg_len` set to `len` (when there is room for it). */
function withLength(b: Buffer, len: number): Buffer {
  const c = Buffer.from(b.subarray(0, len));
  if (len >= 4) c.writeUInt32LE(len, 0);
  return c;
}

/** `base` with `attrs` appended and `nlmsg_len` grown to match. */
export function withAttributes(base: Buffer, attrs: Buffer): Buffer {
  const b = Buffer.concat([base, attrs]);
  b.writeUInt32LE(b.length, 0);
  return b;
}

/**
 * `SK_MEMINFO_*` of an idle socket with the default 212992-byte buffers
 * (`net.core.rmem_default`/`wmem_default`), as decoders return it: the value most
 * golden fixtures carry.
 */
export const IDLE_MEMINFO = { rmemAlloc: 0, rcvbuf: 212992, wmemAlloc: 0, sndbuf: 212992, fwdAlloc: 0, wmemQueued: 0, optmem: 0, backlog: 0, drops: 0, tail: undefined };

/** `SK_MEMINFO_*` values; missing ones are 0. */
export interface MeminfoBytesInput {
  rmemAlloc?: number; rcvbuf?: number; wmemAlloc?: number; sndbuf?: number; fwdAlloc?: number;
  wmemQueued?: number; optmem?: number; backlog?: number; drops?: number;
}

/**
 * The 36-byte payload of a `*_DIAG_MEMINFO` attribute, for golden fixtures. Written out by
 * hand in the order of `linux/sock_diag.h`, not encoded with the `skMeminfo` table, so the
 * fixtures stay independent of the tables they test.
 */
export function skMeminfoBytes(m: MeminfoBytesInput): number[] {
  const values = [
    m.rmemAlloc, // SK_MEMINFO_RMEM_ALLOC
    m.rcvbuf, // SK_MEMINFO_RCVBUF
    m.wmemAlloc, // SK_MEMINFO_WMEM_ALLOC
    m.sndbuf, // SK_MEMINFO_SNDBUF
    m.fwdAlloc, // SK_MEMINFO_FWD_ALLOC
    m.wmemQueued, // SK_MEMINFO_WMEM_QUEUED
    m.optmem, // SK_MEMINFO_OPTMEM
    m.backlog, // SK_MEMINFO_BACKLOG
    m.drops, // SK_MEMINFO_DROPS
  ];
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeUInt32LE(v ?? 0, 4 * i));
  return [...b];
}

/**
 * Two attributes no table knows, as a future kernel might add them: type 0x3ff0 with
 * `NLA_F_NET_BYTEORDER`, and type 23 with `NLA_F_NESTED` and a padded 1-byte payload.
 */
export const UNKNOWN_ATTRS = Buffer.from([
  0x08, 0x00, //             nla_len 8
  0xf0, 0x7f, //             nla_type 0x7ff0 (NLA_F_NET_BYTEORDER | 0x3ff0)
  0xde, 0xad, 0xbe, 0xef, // payload
  0x05, 0x00, //             nla_len 5
  0x17, 0x80, //             nla_type 23 | NLA_F_NESTED
  0x42, //                   payload
  0x00, 0x00, 0x00, //       alignment padding
]);

/** {@link UNKNOWN_ATTRS} as decoders keep them in `unknown`: flag bits masked off the type, kept apart. */
export const UNKNOWN_ATTRS_DECODED: RawAttribute[] = [
  { type: 0x3ff0, flags: 0x4000, bytes: Buffer.from([0xde, 0xad, 0xbe, 0xef]) },
  { type: 23, flags: 0x8000, bytes: Buffer.from([0x42]) },
];

// ---------------------------------------------------------------------------------------
// Properties every decoder must have

/** Attribute starts and lengths of a well-formed message whose attributes begin at `first`. */
function attrStarts(b: Buffer, first: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let o = first; o + 4 <= b.length; o += (b.readUInt16LE(o) + 3) & ~3) {
    // An nla_len under 4 would never advance: `first` is wrong, or the fixture malformed.
    if (b.readUInt16LE(o) < 4) throw new Error(`no attribute at byte ${o} (nla_len ${b.readUInt16LE(o)})`);
    out.push([o, b.readUInt16LE(o)]);
  }
  return out;
}

/** Whether `b` cut to `cut` bytes still decodes: the last attribute must be whole or have < 4 bytes. */
function cutDecodes(b: Buffer, first: number, cut: number): boolean {
  if (cut < first) return false;
  let ok = true;
  for (const [start, len] of attrStarts(b, first)) if (start <= cut) ok = cut - start < 4 || cut >= start + len;
  return ok;
}

/**
 * Cuts the well-formed message `full` at every length from 0 to its own. Each cut decodes
 * to a socket or throws `DecodeError`, the same inside a longer buffer as in one that ends
 * there, and the same between sentinels; a length past the buffer's end is a `DecodeError`.
 * With `attrsAt` (the offset of the first top-level attribute), a cut must decode exactly
 * when it falls on an attribute boundary (or leaves < 4 bytes of the next attribute).
 * For families that check `nlmsg_len`, the cut is decoded with it patched, and must be a
 * `DecodeError` without.
 * @returns how many cuts decoded.
 */
export function checkEveryCut(fam: FamilyDecoder, full: Buffer, attrsAt?: number): number {
  let decoded = 0;
  for (let cut = 0; cut <= full.length; cut++) {
    // The message said to end at `cut` inside the whole buffer (in its nlmsg_len too, where checked).
    const long = fam.checksLength ? Buffer.concat([withLength(full, cut), full.subarray(cut)]) : full;
    const r = attempt(fam.decode, long, 0, cut);
    if ('ok' in r) {
      decoded++;
      expectSocket(fam, r.ok);
    }
    if (attrsAt !== undefined) expect([cut, 'ok' in r]).toEqual([cut, cutDecodes(full, attrsAt, cut)]);
    // The same bytes in a buffer that really ends there.
    const own = Buffer.from(long.subarray(0, cut));
    expect('ok' in attempt(fam.decode, own, 0, cut)).toBe('ok' in r);
    if (cut < full.length) {
      // A length past the buffer's end.
      expect('err' in attempt(fam.decode, own, 0, full.length)).toBe(true);
      // nlmsg_len left at the full length: the decoder must notice.
      if (fam.checksLength) expect('err' in attempt(fam.decode, full.subarray(0, cut), 0, cut)).toBe(true);
    }
    checkConfined(fam.decode, own);
  }
  return decoded;
}

/**
 * Property: messages from `arbMessage`, as generated and with up to six bytes overwritten,
 * each whole, cut at a random length, and cut with `nlmsg_len` patched to the cut, decode
 * to the same outcome alone and between sentinels of random sizes (0…64 bytes each side).
 */
export function assertConfined(fam: FamilyDecoder, arbMessage: fc.Arbitrary<Buffer>, numRuns = 500): void {
  const edit = fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }));
  fc.assert(
    fc.property(arbMessage, fc.nat(), fc.array(edit, { maxLength: 6 }), fc.nat({ max: 64 }), fc.nat({ max: 64 }), (bytes, cutSeed, edits, lead, trail) => {
      const mutated = Buffer.from(bytes);
      for (const [pos, v] of edits) if (mutated.length) mutated[pos % mutated.length] = v;
      const cut = cutSeed % (bytes.length + 1);
      for (const msg of [bytes, mutated]) {
        for (const m of [msg, msg.subarray(0, cut), withLength(msg, cut)]) checkConfined(fam.decode, m, lead, trail);
      }
    }),
    { numRuns },
  );
}

/**
 * Property: random bytes ({@link arbGarbage}) decode to a socket of the family or throw
 * `DecodeError`, whole and at any offset and length, and read only their own bytes (those
 * under 4 KiB, to keep the run short). `framed` writes the family's `AF_*` byte (and, where
 * checked, `nlmsg_len`) so the decoder gets past them and walks attributes: always (`true`),
 * never (`false`), or in half of the runs (the default).
 */
export function assertGarbage(fam: FamilyDecoder, options: { framed?: boolean; numRuns?: number } = {}): void {
  fc.assert(
    fc.property(arbGarbage, fc.boolean(), fc.nat(), fc.nat(), (bytes, coin, a, c) => {
      const b = Buffer.from(bytes);
      if ((options.framed ?? coin) && fam.af !== undefined && b.length > 16) {
        b[16] = fam.af;
        if (fam.checksLength) b.writeUInt32LE(b.length, 0);
      }
      const whole = attempt(fam.decode, b, 0, b.length);
      if ('ok' in whole) expectSocket(fam, whole.ok);
      // Sentinel copies of every 64 KiB buffer would make the run slow; the small ones suffice.
      if (b.length < 4096) checkConfined(fam.decode, b);
      const off = b.length ? a % b.length : 0;
      attempt(fam.decode, b, off, b.length ? c % (b.length - off + 1) : 0);
    }),
    { numRuns: options.numRuns ?? 300 },
  );
}

// ---------------------------------------------------------------------------------------
// Tables against the uapi headers

/** Compiles a C program printing sizeof/offsetof of each table, when gcc and the headers exist. */
function cLayout(headers: string[], specs: Array<[StructSpec, string]>): string | undefined {
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  const lines = specs.flatMap(([s, c]) => [
    `printf("${s.name} %zu\\n", sizeof(struct ${c}));`,
    ...s.fields.map((f) => `printf("${s.name}.${f.orig} %zu %zu\\n", offsetof(struct ${c}, ${f.orig}), sizeof(((struct ${c} *)0)->${f.orig}));`),
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'sockdiag-layout-'));
  writeFileSync(join(dir, 'l.c'), `#include <stdio.h>\n#include <stddef.h>\n${headers.map((h) => `#include <${h}>`).join('\n')}\nint main(void) {\n${lines.join('\n')}\nreturn 0; }\n`);
  try {
    execFileSync('gcc', ['-o', join(dir, 'l'), join(dir, 'l.c')]);
    return execFileSync(join(dir, 'l')).toString();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The same listing as {@link cLayout}, from the tables. */
function tableLayout(specs: Array<[StructSpec, string]>): string {
  return specs.map(([s]) => [`${s.name} ${s.size}`, ...s.fields.map((f) => `${s.name}.${f.orig} ${f.offset} ${fieldSize(f)}`)].join('\n') + '\n').join('');
}

/**
 * Expects the tables' sizes and offsets to be gcc's for the C structures (`[table, C struct name]`)
 * declared by `headers`. Without gcc there is nothing to compare with, and the tests go on
 * with the layout transcribed from the header by hand.
 * @returns the tables' layout, one `name size` / `name.field offset size` line each.
 */
export function expectCLayout(headers: string[], specs: Array<[StructSpec, string]>): string {
  const expected = tableLayout(specs);
  expect(cLayout(headers, specs) ?? expected).toBe(expected);
  return expected;
}

/** The `PREFIX*` names of the `enum { …, __PREFIXMAX }` of a uapi header, with their values. */
export function headerEnum(text: string, prefix: string): Array<[string, number]> {
  const body = text.slice(text.indexOf(`enum {`), text.indexOf(`__${prefix}MAX`));
  const names = [...body.matchAll(new RegExp(`^\\s*(${prefix}\\w+),`, 'gm'))].map((m) => m[1]);
  return names.map((n, i) => [n, i]);
}

/** The `#define PREFIXNAME value` constants of a uapi header, as `{ NAME: value }`. */
export function headerDefines(text: string, prefix: string): Record<string, number> {
  return Object.fromEntries([...text.matchAll(new RegExp(`#define\\s+${prefix}(\\w+)\\s+(0x[0-9a-fA-F]+|\\d+)`, 'g'))].map((m) => [m[1], Number(m[2])]));
}
