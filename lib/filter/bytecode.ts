/**
 * The filter AST compiled to `INET_DIAG_REQ_BYTECODE`: the little forward-jump program the
 * kernel's inet_diag runs on every socket before it is copied to userspace, plus the state
 * word of the request.
 *
 * Programs are laid out the way ss(8) lays them out, so for the same expression tree the
 * bytes are the ones `ss` sends (the golden tests check this against `ss` itself). Every
 * program is checked by {@link auditBytecode} — the kernel's own rules, re-implemented —
 * before it is returned, so a bad program never reaches the kernel.
 * @module
 */
import { AF, STATE_NUMBERS } from '../diag/constants';
import { parseAddressInto } from '../diag/inet/address';
import { inetDiagBcOp, inetDiagHostcond, inetDiagMarkcond } from '../diag/inet/structs';
import { fieldAt } from '../netlink/offsets';
import { encodeStruct } from '../netlink/struct';
import type { FilterExpr, InetHost, StateClause, StateWord } from './ast';

/** `INET_DIAG_BC_*` operation codes (linux/inet_diag.h). */
export const INET_DIAG_BC = {
  NOP: 0,
  JMP: 1,
  S_GE: 2,
  S_LE: 3,
  D_GE: 4,
  D_LE: 5,
  AUTO: 6,
  S_COND: 7,
  D_COND: 8,
  DEV_COND: 9,
  MARK_COND: 10,
  S_EQ: 11,
  D_EQ: 12,
  CGROUP_COND: 13,
} as const;

/** The attribute length is a u16 that includes its 4-byte header. */
const MAX_PROGRAM = 0xffff - 4;

// Where everything of a program lies, from the tables (linux/inet_diag.h).
const OP_SIZE = inetDiagBcOp.size;
const OP_CODE = fieldAt(inetDiagBcOp, 'code', 'u8');
const OP_YES = fieldAt(inetDiagBcOp, 'yes', 'u8');
const OP_NO = fieldAt(inetDiagBcOp, 'no', 'u16');
const HOSTCOND_SIZE = inetDiagHostcond.size;
const HC_FAMILY = OP_SIZE + fieldAt(inetDiagHostcond, 'family', 'u8');
const HC_PREFIX_LEN = OP_SIZE + fieldAt(inetDiagHostcond, 'prefixLen', 'u8');
const HC_PORT = OP_SIZE + fieldAt(inetDiagHostcond, 'port', 's32');
const HC_ADDR = OP_SIZE + fieldAt(inetDiagHostcond, 'addr', 'bytes');
const MC_MARK = OP_SIZE + fieldAt(inetDiagMarkcond, 'mark', 'u32');
const MC_MASK = OP_SIZE + fieldAt(inetDiagMarkcond, 'mask', 'u32');
/** DEV_COND's operand: the interface index, a u32 right after the op. */
const DEV_IFINDEX = OP_SIZE;
const DEV_COND_LEN = OP_SIZE + 4;
/** CGROUP_COND's operand: the cgroup id, a u64 right after the op. */
const CGROUP_ID = OP_SIZE;
const CGROUP_COND_LEN = OP_SIZE + 8;
/** S_GE/S_LE/D_GE/D_LE/S_EQ/D_EQ: the port rides in the `no` field of a second op. */
const PORT_OPERAND = OP_SIZE + OP_NO;
const PORT_COMPARE_LEN = 2 * OP_SIZE;
const MARK_COND_LEN = OP_SIZE + inetDiagMarkcond.size;

/** Options of {@link compileFilter}. */
export interface CompileOptions {
  /** The family of the dump the program is for (the program is the same for both, as in ss). */
  family: 'inet' | 'inet6';
  /** Resolves a device name of `dev NAME` to its interface index in the listed namespace. */
  ifindex?(name: string): number | undefined;
  /** Resolves the path of `cgroup PATH` to its cgroup v2 id. */
  cgroupId?(path: string): bigint | undefined;
}

