/**
 * This process's resource use, as Prometheus' standard `process_*` metrics report it
 * (the names every client library's process collector uses).
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs';

/** A snapshot of this process's resources. */
export interface ProcessStats {
  /** User + system CPU time, in seconds. */
  cpuSeconds: number;
  /** Resident memory, in bytes. */
  residentBytes: number;
  /** Virtual memory, in bytes (undefined when /proc/self/stat cannot be read). */
  virtualBytes?: number;
  /** Start time, in seconds since the epoch. */
  startTimeSeconds: number;
  /** Open file descriptors (undefined when /proc/self/fd cannot be read). */
  openFds?: number;
  /** The soft limit on file descriptors (undefined when unlimited or unreadable). */
  maxFds?: number;
}

const startTimeSeconds = Date.now() / 1000 - process.uptime();

/** Reads {@link ProcessStats} (from Node and /proc/self). */
export function processStats(): ProcessStats {
  const cpu = process.cpuUsage();
  const out: ProcessStats = { cpuSeconds: (cpu.user + cpu.system) / 1e6, residentBytes: process.memoryUsage.rss(), startTimeSeconds };
  try {
    // Field 23 (vsize), counted after the parenthesised command name, which may hold spaces.
    const stat = readFileSync('/proc/self/stat', 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.virtualBytes = Number(fields[20]);
  } catch {
    // leave it out
  }
  try {
    out.openFds = readdirSync('/proc/self/fd').length;
  } catch {
    // leave it out
  }
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'latin1'));
    if (m) out.maxFds = Number(m[1]);
  } catch {
    // leave it out
  }
  return out;
}
