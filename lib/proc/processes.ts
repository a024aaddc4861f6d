/**
 * Which processes hold which sockets (`ss -p`, `ss -T`). There is no kernel API for it:
 * socket inodes are matched against the `socket:[N]` links of /proc/PID/fd. The walk runs
 * once per listing on a worker thread, so the dump proceeds on the main thread meanwhile.
 * @module
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { SocketProcess } from '../diag/common/socket';

/** Options of {@link scanProcesses}. */
export interface ProcessScanOptions {
  /** Walk every thread's fd table and report the tid (ss -T). */
  threads?: boolean;
  /** Where proc is mounted (default /proc). */
  procRoot?: string;
}

interface ScanResult {
  count: number;
  inodes: Float64Array;
  pids: Int32Array;
  fds: Int32Array;
  tids: Int32Array;
  commands: Record<number, string>;
}

/** The socket owners found by one walk, looked up by inode. */
export class ProcessMap {
  private readonly index = new Map<number, number | number[]>();
  private readonly r: ScanResult;
  private readonly threads: boolean;

  /** @internal */
  constructor(r: ScanResult, threads: boolean) {
    this.r = r;
    this.threads = threads;
    for (let i = 0; i < r.count; i++) {
      const ino = r.inodes[i];
      const prev = this.index.get(ino);
      if (prev === undefined) this.index.set(ino, i);
      else if (typeof prev === 'number') this.index.set(ino, [prev, i]);
      else prev.push(i);
    }
  }

  /** Number of socket file descriptors found. */
  get size(): number {
    return this.r.count;
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
    const p: SocketProcess = { pid, command: this.r.commands[pid] ?? '', fd: this.r.fds[i] };
    if (this.threads) p.tid = this.r.tids[i];
    return p;
  }
}

let worker: Worker | undefined;
let nextId = 1;
const pending = new Map<number, { resolve: (r: ScanResult) => void; reject: (e: Error) => void }>();

function getWorker(): Worker {
  if (worker) return worker;
  const w = new Worker(path.join(__dirname, 'scan-worker.js'));
  w.unref();
  w.on('message', (m: { id: number; result?: ScanResult; error?: string }) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (pending.size === 0) w.unref();
    if (m.error !== undefined) p.reject(new Error(`process scan failed: ${m.error}`));
    else p.resolve(m.result as ScanResult);
  });
  const fail = (err: Error): void => {
    worker = undefined;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  w.on('error', fail);
  w.on('exit', (code) => fail(new Error(`process scan worker exited with code ${code}`)));
  worker = w;
  return w;
}

/** Walks /proc once (off the main thread) and returns the inode → processes map. */
export function scanProcesses(options: ProcessScanOptions = {}): Promise<ProcessMap> {
  const w = getWorker();
  const id = nextId++;
  const threads = options.threads ?? false;
  return new Promise<ScanResult>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    w.ref();
    w.postMessage({ id, threads, procRoot: options.procRoot ?? '/proc' });
  }).then((r) => new ProcessMap(r, threads));
}
