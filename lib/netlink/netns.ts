/**
 * Errors about network namespaces that say which namespace and why: the addon reports
 * only the failed call (`open ENOENT`, `setns EINVAL`), which does not tell a caller that
 * passed a name, a path or a pid what was wrong with it.
 *
 * Takes the resolved path as an argument (see `netnsPath` in ./channel) so that the
 * channel can use it without an import cycle.
 * @module
 */
import { SockdiagSystemError, type ErrorContext } from '../errors';
import type { NetnsRef } from './channel';

/** How a namespace reference reads in a message: `network namespace "x" (/var/run/netns/x)`. */
export function describeNetns(ref: NetnsRef, path: string): string {
  if (typeof ref === 'number') return `the network namespace of pid ${ref} (${path})`;
  return ref === path ? `network namespace ${path}` : `network namespace "${ref}" (${path})`;
}

/** Why entering the namespace failed with that errno name in that syscall, in words. */
export function netnsErrorDetail(ref: NetnsRef, path: string, code: string, syscall: string): string {
  const what = describeNetns(ref, path);
  if (syscall === 'open' && code === 'ENOENT') {
    return typeof ref === 'number' ? `${what}: no such process (it may have exited)` : `${what} does not exist`;
  }
  if (syscall === 'open' && code === 'EACCES') return `${what} cannot be opened (permission denied)`;
  if (syscall === 'setns' && code === 'EINVAL') return `${path} is not a network namespace`;
  if (syscall === 'setns' && code === 'EPERM') return `entering ${what} needs CAP_SYS_ADMIN`;
  return what;
}

/**
 * The same system error with a message that names the namespace (`code`, `errno` and
 * `syscall` are kept). Errors of another kind are returned as they are.
 */
export function withNetnsDetail(err: unknown, ref: NetnsRef, path: string, context: ErrorContext = {}): unknown {
  if (!(err instanceof SockdiagSystemError)) return err;
  const out = new SockdiagSystemError(err.errno, err.syscall, context, netnsErrorDetail(ref, path, err.code, err.syscall));
  if (err.family !== undefined) out.family = err.family;
  if (err.protocol !== undefined) out.protocol = err.protocol;
  return out;
}
