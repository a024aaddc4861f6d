/**
 * Netlink attributes (`struct nlattr` / `struct rtattr`), declared as tables: one row
 * per kernel constant, with the codec that decodes and encodes its payload.
 * @module
 */
import { DecodeError } from '../errors';
import { StructSpec, StructValue, StructInput, structDecoder, encodeStruct, knownSize, fieldSize } from './struct';
import { AttributeCursor, NLA_HDRLEN, align4, type RawAttribute } from './cursor';

export { AttributeCursor, NLA_TYPE_MASK, NLA_HDRLEN, NLA_F_NESTED, NLA_F_NET_BYTEORDER, align4, type RawAttribute } from './cursor';

/** Context a payload decoder may need: which family and protocol the message came from. */
export interface AttrContext {
  /** AF_* number of the message. */
  family: number;
  /** IPPROTO_* (inet) or the family's own protocol field. */
  protocol: number;
}

/** How one attribute payload is decoded and encoded. */
export interface AttrCodec<V> {
  /** Decodes the `len` payload bytes at `off`. */
  decode(b: Buffer, off: number, len: number, ctx: AttrContext): V;
  /** Encoded payload length (before alignment). */
  size(v: V): number;
  /** Writes the payload at `off` (the caller has sized the buffer with {@link AttrCodec.size}). */
  emit(v: V, b: Buffer, off: number): void;
  /** Smallest valid payload, checked when attributes are only framed, not yet decoded. */
  minSize?: number;
}

/** One row of an attribute table. */
export interface AttrSpec<N extends string = string, V = unknown> {
  /** Numeric attribute type. */
  readonly type: number;
  /** The kernel constant, e.g. `INET_DIAG_MEMINFO`. */
  readonly orig: string;
  /** Property name in decoded objects. */
  readonly name: N;
  readonly codec: AttrCodec<V>;
  /** Skipped on decode (e.g. `INET_DIAG_PAD`). */
  readonly skip?: boolean;
}

/** A declared attribute table, indexed by type for the decoder. */
export interface AttrTable<R extends readonly AttrSpec[] = readonly AttrSpec[]> {
  readonly name: string;
  readonly rows: R;
  readonly byType: ReadonlyArray<AttrSpec | undefined>;
  readonly byName: ReadonlyMap<string, AttrSpec>;
}

/** The decoded values of an attribute table: every attribute is optional. */
export type AttrValues<T extends AttrTable> = {
  [R in T['rows'][number] as R['skip'] extends true ? never : R['name']]?: R extends AttrSpec<string, infer V> ? V : never;
};

/** Declares an attribute table; types must be unique. */
export function defineAttributes<const R extends readonly AttrSpec[]>(name: string, rows: R): AttrTable<R> {
  const byType: (AttrSpec | undefined)[] = [];
  const byName = new Map<string, AttrSpec>();
  for (const r of rows) {
    if (byType[r.type]) throw new Error(`${name}: duplicate attribute type ${r.type}`);
    byType[r.type] = r;
    if (!r.skip) byName.set(r.name, r);
  }
  return { name, rows, byType, byName };
}

/** Shorthand for a table row. */
export function attr<const N extends string, V>(type: number, orig: string, name: N, codec: AttrCodec<V>): AttrSpec<N, V> {
  return { type, orig, name, codec };
}

/** A row that is recognised and skipped (padding). */
export function padAttr(type: number, orig: string): AttrSpec<'_pad', undefined> & { readonly skip: true } {
  return { type, orig, name: '_pad', codec: none, skip: true };
}

function need(len: number, min: number, what: string, off: number): void {
  if (len < min) throw new DecodeError(`attribute ${what} needs ${min} bytes, got ${len}`, off, what);
}

const none: AttrCodec<undefined> = { decode: () => undefined, size: () => 0, emit: () => undefined };

