/**
 * Socket owners found by a BPF iterator over every process's open files (`task_file`),
 * instead of a readlink per descriptor under /proc: the kernel runs the loop and writes
 * one record per socket descriptor, so a walk that costs a system call per descriptor
 * (several microseconds each) costs a read of the records instead.
 *
 * It reports what the /proc walk reports for `ss -p`: each process's own descriptor table
 * (the thread group leader's, as /proc/PID/fd shows it), its pid, the descriptor number,
 * the socket's inode and the command name of /proc/PID/stat. It needs CAP_BPF and
 * CAP_PERFMON (root), the kernel's BTF, and a pid namespace whose numbers are the
 * kernel's (the init namespace); otherwise the caller walks /proc.
 * @module
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { defineStruct, encodeStruct, viewOf } from '../netlink/struct';
import { Btf, BTF_KIND } from './btf';
import { nativeBinding } from '../netlink/binding';
import type { NativeProcScan } from '../netlink/addon';
import { fromNativeError } from '../errors';

/** `struct bpf_insn`: one BPF instruction (`regs` is dst in the low nibble, src in the high). */
const bpfInsn = defineStruct('bpf_insn', 8, [
  { name: 'code', orig: 'code', type: 'u8', offset: 0 },
  { name: 'regs', orig: 'dst_reg:4, src_reg:4', type: 'u8', offset: 1 },
  { name: 'off', orig: 'off', type: 's16', offset: 2 },
  { name: 'imm', orig: 'imm', type: 's32', offset: 4 },
] as const);

/** One record the program writes per socket descriptor. */
const ownerRecord = defineStruct('sockdiag_owner_record', 32, [
  { name: 'inode', orig: 'inode->i_ino', type: 'u64', offset: 0 },
  { name: 'fd', orig: 'ctx->fd', type: 'u32', offset: 8 },
  { name: 'pid', orig: 'task->tgid', type: 'u32', offset: 12 },
  { name: 'comm', orig: 'task->comm', type: 'bytes', offset: 16, length: 16 },
] as const);
const FD_AT = ownerRecord.fields[1].offset;
const PID_AT = ownerRecord.fields[2].offset;
const COMM_AT = ownerRecord.fields[3].offset;
const COMM_LEN = 16;

/** `struct bpf_iter__task_file`, the program's context: one pointer-sized slot per argument. */
const taskFileContext = defineStruct('bpf_iter__task_file', 32, [
  { name: 'meta', orig: 'meta', type: 'u64', offset: 0 },
  { name: 'task', orig: 'task', type: 'u64', offset: 8 },
  { name: 'fd', orig: 'fd', type: 'u32', offset: 16 },
  { name: 'file', orig: 'file', type: 'u64', offset: 24 },
] as const);
const ctxAt = (name: (typeof taskFileContext.fields)[number]['name']): number => taskFileContext.fields.find((f) => f.name === name)!.offset;

// Opcode parts (linux/bpf_common.h, linux/bpf.h).
const BPF = {
  LDX: 0x01, STX: 0x03, ALU64: 0x07, JMP: 0x05,
  W: 0x00, H: 0x08, DW: 0x18, MEM: 0x60,
  ADD: 0x00, AND: 0x50, MOV: 0xb0, K: 0x00, X: 0x08,
  JEQ: 0x10, JNE: 0x50, CALL: 0x80, EXIT: 0x90,
} as const;
// Helper numbers (enum bpf_func_id).
const FUNC_PROBE_READ_KERNEL = 113;
const FUNC_SEQ_WRITE = 127;
const S_IFMT = 0o170000;
const S_IFSOCK = 0o140000;
const FP = 10;

