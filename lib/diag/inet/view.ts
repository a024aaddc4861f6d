/**
 * The one zero-copy view of an inet_diag reply message, and the public inet socket objects
 * built on it. {@link InetMessage} reads the `inet_diag_msg` fields at their table offsets
 * in the received bytes and finds the attributes once, with the attribute cursor; the
 * command's fast path writes its text from it, and {@link InetSocketView} (what
 * `listSockets` returns for inet sockets) takes its fields from it.
 * @module
 */
import { AttributeCursor, decodeAttributes, minSizes } from '../../netlink/attributes';
import { checkMessage, type FamilyCheck } from '../../netlink/fixed-message';
import { fieldAt } from '../../netlink/offsets';
import { viewOf, type StructSpec } from '../../netlink/struct';
import { AF, IPPROTO, stateName, type SocketState } from '../constants';
import type { SocketProcess } from '../common/socket';
import { formatIPv4, formatIPv6 } from './address';
import { inetDiagAttributes, type InetDiagAttributes, type InetEndpoint } from './attributes';
import { inetDiagMsg } from './structs';
import type { InetSocket } from './index';

/** The inet protocols sock_diag knows, by the names sockets carry. */
export type InetProtocolName = 'tcp' | 'udp' | 'udplite' | 'raw' | 'mptcp' | 'sctp' | 'dccp';

/** IPPROTO number of each inet protocol name. */
export const INET_PROTOCOLS: Readonly<Record<InetProtocolName, number>> = {
  tcp: IPPROTO.TCP,
  udp: IPPROTO.UDP,
  udplite: IPPROTO.UDPLITE,
  raw: IPPROTO.RAW,
  mptcp: IPPROTO.MPTCP,
  sctp: IPPROTO.SCTP,
  dccp: IPPROTO.DCCP,
};

// By IPPROTO number, in a dense array (a lookup per row of a listing).
const PROTOCOL_BY_NUMBER: ReadonlyArray<InetProtocolName | undefined> = Array.from({ length: Math.max(...Object.values(INET_PROTOCOLS)) + 1 }, (_, n) =>
  (Object.keys(INET_PROTOCOLS) as InetProtocolName[]).find((name) => INET_PROTOCOLS[name] === n),
);

/** Names of `idiag_timer` values, as `ss -o` prints them. */
export const TIMER_NAMES = ['off', 'on', 'keepalive', 'timewait', 'persist', 'unknown'] as const;

/** A pending socket timer (`ss -o` `timer:(name,expires,retrans)`). */
export interface InetTimer {
  /** Which timer: retransmit (`on`), `keepalive`, `timewait`, zero-window probe (`persist`). */
  name: (typeof TIMER_NAMES)[number];
  /** Time until it fires, in milliseconds (idiag_expires). */
  expiresMs: number;
  /** Retransmits or probes so far (idiag_retrans). */
  retransmits: number;
}

/** The name of an INET_DIAG_* attribute in decoded sockets (`'info'`, `'skmem'`, …). */
export type InetAttributeName = keyof InetDiagAttributes;

/** The INET_DIAG_* type number of each attribute, by its name in decoded sockets (from the table). */
export const INET_DIAG_ATTR = Object.freeze(Object.fromEntries([...inetDiagAttributes.byName].map(([name, row]) => [name, row.type]))) as Readonly<Record<InetAttributeName, number>>;

