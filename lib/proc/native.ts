/**
 * The addon's /proc verbs (native/procscan.cc) with their full types, and the reading of
 * /proc/net files inside another network namespace.
 * @module
 */
import { nativeBinding } from '../netlink/binding';
import { netnsPath, type NetnsRef } from '../netlink/channel';
import { withNetnsDetail } from '../netlink/netns';
import { fromNativeError, SockdiagError, SockdiagSystemError, type ErrorContext } from '../errors';

/** What the addon's /proc walk returns: one row per socket descriptor found, plus one per task. */
export interface NativeProcScan {
  /** Socket inode of each row. */
  inodes: Float64Array;
  /** Process id of each row. */
  pids: Int32Array;
  /** Thread id of each row (0 unless threads were walked). */
  tids: Int32Array;
  /** File descriptor number of each row. */
  fds: Int32Array;
  /** Index into `commands` (and `processContexts`) of each row's task. */
  tasks: Int32Array;
  /** Command name (comm) of each task, '' when it ended before it could be read. */
  commands: string[];
  /** SELinux context of each task ('' when unavailable); only when contexts were asked for. */
  processContexts?: string[];
  /** SELinux context of each row's socket ('' when unavailable); only when contexts were asked for. */
  socketContexts?: string[];
}

interface ProcBinding {
  scanProcSockets(procRoot: string, threads: boolean, contexts?: boolean): Promise<NativeProcScan>;
  readNetFiles(netns: string | null, names: readonly string[]): Promise<(Uint8Array | number)[]>;
  runBpfIterator(insns: Buffer, attachBtfId: number): Promise<Buffer>;
}

/** The addon, typed for the verbs of native/procscan.cc (a stale build without them is a clear error). */
export function procBinding(): ProcBinding {
  const b = nativeBinding() as unknown as Partial<ProcBinding>;
  if (typeof b.readNetFiles !== 'function' || typeof b.scanProcSockets !== 'function' || typeof b.runBpfIterator !== 'function') {
    throw new SockdiagError('The loaded sockdiag addon is older than this library (it has no runBpfIterator): rebuild it with `npm run build:native`', 'ERR_SOCKDIAG_ADDON_OUTDATED');
  }
  return b as ProcBinding;
}

/** One file of /proc/net as read by {@link readNetFiles}. */
export interface NetFile {
  /** File name under /proc/net, e.g. `'sockstat'`. */
  name: string;
  /** Its text, or undefined when it could not be read (see `error`). */
  text?: string;
  /** Why it could not be read (e.g. ENOENT for sockstat6 when IPv6 is disabled). */
  error?: SockdiagSystemError;
}

/**
 * Reads files of /proc/net as the network namespace `netns` (default: this process's)
 * sees them. A namespace other than the caller's is entered by a short-lived native thread
 * (`/proc/thread-self/net` follows the reading thread's namespace), so no thread of the
 * process changes namespace. Fails when the namespace cannot be entered, with a message
 * naming it; a file that cannot be read comes back with its `error`.
 */
export async function readNetFiles(netns: NetnsRef | undefined, names: readonly string[], context: ErrorContext = {}): Promise<NetFile[]> {
  const path = netns === undefined ? null : netnsPath(netns);
  let raw: (Uint8Array | number)[];
  try {
    raw = await procBinding().readNetFiles(path, names);
  } catch (err) {
    const e = fromNativeError(err, context);
    throw netns === undefined || path === null ? e : withNetnsDetail(e, netns, path, context);
  }
  return names.map((name, i) => {
    const r = raw[i];
    if (typeof r === 'number') return { name, error: new SockdiagSystemError(r, 'open', context, `/proc/net/${name}`) };
    return { name, text: Buffer.from(r.buffer, r.byteOffset, r.byteLength).toString('latin1') };
  });
}
