import { defineStruct, structDecoder, structToBuffer } from '../lib/netlink/struct';
import { DecodeError } from '../lib/errors';

const demo = defineStruct('demo', 8, [
  { name: 'a', orig: 'd_a', type: 'u8', offset: 0 },
  { name: 'lo', orig: 'd_lo', type: 'u8', offset: 1, bits: [0, 4] },
  { name: 'hi', orig: 'd_hi', type: 'u8', offset: 1, bits: [4, 4] },
  { name: 'port', orig: 'd_port', type: 'be16', offset: 2 },
  { name: 'n', orig: 'd_n', type: 'u32', offset: 4 },
] as const);

const grow = defineStruct('grow', 8, [
  { name: 'x', orig: 'g_x', type: 'u32', offset: 0 },
  { name: 'y', orig: 'g_y', type: 'u32', offset: 4 },
  { name: 'z', orig: 'g_z', type: 'u64', offset: 8, since: '9.9' },
] as const, { growable: true });

describe('struct tables', () => {
  test('decode and encode round-trip, bit fields included', () => {
    const v = { a: 7, lo: 3, hi: 12, port: 443, n: 0xdeadbeef };
    const b = structToBuffer(demo, v);
    expect(b.toString('hex')).toBe('07c301bbefbeadde');
    expect(structDecoder(demo)(b, 0, b.length)).toEqual(v);
  });
  test('a fixed structure that is too short is a DecodeError', () => {
    expect(() => structDecoder(demo)(Buffer.alloc(7), 0, 7)).toThrow(DecodeError);
  });
  test('growable structures decode the fields present and keep the tail', () => {
    const full = structToBuffer(grow, { x: 1, y: 2, z: 3n });
    const d = structDecoder(grow);
    expect(d(full, 0, 6)).toEqual({ x: 1, y: undefined, z: undefined, tail: undefined });
    const longer = Buffer.concat([full, Buffer.from([9, 9])]);
    expect(d(longer, 0, longer.length)).toEqual({ x: 1, y: 2, z: 3n, tail: Buffer.from([9, 9]) });
  });
});