/** Codecs for the payload kinds the kernel uses. */
export const codec = {
  u8: { minSize: 1, decode: (b, o, n) => (need(n, 1, 'u8', o), b[o]), size: () => 1, emit: (v, b, o) => void b.writeUInt8(v, o) } as AttrCodec<number>,
  u16: { minSize: 2, decode: (b, o, n) => (need(n, 2, 'u16', o), b.readUInt16LE(o)), size: () => 2, emit: (v, b, o) => void b.writeUInt16LE(v, o) } as AttrCodec<number>,
  u32: { minSize: 4, decode: (b, o, n) => (need(n, 4, 'u32', o), b.readUInt32LE(o)), size: () => 4, emit: (v, b, o) => void b.writeUInt32LE(v, o) } as AttrCodec<number>,
  s32: { minSize: 4, decode: (b, o, n) => (need(n, 4, 's32', o), b.readInt32LE(o)), size: () => 4, emit: (v, b, o) => void b.writeInt32LE(v, o) } as AttrCodec<number>,
  u64: { minSize: 8, decode: (b, o, n) => (need(n, 8, 'u64', o), b.readBigUInt64LE(o)), size: () => 8, emit: (v, b, o) => void b.writeBigUInt64LE(v, o) } as AttrCodec<bigint>,
  /** A boolean carried as one byte. */
  bool8: { minSize: 1, decode: (b, o, n) => (need(n, 1, 'u8', o), b[o] !== 0), size: () => 1, emit: (v, b, o) => void b.writeUInt8(v ? 1 : 0, o) } as AttrCodec<boolean>,
  /** A NUL-terminated string (the NUL is optional on decode). */
  string: {
    decode: (b, o, n) => {
      let end = o;
      const stop = o + n;
      while (end < stop && b[end] !== 0) end++;
      return b.toString('latin1', o, end);
    },
    size: (v) => Buffer.byteLength(v, 'latin1') + 1,
    emit: (v, b, o) => { b.write(v, o, 'latin1'); b[o + Buffer.byteLength(v, 'latin1')] = 0; },
  } as AttrCodec<string>,
  /** Opaque bytes, copied so that they do not keep the receive buffer alive. */
  bytes: { decode: (b, o, n) => Buffer.from(b.subarray(o, o + n)), size: (v) => v.length, emit: (v, b, o) => void v.copy(b, o) } as AttrCodec<Buffer>,
  /** An array of u32 (e.g. `UNIX_DIAG_ICONS`, netlink `GROUPS`). */
  u32Array: {
    decode: (b, o, n) => {
      const count = n >>> 2;
      const out = new Array<number>(count);
      for (let i = 0; i < count; i++) out[i] = b.readUInt32LE(o + 4 * i);
      return out;
    },
    size: (v) => v.length * 4,
    emit: (v, b, o) => v.forEach((x, i) => b.writeUInt32LE(x, o + 4 * i)),
  } as AttrCodec<number[]>,
  /** A kernel structure from a struct table; growable structures decode by length. */
  struct<S extends StructSpec>(spec: S): AttrCodec<StructValue<S>> {
    const decode = structDecoder(spec);
    return {
      minSize: spec.growable ? 0 : spec.size,
      decode: (b, o, n) => decode(b, o, n),
      size: (v) => {
        if (!spec.growable) return spec.size;
        const tail = (v as { tail?: Buffer }).tail;
        if (tail) return knownSize(spec) + tail.length;
        // A short structure stays short: up to its last field present.
        let end = 0;
        for (const f of spec.fields) if ((v as Record<string, unknown>)[f.name] !== undefined) end = Math.max(end, f.offset + fieldSize(f));
        return end;
      },
      emit: (v, b, o) => {
        encodeStruct(spec, v as StructInput<S>, b, o);
        const tail = (v as { tail?: Buffer }).tail;
        if (spec.growable && tail) tail.copy(b, o + knownSize(spec));
      },
    };
  },
  /** Attributes nested inside this one, from their own table. */
  nested<T extends AttrTable>(table: T): AttrCodec<AttrValues<T> & { unknown?: RawAttribute[] }> {
    return {
      decode: (b, o, n, ctx) => {
        const out: Record<string, unknown> = {};
        decodeAttributes(table, b, o, o + n, out, ctx);
        return out as AttrValues<T>;
      },
      size: (v) => attributesSize(table, v as Record<string, unknown>),
      emit: (v, b, o) => void emitAttributes(table, v as Record<string, unknown>, b, o),
    };
  },
  /** A payload whose decoder depends on the message's family/protocol (e.g. `INET_DIAG_INFO`). */
  byContext<V>(choose: (ctx: AttrContext) => AttrCodec<V> | undefined, fallback: AttrCodec<V>, encodeWith: (v: V) => AttrCodec<V>): AttrCodec<V> {
    return {
      decode: (b, o, n, ctx) => (choose(ctx) ?? fallback).decode(b, o, n, ctx),
      size: (v) => encodeWith(v).size(v),
      emit: (v, b, o) => encodeWith(v).emit(v, b, o),
    };
  },
};

/** Counters a caller can pass to learn about attributes that were dropped by policy. */
export interface AttrStats {
  duplicates: number;
}

/**
 * Where the first attribute of `type` between `off` and `end` starts (its header), or -1.
 * For hot paths that need one attribute without decoding the rest; framing that does not
 * hold (a length below the header or past `end`) ends the search.
 */