/** What the filter compiler (`compileFilter`) returns. */
export interface CompiledFilter {
  /**
   * The program for `INET_DIAG_REQ_BYTECODE`, or undefined when the kernel needs none
   * (the expression, or the part of it that can be compiled, accepts every socket).
   */
  bytecode: Buffer | undefined;
  /**
   * True when the kernel's verdict is the whole answer. False when some condition could not
   * be compiled exactly: the program then accepts a superset (it is a pre-filter) and the
   * caller must re-check each socket with `matchesFilter`, as ss re-runs its filter in
   * userspace. `autobound` also makes it false: the kernel's AUTO test knows whether the
   * port was bound by the user, which no dump reports, while userspace uses ss's
   * ephemeral-range rule; kernel ∧ userspace is what ss shows.
   */
  exact: boolean;
}

// ---------------------------------------------------------------------------------------
// Lowering: AST → binary tree of leaves, with constant folding of what cannot be compiled.

type Leaf = { t: 'leaf'; len: number; write(b: Buffer, at: number, no: number): void };
type Node = Leaf | { t: 'and' | 'or'; a: Node; b: Node } | { t: 'not'; a: Node } | { t: 'true' } | { t: 'false' };

const TRUE: Node = { t: 'true' };
const FALSE: Node = { t: 'false' };

function op(b: Buffer, at: number, code: number, yes: number, no: number): void {
  encodeStruct(inetDiagBcOp, { code, yes, no }, b, at);
}

function portCompare(code: number, port: number): Leaf {
  // The port rides in the `no` field of a second, otherwise unused op.
  return {
    t: 'leaf',
    len: PORT_COMPARE_LEN,
    write(b, at, no) {
      op(b, at, code, PORT_COMPARE_LEN, no);
      op(b, at + OP_SIZE, INET_DIAG_BC.NOP, 0, port);
    },
  };
}

function hostcond(code: number, family: number, prefixLen: number, port: number, addr: Buffer | undefined): Leaf {
  // ss always sends 4 address bytes unless the family is inet6 (zeros for AF_UNSPEC).
  const alen = family === AF.INET6 ? 16 : 4;
  const len = OP_SIZE + HOSTCOND_SIZE + alen;
  return {
    t: 'leaf',
    len,
    write(b, at, no) {
      op(b, at, code, len, no);
      encodeStruct(inetDiagHostcond, { family, prefixLen, port }, b, at + OP_SIZE);
      if (addr) addr.copy(b, at + HC_ADDR, 0, alen);
    },
  };
}

function addressBytes(text: string): { family: number; bytes: Buffer } {
  const bytes = Buffer.alloc(16);
  const family = parseAddressInto(text, bytes, 0);
  return { family, bytes };
}

function inetHostLeaf(side: 'src' | 'dst', host: InetHost): Leaf {
  const code = side === 'src' ? INET_DIAG_BC.S_COND : INET_DIAG_BC.D_COND;
  const port = host.port ?? -1;
  if (host.address === undefined) return hostcond(code, AF.UNSPEC, 0, port, undefined);
  const { family, bytes } = addressBytes(host.address);
  const bits = family === AF.INET ? 32 : 128;
  const prefix = host.prefixLen ?? bits;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) throw new RangeError(`prefix length ${prefix} out of range for ${host.address}`);
  return hostcond(code, family, prefix, port, bytes);
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new RangeError(`port ${port} out of range`);
}

interface LowerState {
  opts: CompileOptions;
  exact: boolean;
}

/**
 * Lowers `e`. `positive` is the polarity (false under an odd number of `not`): a condition
 * that cannot be compiled becomes true in positive and false in negative position, so that
 * the program accepts a superset of the matching sockets.
 */
