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
import type { DumpPlan } from '../diag/registry';
import type { ProtocolName } from '../diag/constants';
import { matchesFilter } from '../filter/evaluate';
import { readDumpBatch, sendRequest, visitReplies, type Channel, type DumpStats } from '../netlink/channel';
import { NLMSG_HDRLEN } from '../netlink/message';
import { fieldAt } from '../netlink/offsets';
import { inetDiagMsg } from '../diag/inet/structs';
import { AF } from '../diag/constants';

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
  // TCP of both families in one walk of the kernel's table (see dumpReplies for the order).
  const listing = await prepareListing(opts, stats, 'always');
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

// Where a reply's address family lies: the first byte of struct inet_diag_msg.
const MSG_FAMILY = NLMSG_HDRLEN + fieldAt(inetDiagMsg, 'family', 'u8');

async function dumpReplies(channel: Channel, protocol: ProtocolName, plan: DumpPlan, listing: Listing, each: ReplyHandler, drain: () => Promise<void> | undefined): Promise<void> {
  const { expr, filterCtx } = listing;
  const recheck = expr !== undefined && !plan.exact;
  const decode = plan.decode;
  // An interrupted dump (NLM_F_DUMP_INTR) prints what came, as ss does.
  const stats: DumpStats = { messages: 0, interrupted: false, foreignDropped: 0 };
  const accept = (b: Buffer, off: number, len: number): void => {
    if (!recheck) each(b, off, len, protocol, decode);
    else {
      const s = decode(b, off, len);
      if (s !== undefined && matchesFilter(expr, s, filterCtx)) each(b, off, len, protocol, decode);
    }
  };
  // A dump of both families prints IPv4 as it comes and IPv6 after it, ss's order (and so
  // ss's render points): the IPv6 replies are copied aside until the dump ends.
  const later: Buffer[] = [];
  const visit = plan.mixedFamilies
    ? (b: Buffer, off: number, len: number): void => {
        if (b[off + MSG_FAMILY] === AF.INET6) later.push(Buffer.from(b.subarray(off, off + len)));
        else accept(b, off, len);
      }
    : accept;
  const seq = sendRequest(channel, plan.request);
  for (;;) {
    const done = visitReplies(await readDumpBatch(channel), seq, channel.portId, plan.context, stats, visit);
    const wait = drain();
    if (wait) await wait;
    if (done) break;
  }
  for (let i = 0; i < later.length; i++) {
    accept(later[i], 0, later[i].length);
    if (i % 256 === 255) {
      const wait = drain();
      if (wait) await wait;
    }
  }
}
