/**
 * The command's listing: the library's engine runs it (the same plan, kernel filter and
 * protocol skipping as listSockets) and hands every reply message over where it lies in
 * the received batch, once, as ss's loop does, with no socket object: at 100k sockets
 * building them costs as much as formatting the text. Like ss, duplicates are not dropped.
 * @module
 */
import type { ListOptions } from '../api/options';
import type { DumpPlan } from '../diag/registry';
import type { ProtocolName } from '../diag/constants';
import { engineOf, newEngineStats, runOptionsOf } from '../engine';

/** Receives one reply message: `off` at its nlmsghdr, `len` its nlmsg_len; `decode` makes its socket object. */
export type ReplyHandler = (b: Buffer, off: number, len: number, protocol: ProtocolName, decode: DumpPlan['decode']) => void;

/**
 * Runs the dumps of a listing (no process owners: replies only) on one channel and hands
 * every socket message to `each`. After each received batch, `drain` may return a promise
 * to wait for (stdout backpressure). A protocol the kernel lacks ends in its
 * NotSupportedError, as a listing of it by name does. TCP of both families is one walk of
 * the kernel's table, its IPv6 replies handed over after IPv4 (ss's order and render points).
 */
export async function eachReply(opts: ListOptions, each: ReplyHandler, drain: () => Promise<void> | undefined): Promise<void> {
  const engine = engineOf(opts);
  const stats = newEngineStats();
  const listing = await engine.plan(opts, stats, 'always');
  const sink = {
    message(b: Buffer, off: number, len: number, dump: { protocol: ProtocolName; plan: DumpPlan }): void {
      each(b, off, len, dump.protocol, dump.plan.decode);
    },
  };
  for await (const _ of engine.steps(listing, stats, sink, runOptionsOf(opts, false))) {
    const wait = drain();
    if (wait) await wait;
  }
}
