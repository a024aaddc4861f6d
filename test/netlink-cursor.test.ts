/**
 * The attribute cursor on bytes built by hand (each attribute annotated): the walk, typed
 * reads, nesting, and the sticky error with its byte offset for every kind of bad framing.
 */
import fc from 'fast-check';
import { AttributeCursor, NLA_F_NESTED, NLA_F_NET_BYTEORDER, checkAttributes, decodeAttributes, defineAttributes, attr, codec, minSizes } from '../lib/netlink/attributes';
import { DecodeError } from '../lib/errors';

/** One attribute: header (length including itself, type with flags), payload, padding to 4. */
function nla(type: number, payload: Buffer | number[], pad = true): Buffer {
  const p = Buffer.from(payload);
  const head = Buffer.alloc(4);
  head.writeUInt16LE(4 + p.length, 0);
  head.writeUInt16LE(type, 2);
  const padding = pad ? Buffer.alloc((4 - (p.length % 4)) % 4) : Buffer.alloc(0);
  return Buffer.concat([head, p, padding]);
}
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
};
const u64 = (n: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n, 0);
  return b;
};

/** Walks `c`, listing [type, payload offset, payload length] of each attribute. */
function walk(c: AttributeCursor): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  while (c.next()) out.push([c.type, c.payload, c.length]);
  return out;
}

