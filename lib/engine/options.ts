/**
 * Options of the listing functions, and their resolution into per-family dump plans.
 * @module
 */
import type { ProtocolName, SocketState } from '../diag/constants';
import type { InetExtension } from '../diag/inet';
import type { NetnsRef } from '../netlink/channel';
import type { Filter } from '../filter/ast';
import type { ToFilter } from '../filter/builder';
import type { ProcessesOption } from '../proc/processes';
import type { Engine } from './engine';

/** What to list. Every field is optional: the default lists every socket, like `ss -a`. */
export interface ListOptions {
  /** Socket kinds to list (default: every kind this kernel answers). Naming one the kernel lacks is an error. */
  protocols?: readonly ProtocolName[];
  /** For inet protocols: which address families (default both). */
  families?: readonly ('inet' | 'inet6')[];
  /**
   * States to list, by ss's names (default: every state but `'bound-inactive'`, like `ss -a`;
   * name that state to get TCP sockets that are bound but neither listening nor connected).
   */
  states?: readonly SocketState[];
  /**
   * Extensions to ask the kernel for on inet sockets: `'all'` (default; what
   * `ss -tanie -m --tos --cgroup` shows), `'none'`, or a list of `idiag_ext` names.
   */
  extensions?: 'all' | 'none' | readonly InetExtension[];
  /** Network namespace to list: a name under /var/run/netns, a path, or a pid. */
  netns?: NetnsRef;
  /**
   * Add the processes holding each socket (pid, command, fd), from one walk of /proc.
   * `{ threads: true }` adds tids and thread names (ss -T); `{ contexts: true }` adds the
   * SELinux contexts of the process and the socket (ss -Z, -z), `'unavailable'` where SELinux is off.
   * `{ method: 'bpf' | 'auto' }` finds owners with a BPF iterator instead (root and kernel BTF;
   * `'auto'` picks it where it pays): no BPF program is loaded unless asked for this way.
   */
  processes?: ProcessesOption;
  /**
   * An ss filter: text in ss's language (`'state established ( dport = :ssh or sport = :ssh )'`,
   * a syntax error throws `FilterSyntaxError` with the position), a filter built with the
   * builder (`and(state('established'), dport.eq(22))`), or the tree itself. The inet part
   * runs in the kernel as INET_DIAG_REQ_BYTECODE; whatever the kernel cannot express is
   * checked after decoding. State words override `states`.
   */
  filter?: string | Filter | ToFilter;
  /** Aborting closes the netlink socket at once and rejects with an `AbortError`. */
  signal?: AbortSignal;
  /** Milliseconds the listing may take; past that it stops with `ERR_SOCKDIAG_TIMEOUT` (default: no limit). */
  timeoutMs?: number;
  /**
   * The engine to run on (default: the shared one). `new Engine({ channels })` injects the
   * channels, e.g. a fake kernel in tests.
   */
  engine?: Engine;
  /**
   * Bytes offered to each receive (default 64 KiB). The kernel sizes its dump datagrams
   * to what the reader takes, so smaller values mean more, smaller datagrams (tests use it).
   */
  recvSize?: number;
}

/** Per-listing counters, as attached to {@link SocketList}. */
export interface ListingStats {
  /**
   * True when the kernel flagged a dump as interrupted (NLM_F_DUMP_INTR): sockets may be
   * missing or repeated. inet dumps never set it even when that happens; see the README.
   */
  interrupted: boolean;
  /** Sockets reported twice by a non-atomic dump and dropped (by cookie). */
  duplicatesDropped: number;
  /** Protocols skipped because this kernel does not answer them (only when not asked for by name). */
  unsupported: ProtocolName[];
}
