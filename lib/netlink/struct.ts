/**
 * Kernel structures declared once, as field tables. The decoder, the encoder and
 * the TypeScript type of each structure are all derived from its table.
 *
 * Decoders are compiled from the table into straight-line functions (one property
 * read per field, fixed object shape), so the hot path does no table walking.
 * @module
 */
import { DecodeError } from '../errors';

/** Scalar types a structure field can have (little-endian host order unless `be`). */
export type FieldType = 'u8' | 'u16' | 'u32' | 'u64' | 's8' | 's16' | 's32' | 's64' | 'be16' | 'be32' | 'bytes';

/** One row of a structure table: a field of a kernel `struct`. */
export interface FieldSpec {
  /** camelCase name used in decoded objects. */
  readonly name: string;
  /** The field's name in the kernel header, so a header name greps straight to its row. */
  readonly orig: string;
  readonly type: FieldType;
  /** Byte offset inside the structure. */
  readonly offset: number;
  /** Bit field: `[shift, width]` inside the scalar at `offset`. */
  readonly bits?: readonly [number, number];
  /** Length in bytes, for `bytes` fields. */
  readonly length?: number;
  /** The kernel version that appended this field, for structures that grow. */
  readonly since?: string;
}

/** A kernel structure: its header name, its size in the headers and its fields. */
export interface StructSpec<F extends readonly FieldSpec[] = readonly FieldSpec[], G extends boolean = boolean> {
  readonly name: string;
  /** `sizeof` in the uapi headers this table was written from. */
  readonly size: number;
  /**
   * True for structures the kernel extends at the end over time (e.g. `struct tcp_info`):
   * they are decoded by length, fields past the payload are `undefined`, and bytes past
   * the known fields are kept as `tail`.
   */
  readonly growable: G;
  readonly fields: F;
}

const SIZES: Record<FieldType, number> = {
  u8: 1, s8: 1, u16: 2, s16: 2, be16: 2, u32: 4, s32: 4, be32: 4, u64: 8, s64: 8, bytes: 0,
};

/** Size in bytes of one field. */
export function fieldSize(f: FieldSpec): number {
  return f.type === 'bytes' ? (f.length ?? 0) : SIZES[f.type];
}

/** The JS type a field decodes to. */
export type FieldValue<F extends FieldSpec> = F['type'] extends 'u64' | 's64'
  ? bigint
  : F['type'] extends 'bytes'
    ? Buffer
    : number;

/** Flattens an intersection into one object type (for readable hover types). */
export type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** The decoded object type of a structure table. Fields of growable structures may be absent. */
export type StructValue<S extends StructSpec> = Simplify<
  S['growable'] extends true
    ? { [F in S['fields'][number] as F['name']]: FieldValue<F> | undefined } & { tail?: Buffer }
    : { [F in S['fields'][number] as F['name']]: FieldValue<F> }
>;

/** The input type of a structure encoder: every field optional, missing ones are zero. */
export type StructInput<S extends StructSpec> = Simplify<{
  [F in S['fields'][number] as F['name']]?: FieldValue<F>;
}>;

/**
 * Declares a structure table. Offsets are checked here: fields must lie inside
 * `size` (or extend it, for growable structures) and bit fields inside their scalar.
 */
export function defineStruct<const F extends readonly FieldSpec[], const G extends boolean = false>(
  name: string,
  size: number,
  fields: F,
  options: { growable?: G } = {},
): StructSpec<F, G> {
  const growable = (options.growable ?? false) as G;
  for (const f of fields) {
    const end = f.offset + fieldSize(f);
    if (!growable && end > size) throw new Error(`${name}.${f.orig} ends at ${end}, past sizeof ${size}`);
    if (f.bits && f.bits[0] + f.bits[1] > SIZES[f.type] * 8) throw new Error(`${name}.${f.orig}: bits outside the field`);
  }
  return { name, size, growable, fields };
}

/** Offset just past the last known field of a structure. */
export function knownSize(spec: StructSpec): number {
  let end = 0;
  for (const f of spec.fields) end = Math.max(end, f.offset + fieldSize(f));
  return Math.max(end, spec.growable ? 0 : spec.size);
}

// Generated decoders read through a DataView: its getters are several times faster
// than Buffer's readUInt32LE/readBigUInt64LE on the hot path.
function readExpr(f: FieldSpec, at: string): string {
  switch (f.type) {
    case 'u8': return `b[${at}]`;
    case 's8': return `v.getInt8(${at})`;
    case 'u16': return `v.getUint16(${at}, true)`;
    case 's16': return `v.getInt16(${at}, true)`;
    case 'be16': return `v.getUint16(${at})`;
    case 'u32': return `v.getUint32(${at}, true)`;
    case 's32': return `v.getInt32(${at}, true)`;
    case 'be32': return `v.getUint32(${at})`;
    case 'u64': return `v.getBigUint64(${at}, true)`;
    case 's64': return `v.getBigInt64(${at}, true)`;
    case 'bytes': return `Buffer.from(b.subarray(${at}, ${at} + ${f.length ?? 0}))`;
  }
}

