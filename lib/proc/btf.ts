/**
 * A reader of the kernel's own type information (BTF, /sys/kernel/btf/vmlinux), for the
 * few answers a BPF program needs: a type's id and a struct member's offset and size on the
 * running kernel (struct layouts differ between builds, so they are never hard-coded).
 * @module
 */
import { readFileSync } from 'node:fs';
import { defineStruct, structDecoder, viewOf } from '../netlink/struct';

/** `struct btf_header` (linux/btf.h); the section offsets count from the header's end. */
const btfHeader = defineStruct('btf_header', 24, [
  { name: 'magic', orig: 'magic', type: 'u16', offset: 0 },
  { name: 'version', orig: 'version', type: 'u8', offset: 2 },
  { name: 'flags', orig: 'flags', type: 'u8', offset: 3 },
  { name: 'hdrLen', orig: 'hdr_len', type: 'u32', offset: 4 },
  { name: 'typeOff', orig: 'type_off', type: 'u32', offset: 8 },
  { name: 'typeLen', orig: 'type_len', type: 'u32', offset: 12 },
  { name: 'strOff', orig: 'str_off', type: 'u32', offset: 16 },
  { name: 'strLen', orig: 'str_len', type: 'u32', offset: 20 },
] as const);

/** `struct btf_type`: every type starts with it; `sizeOrType` is a size or a type id by kind. */
const btfType = defineStruct('btf_type', 12, [
  { name: 'nameOff', orig: 'name_off', type: 'u32', offset: 0 },
  { name: 'info', orig: 'info', type: 'u32', offset: 4 },
  { name: 'sizeOrType', orig: 'size/type', type: 'u32', offset: 8 },
] as const);

/** `struct btf_member`: one member of a struct or union. */
const btfMember = defineStruct('btf_member', 12, [
  { name: 'nameOff', orig: 'name_off', type: 'u32', offset: 0 },
  { name: 'type', orig: 'type', type: 'u32', offset: 4 },
  { name: 'offset', orig: 'offset', type: 'u32', offset: 8 },
] as const);

/** `struct btf_array`, after an ARRAY type. */
const btfArray = defineStruct('btf_array', 12, [
  { name: 'type', orig: 'type', type: 'u32', offset: 0 },
  { name: 'indexType', orig: 'index_type', type: 'u32', offset: 4 },
  { name: 'nelems', orig: 'nelems', type: 'u32', offset: 8 },
] as const);

const decodeHeader = structDecoder(btfHeader);
const decodeMember = structDecoder(btfMember);
const decodeArray = structDecoder(btfArray);
const BTF_MAGIC = 0xeb9f;

/** BTF_KIND_* (linux/btf.h). */
export const BTF_KIND = {
  INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, FWD: 7, TYPEDEF: 8, VOLATILE: 9, CONST: 10,
  RESTRICT: 11, FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15, FLOAT: 16, DECL_TAG: 17, TYPE_TAG: 18, ENUM64: 19,
} as const;

// Bytes that follow the common header, per kind (vlen = the count in `info`).
function extraBytes(kind: number, vlen: number): number {
  switch (kind) {
    case BTF_KIND.INT: case BTF_KIND.VAR: case BTF_KIND.DECL_TAG: return 4;
    case BTF_KIND.ARRAY: return btfArray.size;
    case BTF_KIND.STRUCT: case BTF_KIND.UNION: return vlen * btfMember.size;
    case BTF_KIND.ENUM: case BTF_KIND.FUNC_PROTO: return vlen * 8;
    case BTF_KIND.DATASEC: case BTF_KIND.ENUM64: return vlen * 12;
    case BTF_KIND.PTR: case BTF_KIND.FWD: case BTF_KIND.TYPEDEF: case BTF_KIND.VOLATILE: case BTF_KIND.CONST:
    case BTF_KIND.RESTRICT: case BTF_KIND.FUNC: case BTF_KIND.FLOAT: case BTF_KIND.TYPE_TAG: return 0;
    default: throw new BtfError(`unknown BTF kind ${kind}`);
  }
}

/** The BTF data is missing, malformed, or lacks what was asked for. */
export class BtfError extends Error {
  override readonly name = 'BtfError';
}

/** A struct member as the running kernel lays it out. */
export interface BtfMember {
  /** Byte offset in the struct. */
  offset: number;
  /** Size in bytes (a pointer is 8; an array its whole length). */
  size: number;
  /** BTF kind of the member's type once typedefs and qualifiers are stripped. */
  kind: number;
}

/** A parsed BTF blob: types indexed by id, looked up by name. */
export class Btf {
  private readonly b: Buffer;
  private readonly view: DataView;
  private readonly strStart: number;
  private readonly strEnd: number;
  /** Byte offset of each type's header, by id (id 0 is void). */
  private readonly starts: Int32Array;
  private readonly count: number;