// inet_diag_msg, from its table.
const M_FAMILY = fieldAt(inetDiagMsg, 'family', 'u8');
const M_STATE = fieldAt(inetDiagMsg, 'state', 'u8');
const M_TIMER = fieldAt(inetDiagMsg, 'timer', 'u8');
const M_RETRANS = fieldAt(inetDiagMsg, 'retrans', 'u8');
const M_SPORT = fieldAt(inetDiagMsg, 'sport', 'be16');
const M_DPORT = fieldAt(inetDiagMsg, 'dport', 'be16');
const M_SRC = fieldAt(inetDiagMsg, 'src', 'bytes');
const M_DST = fieldAt(inetDiagMsg, 'dst', 'bytes');
const M_IFINDEX = fieldAt(inetDiagMsg, 'ifindex', 'u32');
const M_COOKIE = fieldAt(inetDiagMsg, 'cookie', 'u64');
const M_EXPIRES = fieldAt(inetDiagMsg, 'expires', 'u32');
const M_RQUEUE = fieldAt(inetDiagMsg, 'rqueue', 'u32');
const M_WQUEUE = fieldAt(inetDiagMsg, 'wqueue', 'u32');
const M_UID = fieldAt(inetDiagMsg, 'uid', 'u32');
const M_INODE = fieldAt(inetDiagMsg, 'inode', 'u32');
const MSG_SIZE = inetDiagMsg.size;
const FAMILY: FamilyCheck = { offset: M_FAMILY, af: [AF.INET, AF.INET6], names: ['idiag_family', 'AF_INET or AF_INET6'] };

const A_PROTOCOL = INET_DIAG_ATTR.protocolNumber;
const MIN_SIZES = minSizes(inetDiagAttributes);
// Attribute positions: the payload offset of each type, then the payload length of each type.
const SLOTS = inetDiagAttributes.byType.length;
const NO_ATTRIBUTES: readonly number[] = [...new Array<number>(SLOTS).fill(-1), ...new Array<number>(SLOTS).fill(0)];
const EMPTY = Buffer.alloc(0);
const EMPTY_VIEW = new DataView(EMPTY.buffer, EMPTY.byteOffset, 0);
const NOTHING_FILLED = new Uint8Array(0);
const TWO_32 = 4294967296;

/**
 * One inet_diag reply message read in place: the fixed `inet_diag_msg` fields at their table
 * offsets, and each attribute's payload (the first of a repeated type, as decoding keeps),
 * found in one walk with an {@link AttributeCursor}. Reads of an attribute field past its
 * payload give 0 (a shorter structure from an older kernel).
 *
 * {@link readInetMessage} checks a message and binds a view to it. A view can be bound to one
 * message after another (its cursor and attribute table are reused, so a loop over a dump
 * allocates nothing); it keeps the bytes of the message it is bound to alive.
 */
export class InetMessage {
  /** The received bytes. */
  buffer: Buffer = EMPTY;
  /** A DataView of {@link InetMessage.buffer} (same offsets). */
  dv: DataView = EMPTY_VIEW;
  /** Where the message's `inet_diag_msg` starts in the buffer. */
  msg = 0;
  /** Where the message ends. */
  end = 0;
  #protocol = 0;
  // The payload offset of each attribute type (-1 when absent), then each one's length: #found
  // for the message bound (undefined until found), kept in #table from one message to the next.
  #found: number[] | undefined = undefined;
  #table: number[] | undefined = undefined;
  // The types the last walk recorded into #table, so that the next resets only them.
  #filled: Uint8Array = NOTHING_FILLED;
  #filledCount = 0;
  #cursor: AttributeCursor | undefined = undefined;
  #readers: Array<PayloadReader | undefined> | undefined = undefined;
  #socket: InetSocket | undefined = undefined;

  /**
   * Binds the view to the message whose `inet_diag_msg` starts at `msg` and which ends at
   * `end`, unchecked (see {@link readInetMessage}). `protocol` is the IPPROTO number of the
   * dump, or -1 to take it from INET_DIAG_PROTOCOL (events). `socket` is its decoded object,
   * if there is one already. Returns the view.
   */
  bind(b: Buffer, msg: number, end: number, protocol: number, socket?: InetSocket): this {
    if (b !== this.buffer) {
      this.buffer = b;
      this.dv = viewOf(b);
    }
    this.msg = msg;
    this.end = end;
    this.#protocol = protocol;
    this.#found = undefined;
    this.#socket = socket;
    return this;
  }

