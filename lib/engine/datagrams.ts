/**
 * The raw-datagram sink of the engine: a listing's reply datagrams exactly as the kernel
 * sent them (what `ss -D` writes, what recordings store), each request tagged with a
 * sequence number that says which kind it lists.
 * @module
 */
import type { ProtocolName } from '../diag/constants';
import { socketKind } from '../diag/registry';
import type { DumpPlan } from '../diag/registry';
import { AbortError } from '../errors';
import type { ListOptions } from './options';
import type { EngineChannel } from './channel';
import type { EngineStats } from './dump';
import type { Listing } from './plan';
import { engineOf, runOptionsOf } from './engine';
import { throwIfAborted } from './dump';
import { validateListOptions } from './validate';

/**
 * High 16 bits of the `nlmsg_seq` of every request a raw dump sends (and so of every
 * reply message it records). The low 16 bits are the IPPROTO number for inet dumps, or
 * `0x8000 | AF_*` for the other families.
 */
export const RAW_SEQ_TAG = 0x5dd1;
/** The sequence number rawDump sends for a protocol's dumps. */
export function rawSequence(protocol: ProtocolName): number {
  return ((RAW_SEQ_TAG << 16) | socketKind(protocol).rawTag) >>> 0;
}

/** One reply datagram of a raw dump, with what produced it. */
export interface RawDatagram {
  /** The protocol the dump listed. */
  protocol: ProtocolName;
  /** The datagram's bytes (whole netlink messages; the last datagram of a dump ends with NLMSG_DONE). */
  data: Buffer;
  /** The decoder of its messages (what {@link listSockets} would use). */
  decode: DumpPlan['decode'];
}


/**
 * The datagrams of every dump of a listing, in listing order, on one channel:
 * `channel` when given (the caller keeps it; the run closes it when it fails), else a fresh
 * one closed when the iteration ends, breaks, throws or the signal aborts. Datagrams not from
 * the kernel, and messages of another request, are dropped; messages that fail the part of
 * the filter the kernel could not run are cut out (the datagram is rebuilt without them), so
 * decoding the result gives exactly what a listing with the same options gives.
 */
export async function* rawDatagrams(opts: ListOptions, stats: EngineStats, channel?: EngineChannel): AsyncGenerator<RawDatagram, void, undefined> {
  validateListOptions(opts);
  // Raw bytes carry only what the kernel sent: owners cannot be recorded.
  if (opts.processes !== undefined && opts.processes !== false) {
    throw new TypeError('raw dumps carry only what the kernel sent: the processes option cannot be recorded (look owners up when decoding)');
  }
  const engine = engineOf(opts);
  const listing: Listing = await engine.plan(opts, stats);
  const out: RawDatagram[] = [];
  const sink = {
    datagram(b: Buffer, start: number, end: number, cut: Array<[number, number]> | null, dump: { protocol: ProtocolName; plan: DumpPlan }): void {
      const decode = dump.plan.decode;
      if (cut === null) {
        out.push({ protocol: dump.protocol, data: b.subarray(start, end), decode });
        return;
      }
      // The datagram rebuilt without the messages cut out (nothing left: nothing to write).
      const parts: Buffer[] = [];
      let at = start;
      for (const [from, to] of cut) {
        if (from > at) parts.push(b.subarray(at, from));
        at = to;
      }
      if (end > at) parts.push(b.subarray(at, end));
      if (parts.length > 0) out.push({ protocol: dump.protocol, data: Buffer.concat(parts), decode });
    },
  };
  const run = { ...runOptionsOf(opts, false), seq: rawSequence, ...(channel === undefined ? {} : { reuse: channel }) };
  let failure: { err: unknown } | undefined;
  try {
    for await (const _ of engine.steps(listing, stats, sink, run)) {
      for (let i = 0; i < out.length; i++) {
        // Abort means stop: not one more datagram once the signal has fired.
        throwIfAborted(opts.signal);
        yield out[i];
      }
      out.length = 0;
    }
  } catch (err) {
    failure = { err };
  }
  // The datagrams before an error reply still go out, as they came (not after an abort: it means stop).
  if (!(failure?.err instanceof AbortError)) yield* out;
  if (failure !== undefined) throw failure.err;
}

