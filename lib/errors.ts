/**
 * Error classes. System errors look like Node's own (`code`, negative `errno`,
 * `syscall`); library errors carry a stable `SOCKDIAG_*`/`ERR_SOCKDIAG_*` code.
 * @module
 */
import { getSystemErrorName, types } from 'node:util';
import { constants as osConstants } from 'node:os';

/** Base class of every error sockdiag throws on purpose. */
export class SockdiagError extends Error {
  /** A stable machine-readable code. */
  code: string;
  /** Creates the error. @param code a stable `SOCKDIAG_*`/`ERR_SOCKDIAG_*` code. */
  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    Error.captureStackTrace?.(this, new.target);
  }
}
Object.defineProperty(SockdiagError.prototype, 'name', { value: 'SockdiagError', enumerable: false, writable: true, configurable: true });

/** What the library was doing when the kernel answered with an error. */
export interface ErrorContext {
  /** e.g. `'dump'`, `'destroy'`, `'open'`. */
  operation?: string;
  /** Address family name, e.g. `'inet6'`. */
  family?: string;
  /** Protocol name, e.g. `'tcp'`. */
  protocol?: string;
}

// What ran out, and what to do, for the errors that mean a limit was reached.
const RUN_OUT: Readonly<Record<string, string>> = {
  EMFILE: 'this process has too many open files: close channels (break out of streams, close watches) or raise the limit (ulimit -n)',
  ENFILE: 'the system has too many open files: close some, or raise fs.file-max',
  ENOMEM: 'the kernel is out of memory',
  ENOBUFS: "the socket's receive buffer overflowed: read faster or raise rcvbuf",
};

/**
 * A failed system call or a netlink error reply, shaped like Node's system errors:
 * `code` is the errno name, `errno` the negative number, `syscall` the call.
 */
export class SockdiagSystemError extends SockdiagError {
  /** Negative errno, as in Node's own system errors. */
  errno: number;
  /** `'sendmsg'`, `'recvmsg'`, `'setns'`, … */
  syscall: string;
  /** What the library was doing: `'dump'`, `'open'`, … */
  operation?: string;
  /** Address family involved, e.g. `'inet6'`. */
  family?: string;
  /** Protocol involved, e.g. `'tcp'`. */
  protocol?: string;
  /** Extended-ack message the kernel attached, if any. */
  extack?: string;
  /** Creates the error. @param errno positive or negative errno; stored negative. @param detail appended to the message. */
  constructor(errno: number, syscall: string, context: ErrorContext = {}, detail?: string) {
    const neg = errno > 0 ? -errno : errno;
    const code = errnoName(neg);
    const what = [context.operation, context.family, context.protocol].filter(Boolean).join(' ');
    const why = detail ?? RUN_OUT[code];
    super(`${syscall} ${code}${what ? ` (${what})` : ''}${why ? `: ${why}` : ''}`, code);
    this.errno = neg;
    this.syscall = syscall;
    if (context.operation !== undefined) this.operation = context.operation;
    if (context.family !== undefined) this.family = context.family;
    if (context.protocol !== undefined) this.protocol = context.protocol;
  }
}
Object.defineProperty(SockdiagSystemError.prototype, 'name', { value: 'SockdiagSystemError', enumerable: false, writable: true, configurable: true });

/** The running kernel has no sock_diag handler for this family or protocol. */
export class NotSupportedError extends SockdiagSystemError {
  /** Creates the error. @param errno the errno the kernel answered with (ENOENT, EOPNOTSUPP, …). */
  constructor(errno: number, syscall: string, context: ErrorContext = {}) {
    super(errno, syscall, context, 'not supported by this kernel (no sock_diag handler; the module may be missing)');
  }
}
Object.defineProperty(NotSupportedError.prototype, 'name', { value: 'NotSupportedError', enumerable: false, writable: true, configurable: true });

