/**
 * The one walker of netlink attributes (`struct nlattr` / `struct rtattr`): a cursor over the
 * bytes as received, modelled on mdlayher/netlink's `AttributeDecoder` — {@link AttributeCursor.next},
 * the current attribute's type and payload, typed reads, nested cursors, and one sticky
 * {@link DecodeError} (with the byte offset of the bad attribute) that ends the walk.
 *
 * The cursor reads the buffer at offsets: no `subarray` per attribute, and it can be reset
 * onto the next message without allocating.
 * @module
 */
import { DecodeError } from '../errors';

// The walker uses these module constants: compiled code reads its own exports as properties.
const TYPE_MASK = 0x3fff;
const HDRLEN = 4;

/** `NLA_F_NESTED | NLA_F_NET_BYTEORDER` are flags, not part of the type. */
export const NLA_TYPE_MASK = TYPE_MASK;
/** `NLA_F_NESTED`: the payload is itself attributes. */
export const NLA_F_NESTED = 0x8000;
/** `NLA_F_NET_BYTEORDER`: the payload is in network byte order. */
export const NLA_F_NET_BYTEORDER = 0x4000;
/** Size of `struct nlattr`. */
export const NLA_HDRLEN = HDRLEN;

/** Rounds up to the netlink alignment of 4 bytes. */
export function align4(n: number): number {
  return (n + 3) & ~3;
}

/** An attribute kept as it arrived (one a table does not know). */
export interface RawAttribute {
  /** Attribute type with the NLA flag bits masked off. */
  type: number;
  /** A copy of the payload. */
  bytes: Buffer;
  /** `NLA_F_NESTED` (0x8000) / `NLA_F_NET_BYTEORDER` (0x4000), when the attribute carried them. */
  flags?: number;
}

const EMPTY = Buffer.alloc(0);
/** Where a cursor with an error would walk next: past any end. */
const STOPPED = Number.MAX_SAFE_INTEGER;
const TWO_32 = 4294967296;

/**
 * A cursor over the attributes in `buffer[start, end)`:
 *
 * ```ts
 * const c = new AttributeCursor(b, off, end, 'inet_diag_attrs');
 * while (c.next()) if (c.type === INET_DIAG_MARK) mark = c.u32();
 * c.throwIfError();
 * ```
 *
 * `next()` stops at the end, or at the first attribute whose length is below the header or
 * runs past `end`, or (given minimum sizes, a policy) whose payload is shorter than its
 * type's minimum; that sets the sticky error. A typed read of a payload too short for it
 * returns 0 and sets the error too. Up to 3 bytes after the last attribute are padding.
 */
export class AttributeCursor {
  /** Type of the current attribute, with the flag bits masked off. */
  type = 0;
  /** Where its payload starts in {@link AttributeCursor.buffer} (-1 before the first `next()`). */
  payload = -1;
  /** Its payload length (the header's length minus the header). */
  length = 0;
  /** The bytes walked. */
  buffer: Buffer = EMPTY;
  #dv: DataView | undefined;
  #next = 0;
  #end = 0;
  #name = 'nlattr';
  #minSizes: Uint16Array | undefined;
  #err: DecodeError | undefined;
  #parent: AttributeCursor | undefined;

  /** A cursor over `b[start, end)`; see {@link AttributeCursor.reset}. */
  constructor(b?: Buffer, start = 0, end = b?.length ?? 0, name = 'nlattr', minSizes?: Uint16Array) {
    if (b !== undefined) this.reset(b, start, end, name, minSizes);
  }

  /**
   * Points the cursor at the attributes in `b[start, end)` and clears its error. `name` (the
   * table or structure walked) goes into errors; `minSizes[type]`, when given, is the
   * smallest payload an attribute of that type may have. Returns the cursor.
   */
  reset(b: Buffer, start = 0, end = b.length, name = 'nlattr', minSizes?: Uint16Array): this {
    if (b !== this.buffer) {
      this.buffer = b;
      this.#dv = undefined;
    }
    this.#next = start;
    this.#end = end;
    this.#name = name;
    this.#minSizes = minSizes;
    this.#err = undefined;
    this.#parent = undefined;
    this.type = 0;
    this.payload = -1;
    this.length = 0;
    return this;
  }

  /** Moves to the next attribute; false at the end or once there is an error. */
  next(): boolean {
    const at = this.#next;
    const end = this.#end;
    // An error moves #next past any end: the walk is over.
    if (at + HDRLEN > end) return false;
    const b = this.buffer;
    const len = b[at] | (b[at + 1] << 8);
    const type = (b[at + 2] | (b[at + 3] << 8)) & TYPE_MASK;
    this.type = type;
    this.payload = at + HDRLEN;
    if (len < HDRLEN || at + len > end) return this.#badLength(len);
    this.length = len - HDRLEN;
    const mins = this.#minSizes;
    if (mins !== undefined && type < mins.length && len - HDRLEN < mins[type]) return this.#tooShort(mins[type]);
    this.#next = at + ((len + 3) & ~3);
    return true;
  }