type Insn = { code: number; dst: number; src: number; off: number | 'out'; imm: number };
const ldx = (size: number, dst: number, src: number, off: number): Insn => ({ code: BPF.LDX | size | BPF.MEM, dst, src, off, imm: 0 });
const stx = (size: number, dst: number, src: number, off: number): Insn => ({ code: BPF.STX | size | BPF.MEM, dst, src, off, imm: 0 });
const movReg = (dst: number, src: number): Insn => ({ code: BPF.ALU64 | BPF.MOV | BPF.X, dst, src, off: 0, imm: 0 });
const movImm = (dst: number, imm: number): Insn => ({ code: BPF.ALU64 | BPF.MOV | BPF.K, dst, src: 0, off: 0, imm });
const addImm = (dst: number, imm: number): Insn => ({ code: BPF.ALU64 | BPF.ADD | BPF.K, dst, src: 0, off: 0, imm });
const andImm = (dst: number, imm: number): Insn => ({ code: BPF.ALU64 | BPF.AND | BPF.K, dst, src: 0, off: 0, imm });
const skipIfZero = (reg: number): Insn => ({ code: BPF.JMP | BPF.JEQ | BPF.K, dst: reg, src: 0, off: 'out', imm: 0 });
const skipUnlessImm = (reg: number, imm: number): Insn => ({ code: BPF.JMP | BPF.JNE | BPF.K, dst: reg, src: 0, off: 'out', imm });
const skipUnlessReg = (a: number, b: number): Insn => ({ code: BPF.JMP | BPF.JNE | BPF.X, dst: a, src: b, off: 'out', imm: 0 });
const call = (helper: number): Insn => ({ code: BPF.JMP | BPF.CALL, dst: 0, src: 0, off: 0, imm: helper });
const exit = (): Insn => ({ code: BPF.JMP | BPF.EXIT, dst: 0, src: 0, off: 0, imm: 0 });

const LOAD_SIZE: Record<number, number> = { 2: BPF.H, 4: BPF.W, 8: BPF.DW };

/** The program and the kernel function it attaches to, for the running kernel's layouts. */
export interface OwnerProgram {
  /** Instructions, 8 bytes each. */
  insns: Buffer;
  /** BTF id of `bpf_iter_task_file`. */
  attachBtfId: number;
}

/** Builds the iterator program from the kernel's own struct layouts (BTF). */
export function buildOwnerProgram(btf: Btf): OwnerProgram {
  const sized = (struct: string, name: string, sizes: number[]): { offset: number; load: number } => {
    const m = btf.member(struct, name);
    if (!sizes.includes(m.size)) throw new Error(`${struct}.${name} is ${m.size} bytes on this kernel`);
    return { offset: m.offset, load: LOAD_SIZE[m.size] };
  };
  const pid = sized('task_struct', 'pid', [4]);
  const tgid = sized('task_struct', 'tgid', [4]);
  const comm = btf.member('task_struct', 'comm');
  if (comm.size !== COMM_LEN) throw new Error(`task_struct.comm is ${comm.size} bytes on this kernel`);
  const fInode = sized('file', 'f_inode', [8]);
  const iMode = sized('inode', 'i_mode', [2]);
  const iIno = sized('inode', 'i_ino', [8]);
  const seq = sized('bpf_iter_meta', 'seq', [8]);
  const rec = -ownerRecord.size; // the record is built on the stack
  const prog: Insn[] = [
    movReg(6, 1),
    ldx(BPF.DW, 7, 6, ctxAt('task')),
    skipIfZero(7),
    ldx(BPF.DW, 8, 6, ctxAt('file')),
    skipIfZero(8),
    // Only the leader's table, which is what /proc/PID/fd shows.
    ldx(pid.load, 2, 7, pid.offset),
    ldx(tgid.load, 3, 7, tgid.offset),
    skipUnlessReg(2, 3),
    ldx(fInode.load, 9, 8, fInode.offset),
    skipIfZero(9),
    ldx(iMode.load, 4, 9, iMode.offset),
    andImm(4, S_IFMT),
    skipUnlessImm(4, S_IFSOCK),
    ldx(iIno.load, 4, 9, iIno.offset),
    stx(BPF.DW, FP, 4, rec),
    ldx(BPF.W, 4, 6, ctxAt('fd')),
    stx(BPF.W, FP, 4, rec + FD_AT),
    stx(BPF.W, FP, 3, rec + PID_AT),
    movReg(1, FP),
    addImm(1, rec + COMM_AT),
    movImm(2, COMM_LEN),
    movReg(3, 7),
    addImm(3, comm.offset),
    call(FUNC_PROBE_READ_KERNEL),
    ldx(BPF.DW, 1, 6, ctxAt('meta')),
    ldx(seq.load, 1, 1, seq.offset),
    movReg(2, FP),
    addImm(2, rec),
    movImm(3, ownerRecord.size),
    call(FUNC_SEQ_WRITE),
    movImm(0, 0), // out:
    exit(),
  ];
  const out = prog.length - 2;
  const insns = Buffer.alloc(prog.length * bpfInsn.size);
  prog.forEach((p, i) => {
    const off = p.off === 'out' ? out - i - 1 : p.off;
    encodeStruct(bpfInsn, { code: p.code, regs: (p.src << 4) | p.dst, off, imm: p.imm }, insns, i * bpfInsn.size);
  });
  return { insns, attachBtfId: btf.typeId(BTF_KIND.FUNC, 'bpf_iter_task_file') };
}

