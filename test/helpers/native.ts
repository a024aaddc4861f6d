/**
 * Helpers of the test/native-*.test.ts files: child node processes (plain-JS scripts in
 * test/fixtures/, run inside a private namespace so that a crash is an exit signal, not
 * a dead jest worker), raw netlink exchanges on a {@link Channel}, and process counters.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import type { Channel, Datagrams } from '../../lib/netlink/channel';
import type { ExecResult, Netns } from './netns';

export const FIXTURES = path.join(__dirname, '..', 'fixtures');

export const fdCount = (): number => readdirSync('/proc/self/fd').length;
export const threadCount = (): number => readdirSync('/proc/self/task').length;
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The `net:[inode]` link of every thread of this process, by thread id. */
export function threadNetns(): Map<string, string> {
  const out = new Map<string, string>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      out.set(tid, readlinkSync(`/proc/self/task/${tid}/ns/net`));
    } catch {
      /* the thread ended meanwhile */
    }
  }
  return out;
}

/** Links of this process's open fds that point at a namespace file (`net:[…]`, `mnt:[…]`, …). */
export function nsfsLinks(): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const link = readlinkSync(`/proc/self/fd/${fd}`);
      if (/^[a-z_]+:\[\d+\]$/.test(link) && !link.startsWith('socket:') && !link.startsWith('pipe:') && !link.startsWith('anon_inode:')) out.push(link);
    } catch {
      /* closed meanwhile */
    }
  }
  return out;
}

export interface ChildRun<T> extends ExecResult {
  /** The last JSON line the child printed, if any. */
  json: T | undefined;
  /** Date.now() when the child had exited. */
  endedAt: number;
  /** Wall time of the whole run, ms. */
  ms: number;
}

/**
 * Runs `node [nodeArgs] test/fixtures/<script> [args]` inside `ns` (optionally behind a
 * prefix such as setpriv or strace) and parses its last stdout line as JSON.
 */
export async function runChild<T>(
  ns: Netns,
  script: string,
  args: string[] = [],
  opts: { prefix?: string[]; nodeArgs?: string[]; timeoutMs?: number } = {},
): Promise<ChildRun<T>> {
  const t0 = Date.now();
  const argv = [...(opts.prefix ?? []), process.execPath, ...(opts.nodeArgs ?? []), path.join(FIXTURES, script), ...args];
  const r = await ns.exec(argv, { timeoutMs: opts.timeoutMs ?? 20_000 });
  const endedAt = Date.now();
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
  let json: T | undefined;
  try {
    json = lines.length > 0 ? (JSON.parse(lines[lines.length - 1]) as T) : undefined;
  } catch {
    json = undefined;
  }
  return { ...r, json, endedAt, ms: endedAt - t0 };
}

/** A one-line description of how a child ended, for assertion messages. */
export function howItEnded(r: ExecResult): string {
  return `status ${r.status}, signal ${r.signal}, stderr: ${r.stderr.trim().slice(0, 2000)}`;
}

/** One netlink message as read off a channel. */
export interface RawMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** Sender port id of the datagram it came in (0 = the kernel). */
  sender: number;
  /** For NLMSG_ERROR / NLMSG_DONE: the int at the start of the payload. */
  status: number | undefined;
  payload: Buffer;
}

/** Every message of a batch, whoever sent it. */
export function rawMessages(batch: Datagrams): RawMessage[] {
  const out: RawMessage[] = [];
  const b = batch.data;
  for (let i = 0; i < batch.offsets.length; i++) {
    let off = batch.offsets[i];
    const end = off + batch.lengths[i];
    while (off + 16 <= end) {
      const len = b.readUInt32LE(off);
      if (len < 16 || off + len > end) throw new Error(`bad nlmsg_len ${len} at ${off}`);
      const type = b.readUInt16LE(off + 4);
      out.push({
        type,
        flags: b.readUInt16LE(off + 6),
        seq: b.readUInt32LE(off + 8),
        pid: b.readUInt32LE(off + 12),
        sender: batch.senders[i],
        status: (type === 2 || type === 3) && len >= 20 ? b.readInt32LE(off + 16) : undefined,
        payload: b.subarray(off + 16, off + len),
      });
      off += (len + 3) & ~3;
    }
  }
  return out;
}

/** `channel.read()`, or 'timeout' after `ms`. */
export async function readWithin(channel: Channel, ms: number): Promise<Datagrams | null | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      channel.read(),
      new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Reads raw messages until `until` says stop (or `ms` elapse: then throws, so that a
 * hang is a test failure with a message). Rejected reads are collected in `errors`.
 */
export async function readUntil(
  channel: Channel,
  until: (m: RawMessage) => boolean,
  ms = 5000,
): Promise<{ messages: RawMessage[]; errors: unknown[] }> {
  const deadline = Date.now() + ms;
  const messages: RawMessage[] = [];
  const errors: unknown[] = [];
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`no end after ${ms} ms (${messages.length} messages, ${errors.length} errors)`);
    let batch: Datagrams | null | 'timeout';
    try {
      batch = await readWithin(channel, left);
    } catch (e) {
      errors.push(e);
      continue;
    }
    if (batch === 'timeout') continue;
    if (batch === null) throw new Error('channel closed');
    for (const m of rawMessages(batch)) {
      messages.push(m);
      if (until(m)) return { messages, errors };
    }
  }
}
