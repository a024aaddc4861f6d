/**
 * The native addon's whole surface (native/*.cc), declared once: the loader
 * (`nativeBinding()` in binding.ts) returns an {@link Addon}, and every caller goes through it.
 * The addon is a handful of verbs over opaque handles; everything else is TypeScript.
 * @module
 */
/** Options of the native channel constructor. */
export interface NativeChannelOptions {
  /** Netlink protocol number (default 4, NETLINK_SOCK_DIAG). */
  protocol?: number;
  /** Open the socket inside this network namespace: a path (e.g. /run/netns/x) or an open fd. */
  netns?: string | number;
  /** Multicast group bit mask to bind to (event subscription). */
  groups?: number;
  /** SO_RCVBUF in bytes (tests use a tiny one to provoke ENOBUFS). */
  rcvbuf?: number;
  /** Bytes offered to each recvmsg (default 64 KiB; tests use a tiny one to provoke MSG_TRUNC). */
  recvSize?: number;
}

/** One batch of whole datagrams, back to back in `data` (each at an 8-byte boundary). */
export interface NativeBatch {
  /** The datagrams' bytes; datagram i is `data[offsets[i], offsets[i] + lengths[i])`. */
  data: ArrayBuffer;
  /** Where each datagram starts in `data`. */
  offsets: number[];
  /** Length of each datagram. */
  lengths: number[];
  /** Sender port id of each datagram (0 = the kernel). */
  senders: number[];
  /** Multicast group mask of each datagram (0 = unicast). */
  groups: number[];
}

/**
 * A NETLINK socket. The environment's one reader thread receives for it while a read is
 * pending, and one batch ahead after the first (so the kernel's dump work overlaps decoding).
 */
export interface NativeChannel {
  /** The socket's netlink port id. */
  readonly portId: number;
  /** True once `close()` has run. */
  readonly closed: boolean;
  /** Sends whole netlink messages to the kernel (sendmsg); never overlaps a receive on this socket. */
  send(request: Uint8Array): void;
  /**
   * The next batch, or null once closed. One read may be pending at a time
   * (ERR_SOCKDIAG_READ_PENDING); a datagram larger than `recvSize` rejects it with
   * ERR_SOCKDIAG_TRUNCATED, a failed recvmsg (e.g. ENOBUFS) with a system error. A pending
   * read keeps the event loop alive.
   */
  read(): Promise<NativeBatch | null>;
  /** Closes the socket (once the reader thread no longer uses it); a pending read settles with null. Idempotent. */
  close(): void;
}

/** What the addon's /proc walk returns: one row per socket descriptor found, plus one entry per task. */
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

/** The loaded addon, as `nativeBinding()` returns it. */
export interface Addon {
  /** The netlink channel class (native/channel.cc). */
  Channel: new (options?: NativeChannelOptions) => NativeChannel;
  /**
   * One walk of `procRoot` (normally /proc) on a pool thread: every fd that is a socket, with
   * its owner's command and, with `contexts`, SELinux labels (native/procwalk.cc).
   */
  scanProcSockets(procRoot: string, threads: boolean, contexts?: boolean): Promise<NativeProcScan>;
  /**
   * Files of /proc/net as a network namespace (a path or an open fd; null: the process's own)
   * sees them, read by a short-lived thread that enters it (native/netfiles.cc). Each result
   * is the file's bytes, or the negative errno reading it failed with.
   */
  readNetFiles(netns: string | number | null, names: readonly string[]): Promise<(Buffer | number)[]>;
  /**
   * Loads a BPF task_file iterator program, runs it once and returns what it wrote
   * (native/bpf_iter.cc). Needs CAP_BPF and CAP_PERFMON (or root) and kernel BTF.
   */
  runBpfIterator(insns: Buffer, attachBtfId: number): Promise<Buffer>;
}
