/**
 * The command's own dump loop for inet tables: each reply message is handed over where it
 * lies in the received batch (the library's `visitReplies`), once, as ss's loop does, with
 * no socket object: at 100k sockets building them costs as much as formatting the text.
 * The listing is planned exactly as the library plans it (`prepareListing`: the same
 * requests, kernel filter and protocol skipping), and the same replies are kept: the
 * kernel's answer to our request only, and what fails the part of a filter the kernel
 * could not run is left out.
 * @module
 */
import { openChannel, prepareListing, skippable, type Listing } from '../api/list';
import type { ListingStats, ListOptions } from '../api/options';
import type { DumpPlan } from '../diag/families';
import type { ProtocolName } from '../diag/constants';
import { matchesFilter } from '../filter/evaluate';
import { readDumpBatch, sendRequest, visitReplies, type Channel, type DumpStats } from '../netlink/channel';

/** Receives one reply message: `off` at its nlmsghdr, `len` its nlmsg_len; `decode` makes its socket object. */
export type ReplyHandler = (b: Buffer, off: number, len: number, protocol: ProtocolName, decode: DumpPlan['decode']) => void;

/**
 * Runs the dumps of a listing (no process owners: replies only) on one channel and hands
 * every socket message to `each`. After each received batch, `drain` may return a promise
 * to wait for (stdout backpressure). A protocol the kernel lacks ends in its
 * NotSupportedError, as a listing of it by name does.
 */
export async function eachReply(opts: ListOptions, each: ReplyHandler, drain: () => Promise<void> | undefined): Promise<void> {
  const stats: ListingStats = { interrupted: false, duplicatesDropped: 0, unsupported: [] };
  const listing = await prepareListing(opts, stats);
  const channel = openChannel(opts);
  try {
    let skipped: ProtocolName | undefined;
    for (const { protocol, plan } of listing.dumps) {
      if (protocol === skipped) continue;
      try {
        await dumpReplies(channel, protocol, plan, listing, each, drain);
      } catch (err) {
        if (!skippable(err, protocol, listing, stats)) throw err;
        skipped = protocol;
      }
    }
  } finally {
    channel.close();
  }
}

async function dumpReplies(channel: Channel, protocol: ProtocolName, plan: DumpPlan, listing: Listing, each: ReplyHandler, drain: () => Promise<void> | undefined): Promise<void> {
  const { expr, filterCtx } = listing;
  const recheck = expr !== undefined && !plan.exact;
  const decode = plan.decode;
  // An interrupted dump (NLM_F_DUMP_INTR) prints what came, as ss does.
  const stats: DumpStats = { messages: 0, interrupted: false, foreignDropped: 0 };
  const visit = (b: Buffer, off: number, len: number): void => {
    if (!recheck) each(b, off, len, protocol, decode);
    else {
      const s = decode(b, off, len);
      if (s !== undefined && matchesFilter(expr, s, filterCtx)) each(b, off, len, protocol, decode);
    }
  };
  const seq = sendRequest(channel, plan.request);
  for (;;) {
    const done = visitReplies(await readDumpBatch(channel), seq, channel.portId, plan.context, stats, visit);
    const wait = drain();
    if (wait) await wait;
    if (done) return;
  }
}