export function findAttribute(b: Buffer, off: number, end: number, type: number): number {
  const c = new AttributeCursor(b, off, end);
  while (c.next()) if (c.type === type) return c.offset;
  return -1;
}

/**
 * The decoded payload of the first attribute of `spec`'s type in `b[off, end)`, or undefined
 * when there is none: for decoders that want one attribute of many without copying the rest.
 */
export function decodeAttribute<V>(spec: AttrSpec<string, V>, b: Buffer, off: number, end: number, ctx: AttrContext): V | undefined {
  const at = findAttribute(b, off, end, spec.type);
  return at < 0 ? undefined : spec.codec.decode(b, at + NLA_HDRLEN, b.readUInt16LE(at) - NLA_HDRLEN, ctx);
}

/**
 * Walks the attributes in `b[off, end)` and stores each decoded payload on `target`
 * under its table name. Unknown types are appended raw to `target.unknown`; for
 * duplicated types the first one wins (as in ss). Throws {@link DecodeError} on a bad length.
 */
export function decodeAttributes(table: AttrTable, b: Buffer, off: number, end: number, target: Record<string, unknown>, ctx: AttrContext, stats?: AttrStats): void {
  const byType = table.byType;
  const c = new AttributeCursor(b, off, end, table.name);
  while (c.next()) {
    const spec = byType[c.type];
    if (spec === undefined) {
      const list = target.unknown as RawAttribute[] | undefined;
      if (list === undefined) target.unknown = [c.raw()];
      else list.push(c.raw());
    } else if (!spec.skip) {
      if (target[spec.name] === undefined) target[spec.name] = spec.codec.decode(b, c.payload, c.length, ctx);
      else if (stats) stats.duplicates++;
    }
  }
  c.throwIfError();
}

/**
 * Checks the framing of the attributes in `b[off, end)` without decoding payloads:
 * every length fits, and known types meet their codec's minimum size. Lets a decoder
 * defer payload decoding yet still reject malformed messages up front.
 */
export function checkAttributes(table: AttrTable, b: Buffer, off: number, end: number): void {
  const c = new AttributeCursor(b, off, end, table.name, minSizes(table));
  while (c.next());
  c.throwIfError();
}

const minSizeCache = new WeakMap<AttrTable, Uint16Array>();

/**
 * Minimum payload size of each attribute type of a table (0 where any size goes), from its
 * codecs: what an {@link AttributeCursor} given it checks as it walks.
 */
export function minSizes(table: AttrTable): Uint16Array {
  let m = minSizeCache.get(table);
  if (m === undefined) {
    m = new Uint16Array(table.byType.length);
    table.byType.forEach((spec, type) => {
      if (spec?.codec.minSize) (m as Uint16Array)[type] = spec.codec.minSize;
    });
    minSizeCache.set(table, m);
  }
  return m;
}

/** Encoded length of the attributes present in `values` (known names, then `unknown`). */
export function attributesSize(table: AttrTable, values: Record<string, unknown>): number {
  let total = 0;
  for (const r of table.rows) {
    if (r.skip) continue;
    const v = values[r.name];
    if (v !== undefined) total += align4(NLA_HDRLEN + r.codec.size(v));
  }
  for (const raw of (values.unknown as RawAttribute[] | undefined) ?? []) total += align4(NLA_HDRLEN + raw.bytes.length);
  return total;
}

/** Writes the attributes present in `values` at `off`; returns the offset after them. */
export function emitAttributes(table: AttrTable, values: Record<string, unknown>, b: Buffer, off: number): number {
  const put = (type: number, size: number, write: (at: number) => void): void => {
    b.writeUInt16LE(NLA_HDRLEN + size, off);
    b.writeUInt16LE(type, off + 2);
    write(off + NLA_HDRLEN);
    off += align4(NLA_HDRLEN + size);
  };
  for (const r of table.rows) {
    if (r.skip) continue;
    const v = values[r.name];
    if (v !== undefined) put(r.type, r.codec.size(v), (at) => r.codec.emit(v, b, at));
  }
  for (const raw of (values.unknown as RawAttribute[] | undefined) ?? []) put(raw.type | (raw.flags ?? 0), raw.bytes.length, (at) => void raw.bytes.copy(b, at));
  return off;
}

/** Encodes attributes into a new buffer (used for request attributes and test fixtures). */
export function encodeAttributes(table: AttrTable, values: Record<string, unknown>): Buffer {
  const b = Buffer.alloc(attributesSize(table, values));
  emitAttributes(table, values, b, 0);
  return b;
}