  /** Parses a BTF blob (e.g. the bytes of /sys/kernel/btf/vmlinux). */
  constructor(bytes: Buffer) {
    this.b = bytes;
    this.view = viewOf(bytes);
    if (bytes.length < btfHeader.size || this.view.getUint16(0, true) !== BTF_MAGIC) throw new BtfError('not BTF data (bad magic)');
    const h = decodeHeader(bytes, 0, bytes.length);
    const typeStart = h.hdrLen + h.typeOff;
    const typeEnd = typeStart + h.typeLen;
    this.strStart = h.hdrLen + h.strOff;
    this.strEnd = this.strStart + h.strLen;
    if (typeEnd > bytes.length || this.strEnd > bytes.length) throw new BtfError('BTF sections run past the end of the data');
    let starts = new Int32Array(1 << 16);
    let id = 1;
    for (let at = typeStart; at < typeEnd; id++) {
      if (id >= starts.length) {
        const grown = new Int32Array(starts.length * 2);
        grown.set(starts);
        starts = grown;
      }
      starts[id] = at;
      const info = this.view.getUint32(at + 4, true);
      at += btfType.size + extraBytes((info >>> 24) & 0x1f, info & 0xffff);
    }
    this.starts = starts;
    this.count = id;
  }

  /** Reads and parses the running kernel's BTF. */
  static vmlinux(path = '/sys/kernel/btf/vmlinux'): Btf {
    return new Btf(readFileSync(path));
  }

  private kindOf(id: number): number {
    return (this.view.getUint32(this.starts[id] + 4, true) >>> 24) & 0x1f;
  }

  /** Offset of `name` in the string section, or -1 (BTF stores each string once). */
  private stringOffset(name: string): number {
    const needle = Buffer.from(`\0${name}\0`, 'latin1');
    const at = this.b.indexOf(needle, this.strStart);
    return at < 0 || at + needle.length > this.strEnd ? -1 : at + 1 - this.strStart;
  }

  /** The id of the type of this kind and name; throws when there is none. */
  typeId(kind: number, name: string): number {
    const nameOff = this.stringOffset(name);
    if (nameOff > 0) {
      for (let id = 1; id < this.count; id++) {
        const at = this.starts[id];
        if (this.view.getUint32(at, true) === nameOff && this.kindOf(id) === kind) return id;
      }
    }
    throw new BtfError(`the kernel's BTF has no ${kindName(kind)} ${name}`);
  }

  /** Strips typedefs and qualifiers. */
  private resolve(id: number): number {
    for (let k = this.kindOf(id); k === BTF_KIND.TYPEDEF || k === BTF_KIND.VOLATILE || k === BTF_KIND.CONST || k === BTF_KIND.RESTRICT || k === BTF_KIND.TYPE_TAG; k = this.kindOf(id)) {
      id = this.view.getUint32(this.starts[id] + 8, true);
    }
    return id;
  }

  private sizeOf(id: number): number {
    const kind = this.kindOf(id);
    const at = this.starts[id];
    if (kind === BTF_KIND.PTR) return 8;
    if (kind === BTF_KIND.ARRAY) {
      const a = decodeArray(this.b, at + btfType.size, btfArray.size);
      return a.nelems * this.sizeOf(this.resolve(a.type));
    }
    return this.view.getUint32(at + 8, true);
  }

  /**
   * Where member `name` of struct `structName` lies. Members of anonymous structs and
   * unions inside it are found too (their offsets added), as C lets code name them.
   */
  member(structName: string, name: string): BtfMember {
    const found = this.findMember(this.typeId(BTF_KIND.STRUCT, structName), this.stringOffset(name), 0);
    if (found === undefined) throw new BtfError(`struct ${structName} has no member ${name} in the kernel's BTF`);
    return found;
  }

  private findMember(structId: number, nameOff: number, base: number): BtfMember | undefined {
    if (nameOff <= 0) return undefined;
    const at = this.starts[structId];
    const info = this.view.getUint32(at + 4, true);
    const bitfields = info >>> 31 === 1;
    const vlen = info & 0xffff;
    for (let i = 0; i < vlen; i++) {
      const m = decodeMember(this.b, at + btfType.size + i * btfMember.size, btfMember.size);
      const bits = bitfields ? m.offset & 0xffffff : m.offset;
      const type = this.resolve(m.type);
      const kind = this.kindOf(type);
      if (m.nameOff === nameOff) {
        if (bits % 8 !== 0) throw new BtfError('member is a bit field');
        return { offset: base + bits / 8, size: this.sizeOf(type), kind };
      }
      if (m.nameOff === 0 && (kind === BTF_KIND.STRUCT || kind === BTF_KIND.UNION)) {
        const inner = this.findMember(type, nameOff, base + bits / 8);
        if (inner !== undefined) return inner;
      }
    }
    return undefined;
  }
}

function kindName(kind: number): string {
  const e = Object.entries(BTF_KIND).find(([, v]) => v === kind);
  return e ? e[0].toLowerCase() : `kind ${kind}`;
}