const INODE_AT = ownerRecord.fields[0].offset;

/**
 * Turns the records into the shape the /proc walk returns. Records come in pid order and
 * descriptor order within a process, as the /proc walk finds them. Fields are read in
 * place (a hundred thousand records make per-record objects show).
 */
export function ownersFromRecords(bytes: Buffer): NativeProcScan {
  const n = Math.floor(bytes.length / ownerRecord.size);
  const v = viewOf(bytes);
  const scan: NativeProcScan = {
    inodes: new Float64Array(n),
    pids: new Int32Array(n),
    tids: new Int32Array(n),
    fds: new Int32Array(n),
    tasks: new Int32Array(n),
    commands: [],
  };
  let lastPid = -1;
  for (let i = 0, at = 0; i < n; i++, at += ownerRecord.size) {
    // Inode numbers stay far below 2^53.
    scan.inodes[i] = v.getUint32(at + INODE_AT, true) + v.getUint32(at + INODE_AT + 4, true) * 2 ** 32;
    scan.fds[i] = v.getInt32(at + FD_AT, true);
    const pid = v.getInt32(at + PID_AT, true);
    scan.pids[i] = pid;
    if (pid !== lastPid) {
      lastPid = pid;
      const start = at + COMM_AT;
      let end = start;
      while (end < start + COMM_LEN && bytes[end] !== 0) end++;
      scan.commands.push(bytes.toString('utf8', start, end));
    }
    scan.tasks[i] = scan.commands.length - 1;
  }
  return scan;
}

/**
 * Whether pids the kernel reports (task->tgid) are the pids this process sees: only in the
 * initial pid namespace (its NSpid line then has one number).
 */
export function inInitialPidNamespace(statusPath = '/proc/self/status'): boolean {
  const line = readFileSync(statusPath, 'latin1').split('\n').find((l) => l.startsWith('NSpid:'));
  return line !== undefined && line.slice(6).trim().split(/\s+/).length === 1;
}

/** Why the BPF walk cannot run here, or the program it runs. */
type Readiness = { program: OwnerProgram } | { unavailable: Error };

// Built once per process: reading the kernel's BTF takes tens of milliseconds.
let readiness: Promise<Readiness> | undefined;

async function prepare(): Promise<Readiness> {
  try {
    if (!inInitialPidNamespace()) return { unavailable: new Error('this process is not in the initial pid namespace, so kernel pids are not its pids') };
    return { program: buildOwnerProgram(new Btf(await readFile('/sys/kernel/btf/vmlinux'))) };
  } catch (err) {
    return { unavailable: err instanceof Error ? err : new Error(String(err)) };
  }
}

// Below this many open files in the system, a process's first scan walks /proc: reading the
// kernel's BTF (tens of milliseconds, once per process) costs more than the readlinks would.
const FILES_WORTH_BTF = 20_000;
let coldScans = 0;

/**
 * Whether the default method should use the iterator for this scan: once the program is
 * built (or known not to load), from the process's second scan on, or on the first when
 * the system has many open files. A one-shot command on a quiet host walks /proc.
 */
export function preferBpf(fileNrPath = '/proc/sys/fs/file-nr'): boolean {
  if (readiness !== undefined || coldScans++ > 0) return true;
  try {
    return Number(readFileSync(fileNrPath, 'latin1').split(/\s+/)[0]) >= FILES_WORTH_BTF;
  } catch {
    return false;
  }
}

/**
 * Socket owners by the BPF iterator, or the reason it cannot run here (no BTF, no
 * CAP_BPF/CAP_PERFMON, another pid namespace, a kernel that refuses the program). A
 * refusal by the kernel is remembered, so later scans go straight to /proc.
 */
export async function bpfOwners(): Promise<NativeProcScan | Error> {
  readiness ??= prepare();
  const ready = await readiness;
  if ('unavailable' in ready) return ready.unavailable;
  try {
    return ownersFromRecords(await nativeBinding().runBpfIterator(ready.program.insns, ready.program.attachBtfId));
  } catch (err) {
    const native = fromNativeError(err, { operation: 'process scan' });
    const e = native instanceof Error ? native : new Error(String(native));
    readiness = Promise.resolve({ unavailable: e });
    return e;
  }
}
