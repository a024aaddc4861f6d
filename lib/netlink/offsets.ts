/**
 * Field offsets of a structure table, for decoders that read a message's fixed
 * fields straight from the receive buffer instead of building an intermediate object.
 * @module
 */
import { StructSpec, FieldType, fieldSize } from './struct';

/** Byte offset of every field of a structure, by its camelCase name. */
export type StructOffsets<S extends StructSpec> = {
  readonly [F in S['fields'][number] as F['name']]: number;
};

/**
 * The offset of each field of `spec`, computed once (at module load) so a hot decoder
 * can write `b.readUInt32LE(p + O.inode)` with the offset still coming from the table.
 * Bit fields share their scalar's offset.
 */
export function offsetsOf<S extends StructSpec>(spec: S): StructOffsets<S> {
  const out: Record<string, number> = {};
  for (const f of spec.fields) out[f.name] = f.offset;
  return Object.freeze(out) as StructOffsets<S>;
}

/**
 * Checks at module load that a field a hand-written decoder reads has the type and
 * size it assumes, so that editing the table cannot silently desynchronise them.
 * Returns the field's offset.
 */
export function fieldAt<S extends StructSpec>(spec: S, name: S['fields'][number]['name'], type: FieldType): number {
  const f = spec.fields.find((x) => x.name === name);
  if (f === undefined) throw new Error(`${spec.name} has no field ${name}`);
  if (f.type !== type || f.bits !== undefined) throw new Error(`${spec.name}.${f.orig} is ${f.type}, not ${type}`);
  if (f.offset + fieldSize(f) > spec.size) throw new Error(`${spec.name}.${f.orig} lies past sizeof`);
  return f.offset;
}