  /**
   * Checks the attributes' framing as decoding does: every length fits and every known type
   * has its minimum payload. Throws {@link DecodeError}. A view that has found attributes
   * before finds this message's in the same walk.
   */
  check(): this {
    this.walk(this.#table);
    return this;
  }

  /** Walks the attributes with the view's cursor, checking them, and records them into `at` if given. */
  private walk(at: number[] | undefined): void {
    const c = (this.#cursor ??= new AttributeCursor());
    c.reset(this.buffer, this.msg + MSG_SIZE, this.end, inetDiagAttributes.name, MIN_SIZES);
    if (at === undefined) {
      while (c.next());
    } else {
      // Only the types the last message had are reset (a reply has about ten of ~25).
      const filled = this.#filled;
      for (let i = 0; i < this.#filledCount; i++) {
        at[filled[i]] = -1;
        at[SLOTS + filled[i]] = 0;
      }
      let n = 0;
      while (c.next()) {
        const type = c.type;
        if (type < SLOTS && at[type] < 0) {
          at[type] = c.payload;
          at[SLOTS + type] = c.length;
          filled[n++] = type;
        }
      }
      this.#filledCount = n;
    }
    c.throwIfError();
    this.#found = at;
  }

  /** The attribute table, found now if it was not (a method call only on a message's first attribute read). */
  private found(): number[] {
    if (this.#table === undefined) {
      this.#table = NO_ATTRIBUTES.slice();
      this.#filled = new Uint8Array(SLOTS);
    }
    this.walk(this.#table);
    return this.#table;
  }

  /** The IPPROTO number: the dump's, or for events INET_DIAG_PROTOCOL's (0 when absent). */
  get protocol(): number {
    if (this.#protocol < 0) this.#protocol = this.has(A_PROTOCOL) ? this.u8(A_PROTOCOL) : 0;
    return this.#protocol;
  }

  /** The protocol's name (`'raw'` for numbers sock_diag does not list by name). */
  get protocolName(): InetProtocolName {
    return PROTOCOL_BY_NUMBER[this.protocol] ?? 'raw';
  }

  /** `idiag_family`: AF_INET or AF_INET6. */
  get family(): number {
    return this.buffer[this.msg + M_FAMILY];
  }

  /** Whether the socket is IPv6. */
  get v6(): boolean {
    return this.buffer[this.msg + M_FAMILY] === AF.INET6;
  }

  /** `idiag_state`, a TCP state number. */
  get state(): number {
    return this.buffer[this.msg + M_STATE];
  }

  /** `idiag_timer`: 0 none, then as {@link TIMER_NAMES}. */
  get timer(): number {
    return this.buffer[this.msg + M_TIMER];
  }

  /** `idiag_retrans`: retransmits or probes of the pending timer. */
  get retrans(): number {
    return this.buffer[this.msg + M_RETRANS];
  }

  /** `idiag_expires`: milliseconds until the timer fires. */
  get expires(): number {
    return this.dv.getUint32(this.msg + M_EXPIRES, true);
  }

  /** The local port. */
  get sport(): number {
    return this.dv.getUint16(this.msg + M_SPORT);
  }

  /** The peer port. */
  get dport(): number {
    return this.dv.getUint16(this.msg + M_DPORT);
  }

  /** Where the local address (`idiag_src`, 4 or 16 bytes) starts in the buffer. */
  get src(): number {
    return this.msg + M_SRC;
  }

  /** Where the peer address (`idiag_dst`) starts in the buffer. */
  get dst(): number {
    return this.msg + M_DST;
  }

  /** The local address as text. */
  localAddress(): string {
    return this.v6 ? formatIPv6(this.buffer, this.msg + M_SRC) : formatIPv4(this.buffer, this.msg + M_SRC);
  }

  /** The peer address as text. */
  remoteAddress(): string {
    return this.v6 ? formatIPv6(this.buffer, this.msg + M_DST) : formatIPv4(this.buffer, this.msg + M_DST);
  }

  /** Whether the 16 address bytes at `off` (e.g. {@link InetMessage.src}) are all zero (`::`). */
  isAny6(off: number): boolean {
    const dv = this.dv;
    return dv.getUint32(off, true) === 0 && dv.getUint32(off + 4, true) === 0 && dv.getUint32(off + 8, true) === 0 && dv.getUint32(off + 12, true) === 0;
  }

  /** `idiag_if`: the interface the socket is bound to (0: any). */
  get ifindex(): number {
    return this.dv.getUint32(this.msg + M_IFINDEX, true);
  }

  /** `idiag_rqueue`. */
  get rqueue(): number {
    return this.dv.getUint32(this.msg + M_RQUEUE, true);
  }

  /** `idiag_wqueue`. */
  get wqueue(): number {
    return this.dv.getUint32(this.msg + M_WQUEUE, true);
  }

  /** `idiag_uid`. */
  get uid(): number {
    return this.dv.getUint32(this.msg + M_UID, true);
  }

  /** `idiag_inode`. */
  get inode(): number {
    return this.dv.getUint32(this.msg + M_INODE, true);
  }

  /** `idiag_cookie`, the socket cookie. */
  get cookie(): bigint {
    return this.dv.getBigUint64(this.msg + M_COOKIE, true);
  }

  /** The cookie's low 32 bits (for printing it without a BigInt). */
  get cookieLo(): number {
    return this.dv.getUint32(this.msg + M_COOKIE, true);
  }

  /** The cookie's high 32 bits. */
  get cookieHi(): number {
    return this.dv.getUint32(this.msg + M_COOKIE + 4, true);
  }

  /** Whether the message carries attribute `type` (an {@link INET_DIAG_ATTR} number). */
  has(type: number): boolean {
    return (this.#found ?? this.found())[type] >= 0;
  }

  /** Where the payload of attribute `type` starts in the buffer, or -1. */
  payload(type: number): number {
    return (this.#found ?? this.found())[type];
  }

  /** The payload length of attribute `type` (0 when absent). */
  payloadLength(type: number): number {
    return (this.#found ?? this.found())[SLOTS + type];
  }

  /** Whether attribute `type`'s payload holds `size` bytes at `field` (a field an older kernel may not send). */
  hasField(type: number, field: number, size: number): boolean {
    return field + size <= (this.#found ?? this.found())[SLOTS + type];
  }

  /** The u8 at byte `field` of attribute `type`'s payload (0 past it, or when absent). */
  u8(type: number, field = 0): number {
    const at = this.#found ?? this.found();
    return field + 1 <= at[SLOTS + type] ? this.buffer[at[type] + field] : 0;
  }

  /** The u16 at `field` of attribute `type` (0 past its payload). */
  u16(type: number, field = 0): number {
    const at = this.#found ?? this.found();
    return field + 2 <= at[SLOTS + type] ? this.dv.getUint16(at[type] + field, true) : 0;
  }

  /** The u32 at `field` of attribute `type` (0 past its payload). */
  u32(type: number, field = 0): number {
    const at = this.#found ?? this.found();
    return field + 4 <= at[SLOTS + type] ? this.dv.getUint32(at[type] + field, true) : 0;
  }

  /** The s32 at `field` of attribute `type` (0 past its payload). */
  s32(type: number, field = 0): number {
    const at = this.#found ?? this.found();
    return field + 4 <= at[SLOTS + type] ? this.dv.getInt32(at[type] + field, true) : 0;
  }

  /** The u64 at `field` of attribute `type` as a number (exact below 2^53; 0 past its payload). */
  u64Number(type: number, field = 0): number {
    const at = this.#found ?? this.found();
    if (field + 8 > at[SLOTS + type]) return 0;
    const p = at[type] + field;
    return this.dv.getUint32(p + 4, true) * TWO_32 + this.dv.getUint32(p, true);
  }

  /** The u64 at `field` of attribute `type` (0n past its payload). */
  u64(type: number, field = 0): bigint {
    const at = this.#found ?? this.found();
    return field + 8 <= at[SLOTS + type] ? this.dv.getBigUint64(at[type] + field, true) : 0n;
  }

  /**
   * A reader of attribute `type`'s payload as structure `spec` (all zeros when absent), for
   * reading many of its fields. The view keeps one reader per type and points it at the
   * message bound when asked: it is valid until the next `reader(type)` call.
   */
  reader(type: number, spec: StructSpec): PayloadReader {
    const at = this.#found ?? this.found();
    const r = ((this.#readers ??= [])[type] ??= new PayloadReader());
    return r.bind(this.buffer, this.dv, at[type], at[SLOTS + type], spec);
  }

  /** The message as a socket object: made on first use, or the one it was viewed from. */
  socket(): InetSocket {
    return (this.#socket ??= new InetSocketView(this) as unknown as InetSocket);
  }
}

/**
 * The fields of one attribute payload laid out as a structure, read at their table offsets
 * with no length check per field: a payload shorter than the structure's `size` (an older
 * kernel's) is first copied into a zeroed one, so that the fields it lacks read 0 (what
 * decoding leaves undefined). Only fields that lie within `size` may be read (not those a
 * growable table declares past it, `since` a newer kernel). See {@link InetMessage.reader}.
 */
export class PayloadReader {
  /** A DataView over the payload's bytes (the received ones, or the zero-padded copy). */
  dv: DataView = EMPTY_VIEW;
  /** Where the payload starts in {@link PayloadReader.dv}. */
  base = 0;
  /** The payload's length as received. */
  length = 0;
  #padded: Buffer = EMPTY;
  #paddedView: DataView = EMPTY_VIEW;

  /** Points the reader at the `length` bytes at `base` of `b` (whose DataView is `dv`), read as structure `spec`. */
  bind(b: Buffer, dv: DataView, base: number, length: number, spec: StructSpec): this {
    this.length = length;
    const size = spec.size;
    if (length >= size) {
      this.dv = dv;
      this.base = base;
      return this;
    }
    if (this.#padded.length < size) {
      this.#padded = Buffer.alloc(size);
      this.#paddedView = new DataView(this.#padded.buffer, this.#padded.byteOffset, size);
    } else {
      this.#padded.fill(0, 0, size);
    }
    if (length > 0) b.copy(this.#padded, 0, base, base + length);
    this.dv = this.#paddedView;
    this.base = 0;
    return this;
  }

  /** The u8 at `field`. */
  u8(field: number): number {
    return this.dv.getUint8(this.base + field);
  }

  /** The u16 at `field`. */
  u16(field: number): number {
    return this.dv.getUint16(this.base + field, true);
  }

  /** The u32 at `field`. */
  u32(field: number): number {
    return this.dv.getUint32(this.base + field, true);
  }

  /** The s32 at `field`. */
  s32(field: number): number {
    return this.dv.getInt32(this.base + field, true);
  }

  /** The u64 at `field` as a number (exact below 2^53). */
  u64Number(field: number): number {
    return this.dv.getUint32(this.base + field + 4, true) * TWO_32 + this.dv.getUint32(this.base + field, true);
  }

  /** The u64 at `field`. */
  u64(field: number): bigint {
    return this.dv.getBigUint64(this.base + field, true);
  }

  /** Whether the payload as received holds `size` bytes at `field` (a field an older kernel may not send). */
  has(field: number, size: number): boolean {
    return field + size <= this.length;
  }
}

/**
 * Checks one inet reply message (`off` at its nlmsghdr, `len` = nlmsg_len): that it holds an
 * `inet_diag_msg` of family AF_INET or AF_INET6 and that its attributes are well framed.
 * Returns its view (`into`, rebound, when given); throws {@link DecodeError}. `protocol` is the
 * dump's IPPROTO number, or -1 to take it from INET_DIAG_PROTOCOL (events).
 */
export function readInetMessage(b: Buffer, off: number, len: number, protocol: number, into: InetMessage = new InetMessage()): InetMessage {
  const msg = checkMessage(b, off, len, MSG_SIZE, inetDiagMsg.name, FAMILY);
  return into.bind(b, msg, off + len, protocol).check();
}

/**
 * An inet socket as decoded from one reply message. The fixed fields are read from the
 * message's {@link InetMessage} when the socket is made; the attribute fields (`info`,
 * `skmem`, `cong`, …) are decoded from the received bytes the first time one of them is read,
 * then kept. At 100k sockets this is what keeps a listing within a small multiple of the
 * kernel's own cost: materialising every `tcp_info` up front costs more in allocation than
 * the whole dump.
 *
 * The attribute fields are accessors on the prototype, so object spread and `Object.keys`
 * see only the fixed fields; {@link InetSocketView.toJSON} returns everything as a plain object.
 * A view keeps the batch of received bytes it came from alive.
 */
export class InetSocketView {
  protocol: InetProtocolName;
  family: 'inet' | 'inet6';
  state: SocketState;
  inode: number;
  uid: number | undefined;
  cookie: bigint;
  recvQ: number;
  sendQ: number;
  local: InetEndpoint;
  remote: InetEndpoint;
  interface: number;
  timer: InetTimer | undefined;
  processes: SocketProcess[] | undefined;
  #bytes: Buffer;
  #msg: number;
  #end: number;
  #protocol: number;
  #attrs: Record<string, unknown> | undefined;

  /** @internal Use {@link decodeInetMessage} (or {@link InetMessage.socket}). */
  constructor(m: InetMessage) {
    const timer = m.timer;
    this.protocol = m.protocolName;
    this.family = m.v6 ? 'inet6' : 'inet';
    this.state = stateName(m.state);
    this.inode = m.inode;
    this.uid = m.uid;
    this.cookie = m.cookie;
    this.recvQ = m.rqueue;
    this.sendQ = m.wqueue;
    this.local = { address: m.localAddress(), port: m.sport };
    this.remote = { address: m.remoteAddress(), port: m.dport };
    this.interface = m.ifindex;
    this.timer = timer === 0 ? undefined : { name: TIMER_NAMES[timer] ?? 'unknown', expiresMs: m.expires, retransmits: m.retrans };
    this.processes = undefined;
    this.#bytes = m.buffer;
    this.#msg = m.msg;
    this.#end = m.end;
    this.#protocol = m.protocol;
    this.#attrs = undefined;
  }

  /** @internal The decoded attributes (decoded on first use). */
  static attributes(s: InetSocketView): Record<string, unknown> {
    let a = s.#attrs;
    if (a === undefined) {
      a = {};
      const family = s.family === 'inet6' ? AF.INET6 : AF.INET;
      decodeAttributes(inetDiagAttributes, s.#bytes, s.#msg + MSG_SIZE, s.#end, a, { family, protocol: s.#protocol });
      s.#attrs = a;
    }
    return a;
  }

  /**
   * @internal The message view of `s` when it is a socket decoded by this library (its
   * fields read from its received bytes, e.g. by the command's formatter), `into` rebound to
   * it when given; undefined for any other object.
   */
  static message(s: unknown, into: InetMessage = new InetMessage()): InetMessage | undefined {
    if (!(s instanceof InetSocketView)) return undefined;
    return into.bind(s.#bytes, s.#msg, s.#end, s.#protocol, s as unknown as InetSocket);
  }

  /** Every field, attributes included, as a plain object. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { ...(this as object) };
    const attrs = InetSocketView.attributes(this);
    for (const name of ATTRIBUTE_NAMES) if (attrs[name] !== undefined) out[name] = attrs[name];
    if (out.processes === undefined) delete out.processes;
    return out;
  }

  /** Shows every field in `console.log` / `util.inspect`. */
  [Symbol.for('nodejs.util.inspect.custom')](depth: number, options: object, inspect: (v: unknown, o: object) => string): string {
    return `${this.protocol === 'tcp' ? 'Tcp' : 'Inet'}Socket ${inspect(this.toJSON(), options)}`;
  }
}

const ATTRIBUTE_NAMES = [...inetDiagAttributes.byName.keys(), 'unknown'];
for (const name of ATTRIBUTE_NAMES) {
  Object.defineProperty(InetSocketView.prototype, name, {
    get(this: InetSocketView) {
      return InetSocketView.attributes(this)[name];
    },
    enumerable: false,
    configurable: true,
  });
}