describe('AttributeCursor', () => {
  test('walks attributes in order with their types, payloads and typed reads', () => {
    const b = Buffer.concat([
      nla(1, [0x2a]), // u8 42, 3 bytes of padding
      nla(2, [0x34, 0x12]), // u16 0x1234, 2 bytes of padding
      nla(3, u32(0xdeadbeef)),
      nla(4, u32(-5)),
      nla(5, u64(0x1122334455667788n)),
      nla(6, Buffer.from('cubic\0\0\0', 'latin1')), // NUL-trimmed
      nla(7, [1, 2, 3]),
    ]);
    const c = new AttributeCursor(b);
    expect(c.next()).toBe(true);
    expect([c.type, c.offset, c.payload, c.length, c.u8()]).toEqual([1, 0, 4, 1, 42]);
    expect(c.next() && c.u16()).toBe(0x1234);
    expect(c.next() && c.u32()).toBe(0xdeadbeef);
    expect(c.next() && c.s32()).toBe(-5);
    expect(c.next()).toBe(true);
    expect(c.u64()).toBe(0x1122334455667788n);
    expect(c.u64Number()).toBe(Number(0x1122334455667788n));
    expect(c.next() && c.string()).toBe('cubic');
    expect(c.next()).toBe(true);
    const bytes = c.bytes();
    expect(bytes).toEqual(Buffer.from([1, 2, 3]));
    bytes[0] = 99; // a copy
    expect(b[c.payload]).toBe(1);
    expect(c.next()).toBe(false);
    expect(c.err()).toBeUndefined();
    expect(() => c.throwIfError()).not.toThrow();
  });

  test('masks the flag bits off the type and keeps them', () => {
    const b = Buffer.concat([nla(9 | NLA_F_NESTED, []), nla(3 | NLA_F_NET_BYTEORDER, u32(1)), nla(5, [])]);
    const c = new AttributeCursor(b);
    expect(c.next()).toBe(true);
    expect([c.type, c.flags, c.isNested, c.isNetByteOrder]).toEqual([9, NLA_F_NESTED, true, false]);
    expect(c.next()).toBe(true);
    expect([c.type, c.flags, c.isNested, c.isNetByteOrder]).toEqual([3, NLA_F_NET_BYTEORDER, false, true]);
    expect(c.next()).toBe(true);
    expect([c.type, c.flags]).toEqual([5, 0]);
    expect(c.raw()).toEqual({ type: 5, bytes: Buffer.alloc(0) });
  });

  test('a zero-length attribute is one attribute with an empty payload', () => {
    const b = Buffer.concat([nla(1, []), nla(2, u32(7))]);
    expect(walk(new AttributeCursor(b))).toEqual([[1, 4, 0], [2, 8, 4]]);
  });

  test('a typed read of a payload too short for it returns 0 and sets the sticky error', () => {
    const b = Buffer.concat([nla(1, [1, 2]), nla(2, u32(7))]);
    const c = new AttributeCursor(b, 0, b.length, 'demo_attrs');
    expect(c.next()).toBe(true);
    expect(c.u32()).toBe(0);
    const e = c.err();
    expect(e).toBeInstanceOf(DecodeError);
    expect(e).toMatchObject({ offset: 0, structName: 'demo_attrs' });
    expect(c.next()).toBe(false); // sticky: the walk is over
    expect(() => c.throwIfError()).toThrow(e!);
  });

  test('padding: the last attribute may end without it, and up to 3 trailing bytes are ignored', () => {
    const unpadded = Buffer.concat([nla(1, u32(1)), nla(2, [9], false)]); // 4+4, then 4+1 with no padding
    expect(walk(new AttributeCursor(unpadded))).toEqual([[1, 4, 4], [2, 12, 1]]);
    const trailing = Buffer.concat([nla(1, u32(1)), Buffer.alloc(3)]);
    const c = new AttributeCursor(trailing);
    expect(walk(c)).toEqual([[1, 4, 4]]);
    expect(c.err()).toBeUndefined();
  });

  test('a length below the header is a DecodeError at that attribute', () => {
    const bad = Buffer.from([3, 0, 2, 0]); // nla_len 3 < 4
    const b = Buffer.concat([nla(1, u32(1)), bad, nla(2, u32(2))]);
    const c = new AttributeCursor(b, 0, b.length, 'demo_attrs');
    expect(walk(c)).toEqual([[1, 4, 4]]);
    expect(c.err()).toMatchObject({ offset: 8, structName: 'demo_attrs' });
    expect(c.err()!.message).toMatch(/type 2 has length 3/);
    expect(c.next()).toBe(false);
  });

  test('a length past the end is a DecodeError at that attribute', () => {
    const b = Buffer.concat([nla(1, u32(1)), nla(2, u32(2))]);
    b.writeUInt16LE(12, 8); // the second claims 12 bytes, 8 are left
    const c = new AttributeCursor(b);
    expect(walk(c)).toEqual([[1, 4, 4]]);
    expect(c.err()).toMatchObject({ offset: 8 });
    // The end is the cursor's, not the buffer's: a walk of a prefix stops at its end too.
    const whole = Buffer.concat([nla(1, u32(1)), nla(2, u32(2))]);
    const prefix = new AttributeCursor(whole, 0, 12);
    expect(walk(prefix)).toEqual([[1, 4, 4]]);
    expect(prefix.err()).toMatchObject({ offset: 8 });
  });

  test('minimum sizes (a policy) make a short payload of a known type an error', () => {
    const mins = new Uint16Array([0, 4, 8]);
    const b = Buffer.concat([nla(1, u32(1)), nla(2, u32(2)), nla(30, [])]);
    const c = new AttributeCursor(b, 0, b.length, 'demo_attrs', mins);
    expect(walk(c)).toEqual([[1, 4, 4]]);
    expect(c.err()).toMatchObject({ offset: 8 });
    expect(c.err()!.message).toMatch(/needs 8 bytes, got 4/);
    // Types past the policy's end are unknown ones: any size goes.
    const unknown = new AttributeCursor(Buffer.concat([nla(30, [])]), 0, 4, 'x', mins);
    expect(walk(unknown)).toEqual([[30, 4, 0]]);
    expect(unknown.err()).toBeUndefined();
  });

  test('nested cursors walk the payload, and their error is the parent\'s', () => {
    const inner = Buffer.concat([nla(1, u32(10)), nla(2, u32(20))]);
    const b = Buffer.concat([nla(7 | NLA_F_NESTED, inner), nla(8, u32(3))]);
    const c = new AttributeCursor(b);
    const reused = new AttributeCursor();
    expect(c.next()).toBe(true);
    const n = c.nested(reused);
    expect(n).toBe(reused);
    expect(walk(n)).toEqual([[1, 8, 4], [2, 16, 4]]);
    expect(c.next() && c.u32()).toBe(3);
    expect(c.err()).toBeUndefined();

    const broken = Buffer.concat([nla(7, Buffer.concat([nla(1, u32(10)), Buffer.from([2, 0, 1, 0])])), nla(8, u32(3))]);
    const p = new AttributeCursor(broken, 0, broken.length, 'outer');
    expect(p.next()).toBe(true);
    const child = p.nested(undefined, 'inner');
    expect(walk(child)).toEqual([[1, 8, 4]]);
    expect(child.err()).toMatchObject({ offset: 12, structName: 'inner' });
    expect(p.err()).toBe(child.err());
    expect(p.next()).toBe(false);
  });

  test('reset reuses the cursor on other bytes and clears its error', () => {
    const c = new AttributeCursor(Buffer.from([1, 0, 0, 0]));
    expect(c.next()).toBe(false);
    expect(c.err()).toBeDefined();
    const b = nla(4, u32(4));
    c.reset(b, 0, b.length);
    expect(c.err()).toBeUndefined();
    expect(walk(c)).toEqual([[4, 4, 4]]);
  });

  test('any bytes: the walk stays inside [start, end) and either ends cleanly or with one DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(64), fc.nat(64), (bytes, x, y) => {
        const b = Buffer.from(bytes);
        const start = Math.min(x, b.length);
        const end = start + Math.min(y, b.length - start);
        const c = new AttributeCursor(b, start, end);
        let n = 0;
        while (c.next()) {
          expect(c.offset).toBeGreaterThanOrEqual(start);
          expect(c.payload + c.length).toBeLessThanOrEqual(end);
          n++;
        }
        expect(n).toBeLessThanOrEqual((end - start) / 4);
        const e = c.err();
        if (e !== undefined) {
          expect(e).toBeInstanceOf(DecodeError);
          expect(e.offset).toBeGreaterThanOrEqual(start);
          expect(e.offset).toBeLessThan(end);
        }
      }),
    );
  });
});