/** Bytes that do not form a valid message: thrown by every decoder, with the byte offset. */
export class DecodeError extends SockdiagError {
  /** Offset of the problem inside the buffer being decoded. */
  offset: number;
  /** The structure or attribute being decoded. */
  structName: string;
  /** Creates the error. @param offset where in the buffer the problem is. @param structName what was being decoded. */
  constructor(message: string, offset: number, structName: string) {
    super(`${message} (at byte ${offset})`, 'ERR_SOCKDIAG_DECODE');
    this.offset = offset;
    this.structName = structName;
  }
}
Object.defineProperty(DecodeError.prototype, 'name', { value: 'DecodeError', enumerable: false, writable: true, configurable: true });

/**
 * A path that is not a sockdiag recording (a directory, another file), or a damaged stretch of
 * one when replaying strictly. `offset` and `end` are byte offsets in the file: the bytes from
 * `offset` up to `end` are the ones that are not whole records.
 */
export class RecordingError extends DecodeError {
  /** The file, as given. */
  file: string;
  /** The first byte after the damaged stretch (the file's size when it runs to the end). */
  end: number;
  /** Creates the error. @param file the path concerned. @param offset where the damage starts. @param end where it ends. */
  constructor(message: string, file: string, offset = 0, end = offset) {
    super(message, offset, 'sockdiag_record');
    this.file = file;
    this.end = end;
  }
}
Object.defineProperty(RecordingError.prototype, 'name', { value: 'RecordingError', enumerable: false, writable: true, configurable: true });

/** An operation was aborted through an `AbortSignal`, shaped like Node's `AbortError`. */
export class AbortError extends Error {
  /** Always `'ABORT_ERR'`, as Node's own. */
  code = 'ABORT_ERR';
  /** Creates the error. @param options `cause` is the signal's reason. */
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
  }
}
Object.defineProperty(AbortError.prototype, 'name', { value: 'AbortError', enumerable: false, writable: true, configurable: true });

/** A listing that did not finish in time (`timeoutMs`), or a kernel that stopped answering (`replyTimeoutMs`). */
export class TimeoutError extends SockdiagError {
  /** The limit that passed, in milliseconds. */
  timeoutMs: number;
  /** Creates the error. @param message what did not happen in time. @param timeoutMs the limit. */
  constructor(message: string, timeoutMs: number) {
    super(message, 'ERR_SOCKDIAG_TIMEOUT');
    this.timeoutMs = timeoutMs;
  }
}
Object.defineProperty(TimeoutError.prototype, 'name', { value: 'TimeoutError', enumerable: false, writable: true, configurable: true });

/** The errno name of a (positive or negative) errno number, e.g. `-2` → `'ENOENT'`. */
export function errnoName(errno: number): string {
  const neg = errno > 0 ? -errno : errno;
  // Linux gives 95 two names; Node picks ENOTSUP, the kernel's socket code (and ss) say EOPNOTSUPP.
  if (neg === -95) return 'EOPNOTSUPP';
  try {
    return getSystemErrorName(neg);
  } catch {
    for (const [name, value] of Object.entries(osConstants.errno)) if (value === -neg) return name;
    return `Unknown system error ${neg}`;
  }
}

/** Wraps an error thrown by the native addon (it carries `code`/`errno`/`syscall`) into a {@link SockdiagSystemError}. */
export function fromNativeError(err: unknown, context: ErrorContext = {}): unknown {
  // isNativeError, not instanceof: the addon's errors may come from another realm (vm, jest).
  if (!types.isNativeError(err)) return err;
  const e = err as Error & { errno?: unknown; syscall?: unknown; code?: unknown };
  if (typeof e.errno === 'number' && typeof e.syscall === 'string') {
    // The addon's message is "syscall CODE (strerror)" plus, sometimes, ": a hint"; keep the hint.
    const hint = /\): (.+)$/.exec(e.message)?.[1];
    return new SockdiagSystemError(e.errno, e.syscall, context, hint);
  }
  if (typeof e.code === 'string' && e.code.startsWith('ERR_SOCKDIAG')) return new SockdiagError(e.message, e.code);
  return err;
}
