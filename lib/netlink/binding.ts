/**
 * Loads the native addon and declares its surface. The addon is a handful of verbs
 * over an opaque netlink socket; everything else is TypeScript.
 * @module
 */
import * as path from 'node:path';

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

/** One batch of datagrams, back to back in `data`. */
export interface NativeBatch {
  data: ArrayBuffer;
  offsets: number[];
  lengths: number[];
  /** Sender port id of each datagram (0 = the kernel). */
  senders: number[];
  /** Multicast group mask of each datagram (0 = unicast). */
  groups: number[];
}

/** The native channel class. */
export interface NativeChannel {
  readonly portId: number;
  readonly closed: boolean;
  send(request: Uint8Array): void;
  read(): Promise<NativeBatch | null>;
  close(): void;
}

interface Binding {
  Channel: new (options?: NativeChannelOptions) => NativeChannel;
  /** One walk of /proc: every fd that is a socket, as parallel arrays. */
  scanProcSockets(procRoot: string, threads: boolean): Promise<{ inodes: Float64Array; pids: Int32Array; tids: Int32Array; fds: Int32Array }>;
}

let binding: Binding | undefined;

/** The loaded addon; loads it on first use with a helpful error when that fails. */
export function nativeBinding(): Binding {
  if (binding) return binding;
  if (process.platform !== 'linux') {
    throw new Error(`sockdiag works on Linux only (NETLINK_SOCK_DIAG); this is ${process.platform}`);
  }
  const root = path.join(__dirname, '..', '..');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const load = require('node-gyp-build') as (dir: string) => Binding;
    binding = load(root);
  } catch (err) {
    throw new Error(
      [
        `Could not load the sockdiag native addon for ${process.platform}-${process.arch} (Node ${process.version}).`,
        `Looked in ${path.join(root, 'build', 'Release')} and ${path.join(root, 'prebuilds', `${process.platform}-${process.arch}`)}.`,
        'Possible solutions:',
        '- Build it from source: npm rebuild sockdiag (needs python3, make and a C++ compiler).',
        '- Install with scripts enabled, or use a package that ships a prebuild for this platform and libc.',
        `Cause: ${(err as Error).message}`,
      ].join('\n'),
      { cause: err },
    );
  }
  return binding;
}