describe('table walks over the cursor', () => {
  const table = defineAttributes('demo_attrs', [
    attr(1, 'DEMO_A', 'a', codec.u32),
    attr(2, 'DEMO_B', 'b', codec.string),
  ] as const);
  const ctx = { family: 0, protocol: 0 };

  test('decodeAttributes keeps unknown types raw, flags included, and the first of a duplicate', () => {
    const b = Buffer.concat([nla(1, u32(5)), nla(40 | NLA_F_NESTED, [7]), nla(1, u32(6)), nla(2, Buffer.from('x\0'))]);
    const out: Record<string, unknown> = {};
    const stats = { duplicates: 0 };
    decodeAttributes(table, b, 0, b.length, out, ctx, stats);
    expect(out).toEqual({ a: 5, b: 'x', unknown: [{ type: 40, bytes: Buffer.from([7]), flags: NLA_F_NESTED }] });
    expect(stats.duplicates).toBe(1);
  });

  test('decodeAttributes and checkAttributes throw the cursor\'s DecodeError, with its offset', () => {
    const b = Buffer.concat([nla(2, Buffer.from('ok\0')), nla(1, [1, 2])]);
    expect(() => decodeAttributes(table, b, 0, b.length, {}, ctx)).toThrow(DecodeError);
    let err: unknown;
    try {
      checkAttributes(table, b, 0, b.length);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ offset: 8, structName: 'demo_attrs' });
    expect(Array.from(minSizes(table))).toEqual([0, 4, 0]);
  });
});