function lower(e: FilterExpr, positive: boolean, st: LowerState): Node {
  const unknown = (): Node => {
    st.exact = false;
    return positive ? TRUE : FALSE;
  };
  switch (e.kind) {
    case 'and':
    case 'or': {
      // Left fold, as ss's grammar builds `a or b or c` as ((a or b) or c): same bytes.
      let acc: Node | undefined;
      for (const item of e.items) {
        const n = lower(item, positive, st);
        acc = acc === undefined ? n : combine(e.kind, acc, n);
      }
      return acc ?? (e.kind === 'and' ? TRUE : FALSE);
    }
    case 'not': {
      const a = lower(e.item, !positive, st);
      if (a.t === 'true') return FALSE;
      if (a.t === 'false') return TRUE;
      return { t: 'not', a };
    }
    case 'host': {
      const h = e.host;
      // Other families' hosts never match an inet socket (ss lists only their family).
      if (h.family === 'unix' || h.family === 'link' || h.family === 'netlink' || h.family === 'vsock') return FALSE;
      if (h.port !== undefined) checkPort(h.port);
      return inetHostLeaf(e.side, h);
    }
    case 'port': {
      checkPort(e.port);
      const src = e.side === 'src';
      const cond = (): Node => inetHostLeaf(e.side, { family: undefined, port: e.port });
      switch (e.op) {
        case '=':
          return cond();
        case '!=':
          return { t: 'not', a: cond() };
        case '>=':
          return portCompare(src ? INET_DIAG_BC.S_GE : INET_DIAG_BC.D_GE, e.port);
        case '<=':
          return portCompare(src ? INET_DIAG_BC.S_LE : INET_DIAG_BC.D_LE, e.port);
        case '>':
          return { t: 'not', a: portCompare(src ? INET_DIAG_BC.S_LE : INET_DIAG_BC.D_LE, e.port) };
        case '<':
          return { t: 'not', a: portCompare(src ? INET_DIAG_BC.S_GE : INET_DIAG_BC.D_GE, e.port) };
      }
      throw new TypeError(`unknown port operator ${String((e as { op: unknown }).op)}`);
    }
    case 'autobound':
      st.exact = false;
      return { t: 'leaf', len: OP_SIZE, write: (b, at, no) => op(b, at, INET_DIAG_BC.AUTO, OP_SIZE, no) };
    case 'dev': {
      const index = typeof e.device === 'number' ? e.device : st.opts.ifindex?.(e.device);
      if (index === undefined) return unknown(); // `=` or `!=`: either way its value is unknown here
      if (!Number.isInteger(index) || index < 0 || index > 0xffffffff) throw new RangeError(`interface index ${index} out of range`);
      const leaf: Leaf = {
        t: 'leaf',
        len: DEV_COND_LEN,
        write(b, at, no) {
          op(b, at, INET_DIAG_BC.DEV_COND, DEV_COND_LEN, no);
          b.writeUInt32LE(index, at + DEV_IFINDEX);
        },
      };
      return e.op === '=' ? leaf : { t: 'not', a: leaf };
    }
    case 'fwmark': {
      for (const v of [e.mark, e.mask]) if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`fwmark value ${v} out of range`);
      const leaf: Leaf = {
        t: 'leaf',
        len: MARK_COND_LEN,
        write(b, at, no) {
          op(b, at, INET_DIAG_BC.MARK_COND, MARK_COND_LEN, no);
          encodeStruct(inetDiagMarkcond, { mark: e.mark >>> 0, mask: e.mask >>> 0 }, b, at + OP_SIZE);
        },
      };
      return e.op === '=' ? leaf : { t: 'not', a: leaf };
    }
    case 'cgroup': {
      const id = st.opts.cgroupId?.(e.path);
      if (id === undefined) return unknown();
      const leaf: Leaf = {
        t: 'leaf',
        len: CGROUP_COND_LEN,
        write(b, at, no) {
          op(b, at, INET_DIAG_BC.CGROUP_COND, CGROUP_COND_LEN, no);
          b.writeBigUInt64LE(BigInt.asUintN(64, id), at + CGROUP_ID);
        },
      };
      return e.op === '=' ? leaf : { t: 'not', a: leaf };
    }
  }
  throw new TypeError(`unknown filter node ${String((e as { kind: unknown }).kind)}`);
}

function combine(kind: 'and' | 'or', a: Node, b: Node): Node {
  if (kind === 'and') {
    if (a.t === 'false' || b.t === 'false') return FALSE;
    if (a.t === 'true') return b;
    if (b.t === 'true') return a;
  } else {
    if (a.t === 'true' || b.t === 'true') return TRUE;
    if (a.t === 'false') return b;
    if (b.t === 'false') return a;
  }
  return { t: kind, a, b };
}