let lastBuffer: Buffer | undefined;
let lastView: DataView | undefined;

/** A DataView over the same bytes as `b` (same offsets), reused while `b` stays the same. */
export function viewOf(b: Buffer): DataView {
  if (b !== lastBuffer) {
    lastBuffer = b;
    lastView = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  return lastView as DataView;
}

function valueExpr(f: FieldSpec, at: string): string {
  const raw = readExpr(f, at);
  if (!f.bits) return raw;
  const [shift, width] = f.bits;
  return `((${raw} >>> ${shift}) & ${2 ** width - 1})`;
}

/** Compiled decoder of one structure: reads `len` bytes at `off` of `b`. */
export type StructDecoder<S extends StructSpec> = (b: Buffer, off: number, len: number) => StructValue<S>;

const decoderCache = new WeakMap<StructSpec, StructDecoder<StructSpec>>();

/**
 * Compiles the decoder of a structure. Fixed structures need at least `size` bytes
 * (else {@link DecodeError}); growable ones decode each field only if it lies inside `len`.
 */
export function structDecoder<S extends StructSpec>(spec: S): StructDecoder<S> {
  const cached = decoderCache.get(spec);
  if (cached) return cached as unknown as StructDecoder<S>;
  const props: string[] = [];
  for (const f of spec.fields) {
    const at = f.offset === 0 ? 'o' : `o + ${f.offset}`;
    const v = valueExpr(f, at);
    props.push(spec.growable ? `${JSON.stringify(f.name)}: n >= ${f.offset + fieldSize(f)} ? ${v} : undefined` : `${JSON.stringify(f.name)}: ${v}`);
  }
  const known = knownSize(spec);
  let body: string;
  if (spec.growable) {
    props.push(`tail: n > ${known} ? Buffer.from(b.subarray(o + ${known}, o + n)) : undefined`);
    body = `return { ${props.join(',\n')} };`;
  } else {
    body = `if (n < ${spec.size}) short(${JSON.stringify(spec.name)}, ${spec.size}, n, o);\nreturn { ${props.join(',\n')} };`;
  }
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const make = new Function('short', 'viewOf', `return function decode_${spec.name.replace(/\W/g, '_')}(b, o, n) {\nconst v = viewOf(b);\n${body}\n}`);
  const fn = make(throwShort, viewOf) as StructDecoder<S>;
  decoderCache.set(spec, fn as unknown as StructDecoder<StructSpec>);
  return fn;
}

function throwShort(name: string, need: number, have: number, offset: number): never {
  throw new DecodeError(`struct ${name} needs ${need} bytes, got ${have}`, offset, name);
}

/** Writes a structure into `b` at `off`; fields not given are left as they are (callers pass zeroed buffers). */
export function encodeStruct<S extends StructSpec>(spec: S, value: StructInput<S>, b: Buffer, off = 0): void {
  const v = value as Record<string, unknown>;
  for (const f of spec.fields) {
    const x = v[f.name];
    if (x === undefined) continue;
    const at = off + f.offset;
    if (at + fieldSize(f) > b.length) continue; // a deliberately short structure
    if (f.bits) {
      const [shift, width] = f.bits;
      const mask = (2 ** width - 1) << shift;
      const size = SIZES[f.type];
      const old = size === 1 ? b[at] : size === 2 ? b.readUInt16LE(at) : b.readUInt32LE(at);
      const next = ((old & ~mask) | (((x as number) << shift) & mask)) >>> 0;
      if (size === 1) b[at] = next;
      else if (size === 2) b.writeUInt16LE(next, at);
      else b.writeUInt32LE(next, at);
      continue;
    }
    switch (f.type) {
      case 'u8': b.writeUInt8(x as number, at); break;
      case 's8': b.writeInt8(x as number, at); break;
      case 'u16': b.writeUInt16LE(x as number, at); break;
      case 's16': b.writeInt16LE(x as number, at); break;
      case 'be16': b.writeUInt16BE(x as number, at); break;
      case 'u32': b.writeUInt32LE(x as number, at); break;
      case 's32': b.writeInt32LE(x as number, at); break;
      case 'be32': b.writeUInt32BE(x as number, at); break;
      case 'u64': b.writeBigUInt64LE(x as bigint, at); break;
      case 's64': b.writeBigInt64LE(x as bigint, at); break;
      case 'bytes': (x as Buffer).copy(b, at, 0, f.length); break;
    }
  }
}

/** Encodes a structure into a new zero-filled buffer of `size` bytes (or `length`, for growable ones). */
export function structToBuffer<S extends StructSpec>(spec: S, value: StructInput<S>, length = knownSize(spec)): Buffer {
  const b = Buffer.alloc(length);
  encodeStruct(spec, value, b, 0);
  return b;
}
