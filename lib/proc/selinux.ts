/**
 * SELinux security contexts, as `ss -Z` (process context) and `ss -z` (socket context)
 * show them. ss takes them from libselinux: `getpidcon()` reads /proc/PID/attr/current and
 * `getfilecon()` reads the `security.selinux` attribute of /proc/PID/fd/N, which follows
 * the link to the socket's inode. Socket contexts are read by the /proc walk (the addon
 * does the getxattr); this module has the "is SELinux on" test and the process lookups.
 *
 * Where SELinux is off, `ss -Z`/`-z` refuse to run ("SELinux is not enabled", exit 1); a
 * context that cannot be read while it is on is printed as `unavailable`. sockdiag never
 * refuses: every context is {@link SELINUX_UNAVAILABLE} when SELinux is off (another
 * LSM's label in /proc/PID/attr/current, e.g. AppArmor's, is not an SELinux context).
 * @module
 */
import { readFile } from 'node:fs/promises';
import { readFileSync, statfsSync } from 'node:fs';

/** What ss prints for a context it cannot get. */
export const SELINUX_UNAVAILABLE = 'unavailable';

/** The security contexts of a socket's owner (filled when `processes: { contexts: true }`). */
export interface SecurityContexts {
  /** SELinux context of the process, or thread with `threads` (`ss -Z` proc_ctx); `'unavailable'` when unknown. */
  processContext?: string;
  /** SELinux context of the socket (`ss -z` sock_ctx); `'unavailable'` when unknown. */
  socketContext?: string;
}

// statfs(2) f_type of selinuxfs.
const SELINUX_MAGIC = 0xf97cff8c;

/**
 * True when SELinux is enabled, found as libselinux finds it: selinuxfs mounted at
 * /sys/fs/selinux (or /selinux), or listed in /proc/mounts.
 */
export function selinuxEnabled(): boolean {
  for (const dir of ['/sys/fs/selinux', '/selinux']) {
    try {
      if (statfsSync(dir).type === SELINUX_MAGIC) return true;
    } catch {
      /* not there */
    }
  }
  try {
    return readFileSync('/proc/mounts', 'latin1')
      .split('\n')
      .some((line) => line.split(' ')[2] === 'selinuxfs');
  } catch {
    return false;
  }
}

/** A label as the kernel hands it, without the trailing NUL or newline (as libselinux returns it). */
export function trimLabel(raw: string): string {
  return raw.replace(/[\0\n]+$/, '');
}

/** Options of the context lookups. */
export interface ContextLookupOptions {
  /** Where proc is mounted (default /proc). */
  procRoot?: string;
  /** Treat SELinux as on or off instead of detecting it (for tests and unusual mounts). */
  selinux?: boolean;
}

/**
 * The SELinux context of a process or thread (`getpidcon()`), or `'unavailable'` when
 * SELinux is off, the task has ended or the label cannot be read.
 */
export async function processContext(pid: number, options: ContextLookupOptions = {}): Promise<string> {
  if (!Number.isInteger(pid) || pid <= 0) throw new TypeError(`pid must be a positive integer, got ${String(pid)}`);
  if (!(options.selinux ?? selinuxEnabled())) return SELINUX_UNAVAILABLE;
  try {
    const label = trimLabel(await readFile(`${options.procRoot ?? '/proc'}/${pid}/attr/current`, 'latin1'));
    return label === '' ? SELINUX_UNAVAILABLE : label;
  } catch {
    return SELINUX_UNAVAILABLE;
  }
}

/**
 * The kernel's initial SELinux context (`security_get_initial_context("kernel")`), which
 * ss shows as the proc_ctx of netlink sockets owned by the kernel (port id 0), or
 * `'unavailable'`.
 */
export async function kernelContext(options: { selinux?: boolean; selinuxfs?: string } = {}): Promise<string> {
  if (!(options.selinux ?? selinuxEnabled())) return SELINUX_UNAVAILABLE;
  try {
    const label = trimLabel(await readFile(`${options.selinuxfs ?? '/sys/fs/selinux'}/initial_contexts/kernel`, 'latin1'));
    return label === '' ? SELINUX_UNAVAILABLE : label;
  } catch {
    return SELINUX_UNAVAILABLE;
  }
}
