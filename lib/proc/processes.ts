/**
 * Which processes hold which sockets (`ss -p`, `ss -T`, `ss -Z`/`-z`). No sock_diag reply
 * names its owners. By default socket inodes are matched against the `socket:[N]` links of
 * /proc/PID/fd: the addon walks /proc once on a pool thread (the readlinks are the whole
 * cost) and reads the command name of each owner as it finds it, through the same
 * /proc/PID directory fd, so a pid reused meanwhile is never mixed up with the process whose
 * fds were read. Only when the caller asks (`method: 'bpf'` or `'auto'`) does it load a BPF
 * iterator over every process's files, which lists the socket descriptors inside the kernel
 * (bpf-owners.ts; root, kernel BTF and the initial pid namespace). Here the result becomes
 * an inode → processes map.
 *
 * Processes that start or end during the walk are simply seen or not: a /proc entry that
 * vanishes (ENOENT/ESRCH) is skipped, never an error.
 * @module
 */
import { fromNativeError } from '../errors';
import type { SocketProcess } from '../diag/common/socket';
import { nativeBinding } from '../netlink/binding';
import type { NativeProcScan } from '../netlink/addon';
import type * as BpfOwners from './bpf-owners';
import { selinuxEnabled, SELINUX_UNAVAILABLE, type SecurityContexts } from './selinux';

/** Options of {@link scanProcesses}. */
export interface ProcessScanOptions {
  /** Walk every thread's fd table and report the tid (ss -T); the command is then the thread's name, as ss shows it. */
  threads?: boolean;
  /**
   * Add the SELinux contexts of each owner (`processContext`, like `ss -Z`) and socket
   * (`socketContext`, like `ss -z`). Where SELinux is off both are `'unavailable'`.
   */
  contexts?: boolean;
  /** Treat SELinux as on or off instead of detecting it (tests, unusual mounts). */
  selinux?: boolean;
  /** Where proc is mounted (default /proc). */
  procRoot?: string;
  /**
   * How owners are found; both ways give the same owners.
   * - `'proc'` (default): the /proc walk. Loads no BPF program.
   * - `'bpf'`: reads the kernel's BTF (/sys/kernel/btf/vmlinux), loads a BPF task_file
   *   iterator program, runs it once and unloads it; an error where it cannot run (it needs
   *   root, or CAP_BPF and CAP_PERFMON, and the initial pid namespace).
   * - `'auto'`: that BPF program where it can run, else the /proc walk; the /proc walk too
   *   for a process's first scan on a host with few open files, where reading the BTF would
   *   cost more than it saves (`sockdiag -p` uses this).
   *
   * `threads`, `contexts` and another `procRoot` always walk /proc.
   */
  method?: 'auto' | 'bpf' | 'proc';
}

/**
 * The `processes` option of the listing functions: `true`, or which extras to add and how
 * owners are found (see {@link ProcessScanOptions}; the default walks /proc and loads no BPF).
 */
export type ProcessesOption = boolean | { threads?: boolean; contexts?: boolean; method?: 'auto' | 'bpf' | 'proc' };

/** The scan options a listing's `processes` option asks for, or undefined when it asks for none. */
export function processScanOptions(option: ProcessesOption | undefined): ProcessScanOptions | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === true) return {};
  if (typeof option !== 'object' || option === null) throw new TypeError('processes must be a boolean or { threads?, contexts?, method? }');
  const out: ProcessScanOptions = { threads: option.threads === true, contexts: option.contexts === true };
  if (option.method !== undefined) out.method = option.method;
  return out;
}

/** One owner of a socket, with its SELinux contexts when they were asked for. */
export type SocketOwner = SocketProcess & SecurityContexts;

/** The socket owners found by one walk, looked up by inode. */
export class ProcessMap {
  private readonly index = new Map<number, number | number[]>();

  /** @internal Built by {@link scanProcesses}. */
  constructor(
    private readonly r: NativeProcScan,
    private readonly threads: boolean,
    private readonly contexts: 'read' | 'unavailable' | 'none',
  ) {
    for (let i = 0; i < r.inodes.length; i++) {
      const ino = r.inodes[i];
      const prev = this.index.get(ino);
      if (prev === undefined) this.index.set(ino, i);
      else if (typeof prev === 'number') this.index.set(ino, [prev, i]);
      else prev.push(i);
    }
  }

  /** Number of socket file descriptors found. */
  get size(): number {
    return this.r.inodes.length;
  }

  /** Every socket inode found, with its owners (as {@link ProcessMap.lookup} gives them). */
  *entries(): IterableIterator<[number, SocketOwner[]]> {
    for (const ino of this.index.keys()) yield [ino, this.lookup(ino)!];
  }

  /** The processes holding the socket with this inode (undefined when none was found). */
  lookup(inode: number): SocketOwner[] | undefined {
    const hit = this.index.get(inode);
    if (hit === undefined) return undefined;
    if (typeof hit === 'number') return [this.entry(hit)];
    return hit.map((i) => this.entry(i));
  }

  private entry(i: number): SocketOwner {
    const task = this.r.tasks[i];
    // Keys in ss's order (pid, tid, command, fd), so that JSON reads like `users:(...)`.
    const p: SocketOwner = this.threads
      ? { pid: this.r.pids[i], tid: this.r.tids[i], command: this.r.commands[task], fd: this.r.fds[i] }
      : { pid: this.r.pids[i], command: this.r.commands[task], fd: this.r.fds[i] };
    if (this.contexts === 'unavailable') {
      p.processContext = SELINUX_UNAVAILABLE;
      p.socketContext = SELINUX_UNAVAILABLE;
    } else if (this.contexts === 'read') {
      p.processContext = this.r.processContexts?.[task] || SELINUX_UNAVAILABLE;
      p.socketContext = this.r.socketContexts?.[i] || SELINUX_UNAVAILABLE;
    }
    return p;
  }
}

/**
 * Finds the owners of every socket once (the /proc walk off the main thread, or, when
 * `method` asks for it, a BPF iterator) and returns the inode → processes map.
 */
export async function scanProcesses(options: ProcessScanOptions = {}): Promise<ProcessMap> {
  const procRoot = options.procRoot ?? '/proc';
  const threads = options.threads ?? false;
  // Another LSM's label (AppArmor's) in attr/current is no SELinux context: read only where SELinux is on.
  const contexts = options.contexts !== true ? 'none' : (options.selinux ?? selinuxEnabled()) ? 'read' : 'unavailable';
  const method = options.method ?? 'proc';
  if (method !== 'auto' && method !== 'bpf' && method !== 'proc') throw new TypeError("method must be 'auto', 'bpf' or 'proc'");
  const bpfCan = !threads && contexts === 'none' && options.procRoot === undefined;
  if (method === 'bpf' && !bpfCan) throw new TypeError("method 'bpf' cannot report threads, SELinux contexts or another procRoot");
  // Loaded on first use, like the rest of the walk: most listings map no processes.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const bpf = bpfCan && method !== 'proc' ? (require('./bpf-owners') as typeof BpfOwners) : undefined;
  if (bpf && (method === 'bpf' || bpf.preferBpf())) {
    const r = await bpf.bpfOwners();
    if (!(r instanceof Error)) return new ProcessMap(r, threads, contexts);
    if (method === 'bpf') throw r;
  }
  let r: NativeProcScan;
  try {
    r = await nativeBinding().scanProcSockets(procRoot, threads, contexts === 'read');
  } catch (err) {
    throw fromNativeError(err, { operation: 'process scan' });
  }
  return new ProcessMap(r, threads, contexts);
}
