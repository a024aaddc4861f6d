/**
 * Which processes hold which sockets (`ss -p`, `ss -T`). There is no kernel API for it:
 * socket inodes are matched against the `socket:[N]` links of /proc/PID/fd. The addon
 * walks /proc once on a pool thread (the readlinks are the whole cost); here the result
 * becomes an inode → processes map, and command names are read for the owners only.
 * @module
 */
import { readFileSync } from 'node:fs';
import { nativeBinding } from '../netlink/binding';
import { fromNativeError } from '../errors';
import type { SocketProcess } from '../diag/common/socket';

/** Options of {@link scanProcesses}. */
export interface ProcessScanOptions {
  /** Walk every thread's fd table and report the tid (ss -T). */
  threads?: boolean;
  /** Where proc is mounted (default /proc). */
  procRoot?: string;
}

/** What the addon's walk returns: one row per socket descriptor found. */
export interface ProcScanResult {
  inodes: Float64Array;
  pids: Int32Array;
  tids: Int32Array;
  fds: Int32Array;
}

/** The socket owners found by one walk, looked up by inode. */
export class ProcessMap {
  private readonly index = new Map<number, number | number[]>();
  private readonly commands = new Map<number, string>();

  /** @internal Built by {@link scanProcesses}. */
  constructor(
    private readonly r: ProcScanResult,
    private readonly threads: boolean,
    procRoot: string,
  ) {
    for (let i = 0; i < r.inodes.length; i++) {
      const ino = r.inodes[i];
      const prev = this.index.get(ino);
      if (prev === undefined) this.index.set(ino, i);
      else if (typeof prev === 'number') this.index.set(ino, [prev, i]);
      else prev.push(i);
      const pid = r.pids[i];
      if (!this.commands.has(pid)) this.commands.set(pid, commandOf(procRoot, pid));
    }
  }

  /** Number of socket file descriptors found. */
  get size(): number {
    return this.r.inodes.length;
  }

  /** The processes holding the socket with this inode (undefined when none was found). */
  lookup(inode: number): SocketProcess[] | undefined {
    const hit = this.index.get(inode);
    if (hit === undefined) return undefined;
    if (typeof hit === 'number') return [this.entry(hit)];
    return hit.map((i) => this.entry(i));
  }

  private entry(i: number): SocketProcess {
    const pid = this.r.pids[i];
    const p: SocketProcess = { pid, command: this.commands.get(pid) ?? '', fd: this.r.fds[i] };
    if (this.threads) p.tid = this.r.tids[i];
    return p;
  }
}

/** comm: the text between the first '(' and the last ')' of /proc/PID/stat ('' once the process is gone). */
function commandOf(procRoot: string, pid: number): string {
  try {
    const stat = readFileSync(`${procRoot}/${pid}/stat`, 'latin1');
    return stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  } catch {
    return '';
  }
}

/** Walks /proc once (off the main thread) and returns the inode → processes map. */
export async function scanProcesses(options: ProcessScanOptions = {}): Promise<ProcessMap> {
  const procRoot = options.procRoot ?? '/proc';
  const threads = options.threads ?? false;
  let r: ProcScanResult;
  try {
    r = await nativeBinding().scanProcSockets(procRoot, threads);
  } catch (err) {
    throw fromNativeError(err, { operation: 'process scan' });
  }
  return new ProcessMap(r, threads, procRoot);
}
