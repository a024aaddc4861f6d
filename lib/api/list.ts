/**
 * `listSockets()` and `streamSockets()`.
 * @module
 */
import type { Socket } from '../diag/socket';
import type { ProcessMap } from '../proc/processes';
import type * as Processes from '../proc/processes';
import type { ListOptions, ListingStats } from './options';
import { engineOf, newEngineStats, runOptionsOf, throwIfAborted, validateListOptions, type DumpSink, type EngineStats } from '../engine';
import { SockdiagError } from '../errors';

/** An array of sockets that also carries the listing's {@link ListingStats}. */
export type SocketList = Socket[] & ListingStats;

/** The listing's public counters, from the engine's. */
function publicStats(stats: EngineStats, into: ListingStats): ListingStats {
  into.interrupted = stats.interrupted;
  into.duplicatesDropped = stats.duplicatesDropped;
  into.unsupported = stats.unsupported;
  return into;
}

/** A sink that decodes every kept message into `out`. */
function socketsInto(out: Socket[]): DumpSink {
  return {
    message(b, off, len, dump, s) {
      const socket = s ?? dump.plan.decode(b, off, len);
      if (socket !== undefined) out.push(socket);
    },
  };
}

/**
 * Every socket of the listing, its dumps run side by side (the kernel's walk of a table
 * dominates filtered listings, and the walks for IPv4 and IPv6 are independent), joined in
 * the order a sequential listing gives, so results do not depend on timing.
 */
async function allSockets(opts: ListOptions, stats: EngineStats): Promise<Socket[]> {
  throwIfAborted(opts.signal);
  const engine = engineOf(opts);
  const listing = await engine.plan(opts, stats, 'filtered');
  const results: Socket[][] = listing.dumps.map(() => []);
  const skipped = await engine.collect(listing, stats, (i) => socketsInto(results[i]), runOptionsOf(opts, true));
  const all: Socket[] = [];
  for (let i = 0; i < results.length; i++) {
    if (skipped.has(i)) continue;
    const r = results[i];
    for (let k = 0; k < r.length; k++) all.push(r[k]);
  }
  return all;
}


/**
 * The /proc (or BPF) walk for the `processes` option, started now; undefined when the
 * option asks for none. Its modules load only then: most listings map no processes.
 */
function startProcessScan(option: ListOptions['processes']): Promise<ProcessMap> | undefined {
  if (option === undefined || option === false) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { processScanOptions, scanProcesses } = require('../proc/processes') as typeof Processes;
  const scanOptions = processScanOptions(option);
  return scanOptions ? scanProcesses(scanOptions) : undefined;
}

function attachOwners(s: Socket, owners: ProcessMap): void {
  const p = owners.lookup(s.inode);
  if (p !== undefined) s.processes = p;
}

/**
 * Lists sockets (by default every socket of every kind, like `ss -a`).
 *
 * A listing is not an atomic snapshot. Sockets that open, close or change state while it
 * runs may be missing, and under heavy churn even an unchanged socket can be missed or
 * returned twice. The kernel gives no signal for this. sockdiag removes duplicates by
 * cookie (`duplicatesDropped`) and marks a listing `interrupted` when the kernel sets
 * NLM_F_DUMP_INTR. Results are always returned, never discarded.
 *
 * @example
 * ```ts
 * const tcp = await listSockets({ protocols: ['tcp'], states: ['established'] });
 * for (const s of tcp) console.log(s.local, s.remote, s.info?.rttUs);
 * ```
 */
export async function listSockets(opts: ListOptions = {}): Promise<SocketList> {
  validateListOptions(opts);
  const stats = newEngineStats();
  const scan = startProcessScan(opts.processes);
  scan?.catch(() => undefined);
  const all = await allSockets(opts, stats);
  if (scan) {
    const owners = await scan;
    for (const s of all) attachOwners(s, owners);
  }
  return Object.assign(all, publicStats(stats, { interrupted: false, duplicatesDropped: 0, unsupported: [] }));
}

/** An async iterable of sockets that exposes the listing's counters once it has run. */
export interface SocketStream extends AsyncIterable<Socket> {
  /** Counters of the listing so far (final once iteration has ended). */
  readonly stats: ListingStats;
}

/**
 * Streams sockets as they arrive, with backpressure: the kernel is read only as fast as
 * the loop consumes. `break` (or `return()`) or aborting `signal` closes the netlink socket
 * at once. The same consistency caveats as {@link listSockets} apply.
 *
 * @example
 * ```ts
 * for await (const s of streamSockets({ protocols: ['tcp'] })) {
 *   if (s.recvQ > 0) console.log(s.local.port, s.recvQ);
 * }
 * ```
 */
export function streamSockets(opts: ListOptions = {}): SocketStream {
  validateListOptions(opts);
  const stats: ListingStats = { interrupted: false, duplicatesDropped: 0, unsupported: [] };
  return {
    stats,
    async *[Symbol.asyncIterator]() {
      const signal = opts.signal;
      throwIfAborted(signal);
      const engine = engineOf(opts);
      const run = newEngineStats();
      try {
        const listing = await engine.plan(opts, run);
        // The /proc walk runs on a pool thread while the dump starts; the first socket waits for it.
        const processScan = startProcessScan(opts.processes);
        processScan?.catch(() => undefined);
        const batch: Socket[] = [];
        let owners: ProcessMap | undefined;
        for await (const _ of engine.steps(listing, run, socketsInto(batch), runOptionsOf(opts, true))) {
          if (processScan !== undefined && owners === undefined) owners = await processScan;
          publicStats(run, stats);
          for (let i = 0; i < batch.length; i++) {
            // Abort means stop: not one more socket once the signal has fired.
            throwIfAborted(signal);
            const s = batch[i];
            if (owners !== undefined) attachOwners(s, owners);
            yield s;
          }
          batch.length = 0;
        }
      } finally {
        publicStats(run, stats);
      }
    },
  };
}

export { SockdiagError };
