/**
 * Files of /proc/net as a network namespace sees them (the addon's readNetFiles, typed in
 * lib/netlink/addon.ts).
 * @module
 */
import { nativeBinding } from '../netlink/binding';
import { netnsPath, type NetnsRef } from '../netlink/channel';
import { withNetnsDetail } from '../netlink/netns';
import { fromNativeError, SockdiagSystemError, type ErrorContext } from '../errors';

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
  let raw: (Buffer | number)[];
  try {
    raw = await nativeBinding().readNetFiles(path, names);
  } catch (err) {
    const e = fromNativeError(err, context);
    throw netns === undefined || path === null ? e : withNetnsDetail(e, netns, path, context);
  }
  return names.map((name, i) => {
    const r = raw[i];
    if (typeof r === 'number') return { name, error: new SockdiagSystemError(r, 'open', context, `/proc/net/${name}`) };
    return { name, text: r.toString('latin1') };
  });
}