// ---------------------------------------------------------------------------------------
// Layout: sized first, written once. `reject` is the absolute offset a failing test jumps
// to; success falls through to the end of the node. At the top, reject = length + 4 (one op
// past the end), which the kernel reads as "ran past the end": not accepted.

function sizeOf(n: Node): number {
  switch (n.t) {
    case 'leaf':
      return n.len;
    case 'and':
      return sizeOf(n.a) + sizeOf(n.b);
    case 'or':
      return sizeOf(n.a) + OP_SIZE + sizeOf(n.b);
    case 'not':
      return sizeOf(n.a) + OP_SIZE;
    default:
      throw new Error('constants are folded before layout');
  }
}

function emit(n: Node, b: Buffer, at: number, reject: number): number {
  switch (n.t) {
    case 'leaf':
      n.write(b, at, reject - at);
      return at + n.len;
    case 'and':
      return emit(n.b, b, emit(n.a, b, at, reject), reject);
    case 'or': {
      // a fails → try b; a holds → jump over b to the end (success).
      const la = sizeOf(n.a);
      const lb = sizeOf(n.b);
      emit(n.a, b, at, at + la + OP_SIZE);
      op(b, at + la, INET_DIAG_BC.JMP, OP_SIZE, lb + OP_SIZE);
      return emit(n.b, b, at + la + OP_SIZE, reject);
    }
    case 'not': {
      // a fails → land at the end (success); a holds → the JMP goes to reject.
      const la = sizeOf(n.a);
      emit(n.a, b, at, at + la + OP_SIZE);
      op(b, at + la, INET_DIAG_BC.JMP, OP_SIZE, reject - (at + la));
      return at + la + OP_SIZE;
    }
    default:
      throw new Error('constants are folded before layout');
  }
}

/** A program that rejects every socket: one JMP past the end. */
function rejectAll(): Buffer {
  const b = Buffer.alloc(OP_SIZE);
  op(b, 0, INET_DIAG_BC.JMP, OP_SIZE, 2 * OP_SIZE);
  return b;
}

/**
 * Compiles an expression to an `INET_DIAG_REQ_BYTECODE` program for a dump of `opts.family`.
 *
 * - `src`/`dst` inet hosts → S_COND/D_COND (hostcond: family, prefix, port or -1, address;
 *   `*` is family 0 with 4 zero address bytes, as ss sends it). The kernel's own rule for a
 *   v4 condition on a v4-mapped IPv6 socket applies, and the evaluator follows it.
 * - `sport`/`dport`: `=` → S_COND/D_COND with only the port, `!=` → its NOT, `>=`/`<=` →
 *   S_GE/S_LE/D_GE/D_LE, `>` → NOT LE, `<` → NOT GE (ss's encoding).
 * - `autobound` → AUTO; `fwmark` → MARK_COND; `cgroup` → CGROUP_COND (id from
 *   `opts.cgroupId`); `dev` → DEV_COND (index from `opts.ifindex`; ss never compiles it).
 * - and/or/not → jumps, left-folded like ss's grammar; unix/link/netlink/vsock hosts never
 *   match an inet socket and fold to false.
 * - A `dev`/`cgroup` that cannot be resolved is relaxed (the program becomes a pre-filter)
 *   and `exact` is false.
 *
 * Throws RangeError on out-of-range values. A program that would not fit the attribute
 * yields `{ bytecode: undefined, exact: false }` (filter everything in userspace). The result
 * always passes {@link auditBytecode}.
 */
