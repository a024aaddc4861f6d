/**
 * cgroup v2 ids and paths, both ways: the id `cgroup PATH` names in a filter, and the path
 * ss prints for a socket's cgroup id. A cgroup's id is its directory's inode number.
 * @module
 */
import { readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { cgroup2Mount } from './mounts';

/**
 * The cgroup v2 id that `cgroup PATH` names, resolved as ss does: PATH as a file system path
 * first (absolute, or relative to the working directory), then relative to the cgroup2
 * mount. A path outside cgroup2 (`/` is the root file system, not the root cgroup) gives
 * that file's inode, which is what ss's file handle holds there and which no cgroup is
 * likely to have.
 */
export function cgroupIdOf(cgroupPath: string, mount: string | undefined = cgroup2Mount()): bigint | undefined {
  const inode = (p: string): bigint | undefined => {
    try {
      return statSync(p, { bigint: true }).ino;
    } catch {
      return undefined;
    }
  };
  return inode(cgroupPath) ?? (mount === undefined ? undefined : inode(path.join(mount, cgroupPath)));
}

/** Options of {@link cgroupPathResolver}. */
export interface CgroupResolverOptions {
  /**
   * True when ss would have switched namespaces (`-N`): its netns_switch() mounts a fresh
   * /sys, so a cgroup2 mount under /sys is gone for it and it prints `unreachable:ID`.
   */
  sysRemounted?: boolean;
  /** The mount table to read (default /proc/self/mounts). */
  mountsFile?: string;
}

/**
 * cgroup id → path as ss's cg_id_to_path prints it: relative to the first cgroup2 mount of
 * /proc/mounts (`/` for the root), walked once (a cgroup's id is its directory's inode
 * number); ids not found there, or no cgroup2 mount at all, give `unreachable:HEX`.
 */
export function cgroupPathResolver(options: CgroupResolverOptions = {}): (id: bigint) => string {
  const mount = cgroup2Mount({ mountsFile: options.mountsFile, skipSys: options.sysRemounted });
  const paths = new Map<bigint, string>();
  let walked = false;
  const walk = (): void => {
    walked = true;
    if (mount === undefined) return;
    const stack = [mount];
    while (stack.length > 0) {
      const dir = stack.pop() as string;
      let ino: bigint;
      try {
        ino = statSync(dir, { bigint: true }).ino;
      } catch {
        continue;
      }
      const rel = dir.slice(mount.length) || '/';
      if (!paths.has(ino)) paths.set(ino, rel);
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) if (e.isDirectory()) stack.push(`${dir === '/' ? '' : dir}/${e.name}`);
    }
  };
  return (id: bigint): string => {
    let p = paths.get(id);
    if (p === undefined && !walked) {
      walk();
      p = paths.get(id);
    }
    return p ?? `unreachable:${id.toString(16)}`;
  };
}
