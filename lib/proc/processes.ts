/**
 * Which processes hold which sockets (`ss -p`, `ss -T`, `ss -Z`/`-z`). No sock_diag reply
 * names its owners. Where it can (root, kernel BTF, the initial pid namespace), a BPF
 * iterator over every process's files lists the socket descriptors inside the kernel
 * (bpf-owners.ts). Otherwise, and for threads and SELinux contexts, socket inodes are
 * matched against the `socket:[N]` links of /proc/PID/fd: the addon walks /proc once on a
 * pool thread (the readlinks are the whole cost) and reads
 * the command name of each owner as it finds it, through the same /proc/PID directory fd,
 * so a pid reused meanwhile is never mixed up with the process whose fds were read. Here
 * the result becomes an inode → processes map.
 *
 * Processes that start or end during the walk are simply seen or not: a /proc entry that
 * vanishes (ENOENT/ESRCH) is skipped, never an error.
 * @module
 */
import { fromNativeError } from '../errors';
import type { SocketProcess } from '../diag/common/socket';
import { procBinding, type NativeProcScan } from './native';
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
   * How owners are found: `'bpf'` (the kernel's task_file iterator; an error where it cannot
   * run), `'proc'` (the /proc walk), or `'auto'` (default: BPF where it can run, except for
   * a process's first scan on a host with few open files, where reading the kernel's BTF would
   * cost more than it saves; always /proc for `threads`, `contexts` or another `procRoot`).
   * Both give the same owners.
   */
  method?: 'auto' | 'bpf' | 'proc';
}

/** The `processes` option of the listing functions: `true`, or which extras to add. */
export type ProcessesOption = boolean | { threads?: boolean; contexts?: boolean };

/** The scan options a listing's `processes` option asks for, or undefined when it asks for none. */
export function processScanOptions(option: ProcessesOption | undefined): ProcessScanOptions | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === true) return {};
  if (typeof option !== 'object' || option === null) throw new TypeError('processes must be a boolean or { threads?, contexts? }');
  return { threads: option.threads === true, contexts: option.contexts === true };
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

/** Walks /proc once (off the main thread) and returns the inode → processes map. */
export async function scanProcesses(options: ProcessScanOptions = {}): Promise<ProcessMap> {
  const procRoot = options.procRoot ?? '/proc';
  const threads = options.threads ?? false;
  // Another LSM's label (AppArmor's) in attr/current is no SELinux context: read only where SELinux is on.
  const contexts = options.contexts !== true ? 'none' : (options.selinux ?? selinuxEnabled()) ? 'read' : 'unavailable';
  const method = options.method ?? 'auto';
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
    r = await procBinding().scanProcSockets(procRoot, threads, contexts === 'read');
  } catch (err) {
    throw fromNativeError(err, { operation: 'process scan' });
  }
  return new ProcessMap(r, threads, contexts);
}