export function compileFilter(expr: FilterExpr, opts: CompileOptions): CompiledFilter {
  // Lowering recurses once per condition of a run of and/or: a filter of more conditions than
  // a program could sensibly hold runs in userspace instead (the same answer, never a stack overflow).
  if (conditionCount(expr) > MAX_KERNEL_CONDITIONS) return { bytecode: undefined, exact: false };
  const st: LowerState = { opts, exact: true };
  const root = lower(expr, true, st);
  if (root.t === 'true') return { bytecode: undefined, exact: st.exact };
  if (root.t === 'false') return { bytecode: rejectAll(), exact: st.exact };
  const len = sizeOf(root);
  if (len > MAX_PROGRAM) return { bytecode: undefined, exact: false };
  const b = Buffer.alloc(len);
  emit(root, b, 0, len + OP_SIZE);
  const problem = auditBytecode(b);
  if (problem !== undefined) throw new Error(`internal error: compiled filter fails the kernel's audit: ${problem}`);
  return { bytecode: b, exact: st.exact };
}

/** At most this many conditions are compiled for the kernel (4096 port tests are 32 KiB of program). */
export const MAX_KERNEL_CONDITIONS = 4096;

/** How many conditions (leaves) a filter tree has, counted without recursion. */
function conditionCount(expr: FilterExpr): number {
  let n = 0;
  const stack: FilterExpr[] = [expr];
  while (stack.length > 0) {
    const e = stack.pop()!;
    if (e.kind === 'and' || e.kind === 'or') for (const item of e.items) stack.push(item);
    else if (e.kind === 'not') stack.push(e.item);
    else n++;
  }
  return n;
}

// ---------------------------------------------------------------------------------------
// The kernel's audit (net/ipv4/inet_diag.c inet_diag_bc_audit), re-implemented.

/** Whether walking from the start by `yes` steps lands exactly where `cc` bytes remain. */
function landsOnOp(b: Buffer, cc: number): boolean {
  let len = b.length;
  let at = 0;
  while (len >= 0) {
    if (cc > len) return false;
    if (cc === len) return true;
    const yes = b[at + OP_YES];
    if (yes < OP_SIZE || yes & 3) return false;
    len -= yes;
    at += yes;
  }
  return false;
}

/**
 * Checks a program the way the kernel's `inet_diag_bc_audit` does: known op codes, every
 * operand inside the program (hostcond family/prefix/address length, port comparison's
 * second op, dev u32, markcond, cgroup u64), `yes` and `no` multiples of 4, at least the
 * op's own length, at most 4 past the end, forward only, `no` landing on an op boundary;
 * the walk must end exactly at the end. Returns why it fails, or undefined when it passes.
 */
export function auditBytecode(b: Buffer): string | undefined {
  if (b.length < OP_SIZE) return 'program shorter than one op';
  if (b.length > MAX_PROGRAM) return 'program longer than an attribute can carry';
  if (b.length & 3) return 'program length is not a multiple of 4';
  let len = b.length;
  let at = 0;
  while (len > 0) {
    if (len < OP_SIZE) return `truncated op at ${at}`;
    const code = b[at + OP_CODE];
    const yes = b[at + OP_YES];
    const no = b.readUInt16LE(at + OP_NO);
    let minLen = OP_SIZE;
    switch (code) {
      case INET_DIAG_BC.S_COND:
      case INET_DIAG_BC.D_COND: {
        minLen += HOSTCOND_SIZE;
        if (len < minLen) return `hostcond at ${at} runs past the end`;
        const family = b[at + HC_FAMILY];
        const alen = family === AF.UNSPEC ? 0 : family === AF.INET ? 4 : family === AF.INET6 ? 16 : -1;
        if (alen < 0) return `hostcond at ${at} has family ${family}`;
        minLen += alen;
        if (len < minLen) return `hostcond address at ${at} runs past the end`;
        if (b[at + HC_PREFIX_LEN] > 8 * alen) return `hostcond at ${at} has prefix ${b[at + HC_PREFIX_LEN]} for ${alen} address bytes`;
        break;
      }
      case INET_DIAG_BC.DEV_COND:
        minLen = DEV_COND_LEN;
        if (len < minLen) return `dev cond at ${at} runs past the end`;
        break;
      case INET_DIAG_BC.S_EQ:
      case INET_DIAG_BC.S_GE:
      case INET_DIAG_BC.S_LE:
      case INET_DIAG_BC.D_EQ:
      case INET_DIAG_BC.D_GE:
      case INET_DIAG_BC.D_LE:
        minLen = PORT_COMPARE_LEN;
        if (len < minLen) return `port comparison at ${at} runs past the end`;
        break;
      case INET_DIAG_BC.MARK_COND:
        minLen = MARK_COND_LEN;
        if (len < minLen) return `mark cond at ${at} runs past the end`;
        break;
      case INET_DIAG_BC.CGROUP_COND:
        minLen = CGROUP_COND_LEN;
        if (len < minLen) return `cgroup cond at ${at} runs past the end`;
        break;
      case INET_DIAG_BC.AUTO:
      case INET_DIAG_BC.JMP:
      case INET_DIAG_BC.NOP:
        break;
      default:
        return `unknown op code ${code} at ${at}`;
    }
    if (code !== INET_DIAG_BC.NOP) {
      if (no < minLen || no > len + OP_SIZE || no & 3) return `bad no=${no} at ${at}`;
      if (no < len && !landsOnOp(b, len - no)) return `no=${no} at ${at} lands inside an op`;
    }
    if (yes < minLen || yes > len + OP_SIZE || yes & 3) return `bad yes=${yes} at ${at}`;
    at += yes;
    len -= yes;
  }
  return len === 0 ? undefined : 'program does not end on an op boundary';
}