  // The error paths, out of line so that next() stays small enough to inline.
  #badLength(len: number): false {
    this.length = 0;
    this.fail(`${this.#name} attribute type ${this.type} has length ${len}, ${this.#end - this.offset} bytes left`);
    return false;
  }

  #tooShort(min: number): false {
    this.fail(`${this.#name} attribute type ${this.type} needs ${min} bytes, got ${this.length}`);
    return false;
  }

  /** Where the current attribute's header starts (-1 before the first `next()`). */
  get offset(): number {
    return this.payload < 0 ? -1 : this.payload - HDRLEN;
  }

  /** Flag bits of the current attribute (`NLA_F_NESTED`, `NLA_F_NET_BYTEORDER`). */
  get flags(): number {
    // The flags are the top bits of the type, a little-endian u16 just before the payload.
    return this.payload < 0 ? 0 : (this.buffer[this.payload - 1] << 8) & ~TYPE_MASK;
  }

  /** Whether the current attribute carries `NLA_F_NESTED`. */
  get isNested(): boolean {
    return (this.flags & NLA_F_NESTED) !== 0;
  }

  /** Whether the current attribute carries `NLA_F_NET_BYTEORDER`. */
  get isNetByteOrder(): boolean {
    return (this.flags & NLA_F_NET_BYTEORDER) !== 0;
  }

  /**
   * Sets the sticky error, at the current attribute (or at the walk's start before the first
   * `next()`), unless one is set already; a nested cursor passes it to its parent. Decoders
   * call it for their own checks (e.g. a structure too short for its type).
   */
  fail(message: string): void {
    if (this.#err !== undefined) return;
    const e = new DecodeError(message, this.offset >= 0 ? this.offset : this.#next, this.#name);
    this.#set(e);
  }

  #set(e: DecodeError): void {
    for (let c: AttributeCursor | undefined = this; c !== undefined && c.#err === undefined; c = c.#parent) {
      c.#err = e;
      c.#next = STOPPED;
    }
  }

  /** The sticky error, if the walk met one. */
  err(): DecodeError | undefined {
    return this.#err;
  }

  /** Throws the sticky error, if any. */
  throwIfError(): void {
    if (this.#err !== undefined) throw this.#err;
  }

  #need(n: number, what: string): boolean {
    if (this.length >= n) return true;
    this.fail(`${this.#name} attribute type ${this.type} needs ${n} bytes for ${what}, has ${this.length}`);
    return false;
  }

  #view(): DataView {
    const b = this.buffer;
    return (this.#dv ??= new DataView(b.buffer, b.byteOffset, b.byteLength));
  }

  /** The payload as a u8 (0 and the error if it is empty). */
  u8(): number {
    return this.#need(1, 'a u8') ? this.buffer[this.payload] : 0;
  }

  /** The payload as a u16 in host (little-endian) order. */
  u16(): number {
    return this.#need(2, 'a u16') ? this.#view().getUint16(this.payload, true) : 0;
  }

  /** The payload as a u32 in host (little-endian) order. */
  u32(): number {
    return this.#need(4, 'a u32') ? this.#view().getUint32(this.payload, true) : 0;
  }

  /** The payload as an s32. */
  s32(): number {
    return this.#need(4, 'an s32') ? this.#view().getInt32(this.payload, true) : 0;
  }

  /** The payload as a u64. */
  u64(): bigint {
    return this.#need(8, 'a u64') ? this.#view().getBigUint64(this.payload, true) : 0n;
  }

  /** The payload as a u64 in a number: exact below 2^53, rounded to the nearest double above. */
  u64Number(): number {
    if (!this.#need(8, 'a u64')) return 0;
    const dv = this.#view();
    return dv.getUint32(this.payload + 4, true) * TWO_32 + dv.getUint32(this.payload, true);
  }

  /** The payload as a string (latin1), up to its first NUL. */
  string(): string {
    const b = this.buffer;
    const start = this.payload;
    const stop = start + this.length;
    let end = start;
    while (end < stop && b[end] !== 0) end++;
    return b.toString('latin1', start, end);
  }

  /** A copy of the payload (a copy does not keep the received batch alive). */
  bytes(): Buffer {
    return Buffer.from(this.buffer.subarray(this.payload, this.payload + this.length));
  }

  /** The current attribute as a {@link RawAttribute} (payload copied, flags kept). */
  raw(): RawAttribute {
    const r: RawAttribute = { type: this.type, bytes: this.bytes() };
    if (this.flags !== 0) r.flags = this.flags;
    return r;
  }

  /**
   * A cursor over the current attribute's payload (its attributes). Its error is this
   * cursor's error too. `into` is reused when given (no allocation), else a new cursor.
   */
  nested(into: AttributeCursor = new AttributeCursor(), name = this.#name, minSizes?: Uint16Array): AttributeCursor {
    into.reset(this.buffer, this.payload, this.payload + this.length, name, minSizes);
    into.#parent = this;
    return into;
  }
}
