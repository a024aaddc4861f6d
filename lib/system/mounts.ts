/**
 * The cgroup2 mount, as ss finds it (the first cgroup2 line of the mount table).
 * @module
 */
import { readFileSync } from 'node:fs';

/** Options of {@link cgroup2Mount}. */
export interface Cgroup2MountOptions {
  /** The mount table to read (default /proc/self/mounts). */
  mountsFile?: string;
  /** Skip mounts under /sys: ss's `-N` mounts a fresh /sys, which hides them from it. */
  skipSys?: boolean;
}

/** Where cgroup2 is mounted in this mount namespace, or undefined when it is not. */
export function cgroup2Mount(options: Cgroup2MountOptions = {}): string | undefined {
  let table: string;
  try {
    table = readFileSync(options.mountsFile ?? '/proc/self/mounts', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of table.split('\n')) {
    const [, dir, type] = line.split(' ');
    if (type !== 'cgroup2') continue;
    // The mount table escapes spaces and the like as octal (\040).
    const path = dir.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
    if (options.skipSys && (path === '/sys' || path.startsWith('/sys/'))) continue;
    return path;
  }
  return undefined;
}