/** What the kernel looks at when it runs a program on a socket (`struct inet_diag_entry`). */
export interface BytecodeEntry {
  family: 'inet' | 'inet6';
  /** Local and remote address as text. */
  src: string;
  dst: string;
  sport: number;
  dport: number;
  ifindex: number;
  mark: number;
  cgroupId: bigint;
  /** True when the port was bound by the user (SOCK_BINDPORT_LOCK); AUTO is its negation. */
  userBoundPort: boolean;
}

function bitsMatch(a: Buffer, aOff: number, c: Buffer, cOff: number, bits: number): boolean {
  const bytes = bits >> 3;
  for (let i = 0; i < bytes; i++) if (a[aOff + i] !== c[cOff + i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((a[aOff + bytes] ^ c[cOff + bytes]) & mask) === 0;
}

/**
 * Runs a program on one socket as the kernel's `inet_diag_bc_run` does (the program must
 * have passed {@link auditBytecode}). For tests and for explaining a program.
 */
export function runBytecode(b: Buffer, entry: BytecodeEntry): boolean {
  const af = entry.family === 'inet6' ? AF.INET6 : AF.INET;
  const src = addressBytes(entry.src).bytes;
  const dst = addressBytes(entry.dst).bytes;
  let len = b.length;
  let at = 0;
  while (len > 0) {
    const code = b[at + OP_CODE];
    let yes = true;
    switch (code) {
      case INET_DIAG_BC.NOP:
        break;
      case INET_DIAG_BC.JMP:
        yes = false;
        break;
      case INET_DIAG_BC.S_EQ:
        yes = entry.sport === b.readUInt16LE(at + PORT_OPERAND);
        break;
      case INET_DIAG_BC.S_GE:
        yes = entry.sport >= b.readUInt16LE(at + PORT_OPERAND);
        break;
      case INET_DIAG_BC.S_LE:
        yes = entry.sport <= b.readUInt16LE(at + PORT_OPERAND);
        break;
      case INET_DIAG_BC.D_EQ:
        yes = entry.dport === b.readUInt16LE(at + PORT_OPERAND);
        break;
      case INET_DIAG_BC.D_GE:
        yes = entry.dport >= b.readUInt16LE(at + PORT_OPERAND);
        break;
      case INET_DIAG_BC.D_LE:
        yes = entry.dport <= b.readUInt16LE(at + PORT_OPERAND);
        break;
      case INET_DIAG_BC.AUTO:
        yes = !entry.userBoundPort;
        break;
      case INET_DIAG_BC.S_COND:
      case INET_DIAG_BC.D_COND: {
        const s = code === INET_DIAG_BC.S_COND;
        const port = b.readInt32LE(at + HC_PORT);
        const family = b[at + HC_FAMILY];
        const prefix = b[at + HC_PREFIX_LEN];
        const addr = s ? src : dst;
        if (port !== -1 && port !== (s ? entry.sport : entry.dport)) yes = false;
        else if (family !== AF.UNSPEC && family !== af) {
          yes = af === AF.INET6 && family === AF.INET && isMapped(addr) && bitsMatch(addr, 12, b, at + HC_ADDR, prefix);
        } else if (prefix !== 0) yes = bitsMatch(addr, 0, b, at + HC_ADDR, prefix);
        break;
      }
      case INET_DIAG_BC.DEV_COND:
        yes = entry.ifindex === b.readUInt32LE(at + DEV_IFINDEX);
        break;
      case INET_DIAG_BC.MARK_COND:
        yes = ((entry.mark & b.readUInt32LE(at + MC_MASK)) >>> 0) === b.readUInt32LE(at + MC_MARK);
        break;
      case INET_DIAG_BC.CGROUP_COND:
        yes = entry.cgroupId === b.readBigUInt64LE(at + CGROUP_ID);
        break;
    }
    const step = yes ? b[at + OP_YES] : b.readUInt16LE(at + OP_NO);
    len -= step;
    at += step;
  }
  return len === 0;
}

function isMapped(a: Buffer): boolean {
  for (let i = 0; i < 10; i++) if (a[i] !== 0) return false;
  return a[10] === 0xff && a[11] === 0xff;
}

// ---------------------------------------------------------------------------------------
// The state word.

/** Every state bit ss knows (`SS_ALL`: unknown … bound-inactive). */
export const SS_ALL_MASK = (1 << 14) - 1;

const bit = (s: keyof typeof STATE_NUMBERS): number => 1 << STATE_NUMBERS[s];
const CLOSED_OR_LISTEN = bit('closed') | bit('listening');
const BUCKET = bit('syn-recv') | bit('time-wait');

/** The bits of one `state`/`exclude` word, groups included. */
export function stateWordMask(word: StateWord): number {
  switch (word) {
    case 'all':
      return SS_ALL_MASK;
    case 'connected':
      return SS_ALL_MASK & ~CLOSED_OR_LISTEN;
    case 'synchronized':
      return SS_ALL_MASK & ~(CLOSED_OR_LISTEN | bit('syn-sent'));
    case 'bucket':
      return BUCKET;
    case 'big':
      return SS_ALL_MASK & ~BUCKET;
    default: {
      const n = STATE_NUMBERS[word];
      if (n === undefined) throw new TypeError(`unknown state ${String(word)}`);
      return 1 << n;
    }
  }
}

/**
 * The request's state mask for a list of `state`/`exclude` words, with ss's semantics: the
 * first word decides where to start — from no state if it is a `state`, from all of them
 * (`SS_ALL`) if it is an `exclude` — then each `state` adds its bits and each `exclude`
 * removes them, in order. No words: `defaultMask`.
 */
export function filterStateMask(states: readonly StateClause[], defaultMask: number): number {
  if (states.length === 0) return defaultMask >>> 0;
  let mask = states[0].include ? 0 : SS_ALL_MASK;
  for (const c of states) {
    const m = stateWordMask(c.word);
    mask = c.include ? mask | m : mask & ~m;
  }
  // Request sockets live in TCP_NEW_SYN_RECV but are shown as syn-recv: the two go together,
  // so `exclude syn-recv` (or bucket, big) drops them as ss does.
  const synRecv = bit('syn-recv');
  const newSynRecv = bit('new-syn-recv');
  mask = mask & synRecv ? mask | newSynRecv : mask & ~newSynRecv;
  // Words that cancel out (`exclude all`) leave no state; ss then falls back to its default
  // selection, the connected sockets, and so do we.
  if (mask === 0) mask = SS_DEFAULT_MASK;
  return mask >>> 0;
}

/** What ss lists when no state is selected: every state but listening, closed, time-wait and syn-recv. */
export const SS_DEFAULT_MASK = SS_ALL_MASK & ~(CLOSED_OR_LISTEN | BUCKET | bit('new-syn-recv'));
