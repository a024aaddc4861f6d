/**
 * Attribute payload codecs that several sock_diag families need beyond the basic
 * ones in `codec.*`: an array of fixed structures, and a u32 of flag bits.
 * @module
 */
import { DecodeError } from '../errors';
import type { AttrCodec } from './attributes';
import { StructSpec, StructValue, StructInput, structDecoder, encodeStruct } from './struct';

/**
 * A payload that is `n` back-to-back copies of a fixed structure (e.g. `PACKET_DIAG_MCLIST`,
 * `PACKET_DIAG_FILTER`). Decodes to an array; a payload that is not a whole number of
 * structures is a {@link DecodeError}.
 */
export function structArray<S extends StructSpec>(spec: S): AttrCodec<StructValue<S>[]> {
  if (spec.growable) throw new Error(`structArray(${spec.name}): growable structures have no fixed stride`);
  const decode = structDecoder(spec);
  const size = spec.size;
  return {
    minSize: 0,
    decode: (b, o, n) => {
      if (n % size !== 0) {
        throw new DecodeError(`array of struct ${spec.name} has ${n} bytes, not a multiple of ${size}`, o, spec.name);
      }
      const count = n / size;
      const out = new Array<StructValue<S>>(count);
      for (let i = 0; i < count; i++) out[i] = decode(b, o + i * size, size);
      return out;
    },
    size: (v) => v.length * size,
    emit: (v, b, o) => {
      for (let i = 0; i < v.length; i++) encodeStruct(spec, v[i] as StructInput<S>, b, o + i * size);
    },
  };
}

/** A u32 of flag bits decoded into the raw number plus one boolean per named bit. */
export type FlagSet<B extends Readonly<Record<string, number>>> = { raw: number } & { [K in keyof B]: boolean };

/**
 * A u32 flag word (e.g. `NETLINK_DIAG_FLAGS`): decodes to `{ raw, <name>: boolean … }`,
 * one boolean per entry of `bits` (name → mask), in `bits` order so every value has one shape.
 * Encoding writes `raw` OR-ed with the masks whose boolean is true.
 */
export function u32Flags<const B extends Readonly<Record<string, number>>>(name: string, bits: B): AttrCodec<FlagSet<B>> {
  const entries = Object.entries(bits);
  return {
    minSize: 4,
    decode: (b, o, n) => {
      if (n < 4) throw new DecodeError(`attribute ${name} needs 4 bytes, got ${n}`, o, name);
      const raw = b.readUInt32LE(o);
      const out: Record<string, number | boolean> = { raw };
      for (const [k, mask] of entries) out[k] = (raw & mask) !== 0;
      return out as FlagSet<B>;
    },
    size: () => 4,
    emit: (v, b, o) => {
      let raw = v.raw >>> 0;
      for (const [k, mask] of entries) if ((v as Record<string, unknown>)[k] === true) raw |= mask;
      b.writeUInt32LE(raw >>> 0, o);
    },
  };
}
