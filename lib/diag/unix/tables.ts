/**
 * `<linux/unix_diag.h>` as tables: the request, the reply message, the attribute
 * structures and one attribute row per `UNIX_DIAG_*` constant.
 * @module
 */
import { attr, codec, defineAttributes, AttrCodec, AttrValues } from '../../netlink/attributes';
import { defineStruct, StructValue } from '../../netlink/struct';
import { skMeminfo } from '../common/skmeminfo';

/** `struct unix_diag_req`: what to dump (or which one socket to get). */
export const unixDiagReq = defineStruct('unix_diag_req', 24, [
  { name: 'family', orig: 'sdiag_family', type: 'u8', offset: 0 },
  { name: 'protocol', orig: 'sdiag_protocol', type: 'u8', offset: 1 },
  { name: 'pad', orig: 'pad', type: 'u16', offset: 2 },
  { name: 'states', orig: 'udiag_states', type: 'u32', offset: 4 },
  { name: 'inode', orig: 'udiag_ino', type: 'u32', offset: 8 },
  { name: 'show', orig: 'udiag_show', type: 'u32', offset: 12 },
  /** `__u32 udiag_cookie[2]`: low word first, i.e. a little-endian u64. */
  { name: 'cookie', orig: 'udiag_cookie', type: 'u64', offset: 16 },
] as const);

/** `struct unix_diag_msg`: the fixed part of each reply. */
export const unixDiagMsg = defineStruct('unix_diag_msg', 16, [
  { name: 'family', orig: 'udiag_family', type: 'u8', offset: 0 },
  { name: 'type', orig: 'udiag_type', type: 'u8', offset: 1 },
  { name: 'state', orig: 'udiag_state', type: 'u8', offset: 2 },
  { name: 'pad', orig: 'pad', type: 'u8', offset: 3 },
  { name: 'inode', orig: 'udiag_ino', type: 'u32', offset: 4 },
  { name: 'cookie', orig: 'udiag_cookie', type: 'u64', offset: 8 },
] as const);

/** `struct unix_diag_vfs` (`UNIX_DIAG_VFS`): the file a path-bound socket is bound to. */
export const unixDiagVfs = defineStruct('unix_diag_vfs', 8, [
  { name: 'inode', orig: 'udiag_vfs_ino', type: 'u32', offset: 0 },
  { name: 'dev', orig: 'udiag_vfs_dev', type: 'u32', offset: 4 },
] as const);

/** `struct unix_diag_rqlen` (`UNIX_DIAG_RQLEN`): queue lengths, what `ss` shows as Recv-Q/Send-Q. */
export const unixDiagRqlen = defineStruct('unix_diag_rqlen', 8, [
  { name: 'rqueue', orig: 'udiag_rqueue', type: 'u32', offset: 0 },
  { name: 'wqueue', orig: 'udiag_wqueue', type: 'u32', offset: 4 },
] as const);

/**
 * The file the socket is bound to: inode number on its file system and the kernel's
 * device number of that file system (kernel encoding: major = `dev >>> 20`, minor = `dev & 0xfffff`).
 */
export type UnixDiagVfs = StructValue<typeof unixDiagVfs>;

/**
 * Queue lengths. For a listening socket `rqueue` is the number of connections waiting to be
 * accepted and `wqueue` the backlog limit; otherwise both are in bytes: `rqueue` the data
 * waiting to be read (for datagram sockets: the size of the first queued datagram) and
 * `wqueue` the memory of data sent but not yet consumed by the peer.
 */
export type UnixDiagRqlen = StructValue<typeof unixDiagRqlen>;

/** `UDIAG_SHOW_*`: which attributes a request asks for (`udiag_show`). */
export const UDIAG_SHOW = {
  /** `UNIX_DIAG_NAME`. */
  NAME: 0x01,
  /** `UNIX_DIAG_VFS`. */
  VFS: 0x02,
  /** `UNIX_DIAG_PEER`. */
  PEER: 0x04,
  /** `UNIX_DIAG_ICONS`. */
  ICONS: 0x08,
  /** `UNIX_DIAG_RQLEN`. */
  RQLEN: 0x10,
  /** `UNIX_DIAG_MEMINFO`. */
  MEMINFO: 0x20,
  /** `UNIX_DIAG_UID` (Linux 5.3+). */
  UID: 0x40,
} as const;

/** Every `UDIAG_SHOW_*` bit: the default of {@link encodeUnixRequest}. */
export const UDIAG_SHOW_ALL = 0x7f;

/** `UNIX_DIAG_SHUTDOWN` bits (the kernel's `RCV_SHUTDOWN` and `SEND_SHUTDOWN`). */
export const UNIX_SHUTDOWN = {
  /** No more receptions (`shutdown(SHUT_RD)`). */
  RCV: 1,
  /** No more transmissions (`shutdown(SHUT_WR)`). */
  SEND: 2,
} as const;

/**
 * `UNIX_DIAG_NAME` payload as `ss` prints it: a path name up to its NUL, or for an abstract
 * name (first byte NUL) `'@'` followed by the name with every NUL shown as `'@'`. Bytes are
 * read as UTF-8. Encoding turns a leading `'@'` back into NUL and ends a path with NUL,
 * as the kernel sends them.
 */
export const unixNameCodec: AttrCodec<string> = {
  decode: (b, o, n) => {
    if (n === 0) return '';
    if (b[o] === 0) return '@' + b.toString('utf8', o + 1, o + n).replace(/\0/g, '@');
    let end = o;
    const stop = o + n;
    while (end < stop && b[end] !== 0) end++;
    return b.toString('utf8', o, end);
  },
  size: (v) => (v.startsWith('@') ? Buffer.byteLength(v, 'utf8') : v.length === 0 ? 0 : Buffer.byteLength(v, 'utf8') + 1),
  emit: (v, b, o) => {
    if (v.startsWith('@')) {
      b[o] = 0;
      b.write(v.slice(1), o + 1, 'utf8');
    } else if (v.length > 0) {
      const n = b.write(v, o, 'utf8');
      b[o + n] = 0;
    }
  },
};

/**
 * `UNIX_DIAG_*` attributes. Each row's name is the {@link UnixSocket} property it fills.
 * `UNIX_DIAG_SHUTDOWN` is always sent; the others answer a `UDIAG_SHOW_*` bit.
 */
export const unixAttributes = defineAttributes('unix_diag_attrs', [
  attr(0, 'UNIX_DIAG_NAME', 'path', unixNameCodec),
  attr(1, 'UNIX_DIAG_VFS', 'vfs', codec.struct(unixDiagVfs)),
  attr(2, 'UNIX_DIAG_PEER', 'peerInode', codec.u32),
  attr(3, 'UNIX_DIAG_ICONS', 'icons', codec.u32Array),
  attr(4, 'UNIX_DIAG_RQLEN', 'rqlen', codec.struct(unixDiagRqlen)),
  attr(5, 'UNIX_DIAG_MEMINFO', 'meminfo', codec.struct(skMeminfo)),
  attr(6, 'UNIX_DIAG_SHUTDOWN', 'shutdown', codec.u8),
  attr(7, 'UNIX_DIAG_UID', 'uid', codec.u32),
] as const);

/** The decoded `UNIX_DIAG_*` attributes, by property name. */
export type UnixAttributes = AttrValues<typeof unixAttributes>;
