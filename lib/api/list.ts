/**
 * `listSockets()` and `streamSockets()`.
 * @module
 */
import { Channel, runDump, DumpStats } from '../netlink/channel';
import { AbortError, NotSupportedError, SockdiagError } from '../errors';
import { AF, ProtocolName, stateMask } from '../diag/constants';
import { ALL_PROTOCOLS, plansFor, PlanInput, DumpPlan, MixedFamilies } from '../diag/families';
import type { Socket } from '../diag/socket';
import type { ProcessMap } from '../proc/processes';
import type * as Processes from '../proc/processes';
import type { ListOptions, ListingStats } from './options';
import type { Filter, FilterExpr } from '../filter/ast';
import { parseFilter } from '../filter/parse';
import { filterToString } from '../filter/print';
import { FilterValueError } from '../filter/errors';
import { toFilter } from '../filter/builder';
import { compileFilter, filterStateMask, CompiledFilter } from '../filter/bytecode';
import { matchesFilter, EvaluateContext } from '../filter/evaluate';
import { interfaceIndexes, cgroupIdOf, ephemeralPortRange } from '../filter/resolve';

/**
 * The cookies seen so far in a listing. Cookies count sockets since boot and stay far below
 * 2^53, so they are kept as numbers (hashing numbers is several times cheaper than bigints);
 * any larger cookie goes to a bigint set, so no two cookies can ever collide.
 */
class CookieSet {
  private readonly small = new Set<number>();
  private readonly large = new Set<bigint>();

  /** Adds a cookie; false when it was already there. */
  add(cookie: bigint): boolean {
    if (cookie <= MAX_SAFE) {
      const n = Number(cookie);
      if (this.small.has(n)) return false;
      this.small.add(n);
      return true;
    }
    if (this.large.has(cookie)) return false;
    this.large.add(cookie);
    return true;
  }
}
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** An array of sockets that also carries the listing's {@link ListingStats}. */
export type SocketList = Socket[] & ListingStats;

// Protocols this kernel refused recently (no diag module): skipped in default listings.
const unsupportedUntil = new Map<ProtocolName, number>();
const UNSUPPORTED_TTL_MS = 60_000;

/** The filter expression's names resolved in the listed system, for the compiler and the evaluator. */
async function filterContext(expr: FilterExpr, netns: ListOptions['netns'], text: string): Promise<EvaluateContext> {
  const devices = new Set<string>();
  const cgroupPaths = new Set<string>();
  let autobound = false;
  const walk = (e: FilterExpr): void => {
    if (e.kind === 'and' || e.kind === 'or') e.items.forEach(walk);
    else if (e.kind === 'not') walk(e.item);
    else if (e.kind === 'autobound') autobound = true;
    else if (e.kind === 'cgroup') cgroupPaths.add(e.path);
    else if (e.kind === 'dev' && typeof e.device === 'string') devices.add(e.device);
    else if (e.kind === 'host' && e.host.family === 'link' && typeof e.host.device === 'string') devices.add(e.host.device);
  };
  walk(expr);
  const [indexes, range] = await Promise.all([
    devices.size > 0 ? interfaceIndexes(netns) : new Map<string, number>(),
    // ss's autobound rule uses the listed namespace's ephemeral port range.
    autobound && netns !== undefined ? ephemeralPortRange(netns) : undefined,
  ]);
  const cgroups = new Map<string, bigint | undefined>();
  for (const p of cgroupPaths) {
    const id = cgroupIdOf(p);
    // As ss: a cgroup that cannot be found is a bad value, not a filter that matches nothing.
    if (id === undefined) throw new FilterValueError(text, Math.max(0, text.indexOf(p)), p, 'no such cgroup (neither a path nor under the cgroup2 mount)');
    cgroups.set(p, id);
  }
  return {
    ...(range === undefined ? {} : { ephemeralPorts: range }),
    ifindex: (name) => indexes.get(name),
    cgroupId: (path) => {
      if (!cgroups.has(path)) cgroups.set(path, cgroupIdOf(path));
      return cgroups.get(path);
    },
  };
}

/** The filter option as a tree (text is parsed here, so a syntax error surfaces at the call). */
function filterOf(option: ListOptions['filter']): Filter | undefined {
  if (option === undefined) return undefined;
  if (typeof option === 'string') return parseFilter(option);
  return toFilter(option);
}

function planInput(opts: ListOptions, filter: Filter | undefined, filterCtx: EvaluateContext | undefined, mixedFamilies: MixedFamilies): PlanInput {
  const fams = opts.families ?? ['inet', 'inet6'];
  for (const f of fams) if (f !== 'inet' && f !== 'inet6') throw new TypeError(`families must be 'inet' or 'inet6', got ${String(f)}`);
  let extensions: PlanInput['extensions'];
  if (opts.extensions === undefined || opts.extensions === 'all') extensions = undefined;
  else if (opts.extensions === 'none') extensions = [];
  else if (Array.isArray(opts.extensions)) extensions = opts.extensions;
  else throw new TypeError("extensions must be 'all', 'none' or a list of extension names");
  let states = stateMask(opts.states);
  if (filter && filter.states.length > 0) states = filterStateMask(filter.states, states);
  const expr = filter?.expr;
  const compiled = new Map<'inet' | 'inet6', CompiledFilter>();
  return {
    states,
    inetFamilies: fams.map((f) => (f === 'inet' ? AF.INET : AF.INET6)),
    extensions,
    filtered: expr !== undefined,
    mixedFamilies,
    compiled: expr === undefined
      ? undefined
      : (family) => {
          let c = compiled.get(family);
          if (c === undefined) {
            c = compileFilter(expr, { family, ifindex: filterCtx?.ifindex, cgroupId: filterCtx?.cgroupId });
            compiled.set(family, c);
          }
          return c;
        },
  };
}

function selectedProtocols(opts: ListOptions): { protocols: readonly ProtocolName[]; explicit: boolean } {
  if (opts.protocols === undefined) return { protocols: ALL_PROTOCOLS, explicit: false };
  if (!Array.isArray(opts.protocols)) throw new TypeError('protocols must be an array of protocol names');
  for (const p of opts.protocols) if (!ALL_PROTOCOLS.includes(p)) throw new TypeError(`unknown protocol: ${String(p)}`);
  return { protocols: opts.protocols, explicit: true };
}

/** @internal A listing's dumps and what decides which of their sockets it keeps. */
export interface Listing {
  dumps: Array<{ protocol: ProtocolName; plan: DumpPlan }>;
  expr: FilterExpr | undefined;
  filterCtx: EvaluateContext | undefined;
  /** True when the caller named the protocols: a kernel refusing one is then an error. */
  explicit: boolean;
}

/**
 * @internal The dumps a listing's options ask for, with its filter parsed, resolved and
 * compiled. `mixedFamilies`: when the caller accepts dumps that return both inet families mixed.
 */
export async function prepareListing(opts: ListOptions, stats: ListingStats, mixedFamilies: MixedFamilies = false): Promise<Listing> {
  const filter = filterOf(opts.filter);
  const expr = filter?.expr;
  const filterCtx = expr === undefined ? undefined : await filterContext(expr, opts.netns, typeof opts.filter === 'string' ? opts.filter : filterToString(filter!));
  const input = planInput(opts, filter, filterCtx, mixedFamilies);
  const { protocols, explicit } = selectedProtocols(opts);
  const now = Date.now();
  const dumps: Listing['dumps'] = [];
  for (const protocol of protocols) {
    if (!explicit && (unsupportedUntil.get(protocol) ?? 0) > now) {
      stats.unsupported.push(protocol);
      continue;
    }
    for (const plan of plansFor(protocol, input)) dumps.push({ protocol, plan });
  }
  return { dumps, expr, filterCtx, explicit };
}

/** @internal A sock_diag channel for the listing's namespace and receive size. */
export function openChannel(opts: Pick<ListOptions, 'netns' | 'recvSize'>): Channel {
  return Channel.open({ ...(opts.netns === undefined ? {} : { netns: opts.netns }), ...(opts.recvSize === undefined ? {} : { recvSize: opts.recvSize }) });
}

/**
 * One dump's sockets, batch by batch, with what the kernel could not filter checked here
 * on the same expression. Duplicates are left to the caller (they span dumps).
 */
async function* dumpSockets(channel: Channel, plan: DumpPlan, listing: Listing, stats: ListingStats, signal: AbortSignal | undefined): AsyncGenerator<Socket[], void, undefined> {
  const { expr, filterCtx } = listing;
  const recheck = expr !== undefined && !plan.exact;
  const dumpStats: DumpStats = { messages: 0, interrupted: false, foreignDropped: 0 };
  try {
    for await (const batch of runDump(channel, plan.request, plan.decode, plan.context, dumpStats, signal)) {
      yield recheck ? batch.filter((s) => matchesFilter(expr, s, filterCtx)) : batch;
    }
  } catch (err) {
    if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
    throw err;
  } finally {
    if (dumpStats.interrupted) stats.interrupted = true;
  }
}

/** @internal Whether a failed dump only means "this kernel lacks that kind", which default listings skip. */
export function skippable(err: unknown, protocol: ProtocolName, listing: Listing, stats: ListingStats): boolean {
  if (!(err instanceof NotSupportedError) || listing.explicit) return false;
  unsupportedUntil.set(protocol, Date.now() + UNSUPPORTED_TTL_MS);
  if (!stats.unsupported.includes(protocol)) stats.unsupported.push(protocol);
  return true;
}

/** Adds the batch's sockets not seen before to `out`, counting the duplicates. */
function keepNew(batch: readonly Socket[], seen: CookieSet, stats: ListingStats, out: Socket[], owners?: ProcessMap): void {
  for (let i = 0; i < batch.length; i++) {
    const s = batch[i];
    if (!seen.add(s.cookie)) {
      stats.duplicatesDropped++;
      continue;
    }
    if (owners) attachOwners(s, owners);
    out.push(s);
  }
}

/**
 * Yields the sockets batch by batch, one dump after another on one channel (so a stream
 * reads the kernel only as fast as it is consumed). The channel is closed when the
 * iteration ends, breaks or throws, or the signal aborts.
 */
async function* socketBatches(opts: ListOptions, stats: ListingStats): AsyncGenerator<Socket[], void, undefined> {
  const signal = opts.signal;
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
  const listing = await prepareListing(opts, stats);
  // The /proc walk runs on a pool thread while the dump starts.
  const processScan = startProcessScan(opts.processes);
  processScan?.catch(() => undefined);
  const channel = openChannel(opts);
  const onAbort = (): void => channel.close();
  signal?.addEventListener('abort', onAbort, { once: true });
  const seen = new CookieSet();
  try {
    // A stream waits for the walk before its first socket (listSockets attaches owners at the end instead).
    const owners = processScan ? await processScan : undefined;
    let skipped: ProtocolName | undefined;
    for (const { protocol, plan } of listing.dumps) {
      if (protocol === skipped) continue;
      try {
        for await (const batch of dumpSockets(channel, plan, listing, stats, signal)) {
          const out: Socket[] = [];
          keepNew(batch, seen, stats, out, owners);
          if (out.length > 0) yield out;
        }
      } catch (err) {
        if (!skippable(err, protocol, listing, stats)) throw err;
        skipped = protocol;
      }
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    channel.close();
  }
}

// Dumps a listing runs at once, each on its own channel (the kernel walks each on its own thread).
const PARALLEL_DUMPS = 4;

/**
 * Runs every dump of the listing, up to {@link PARALLEL_DUMPS} at a time, and returns
 * their sockets in the order a sequential listing would (so results do not depend on
 * timing). The kernel's walk of a table dominates filtered listings, and the walks for
 * IPv4 and IPv6 are independent: run side by side they take the time of one.
 */
async function allSockets(opts: ListOptions, stats: ListingStats): Promise<Socket[]> {
  const signal = opts.signal;
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
  const listing = await prepareListing(opts, stats, 'filtered');
  const results: Array<Socket[][] | undefined> = new Array(listing.dumps.length);
  const failed = new Set<ProtocolName>();
  const channels = new Set<Channel>();
  const onAbort = (): void => channels.forEach((c) => c.close());
  signal?.addEventListener('abort', onAbort, { once: true });
  let next = 0;
  let firstError: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < listing.dumps.length && firstError === undefined) {
      const i = next++;
      const { protocol, plan } = listing.dumps[i];
      if (failed.has(protocol)) continue;
      const channel = openChannel(opts);
      channels.add(channel);
      const batches: Socket[][] = [];
      try {
        for await (const batch of dumpSockets(channel, plan, listing, stats, signal)) batches.push(batch);
        results[i] = batches;
      } catch (err) {
        if (skippable(err, protocol, listing, stats)) failed.add(protocol);
        else if (firstError === undefined) {
          // The first failure is the listing's: the other dumps stop at once.
          firstError = { err };
          onAbort();
        }
      } finally {
        channel.close();
        channels.delete(channel);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(PARALLEL_DUMPS, listing.dumps.length) }, worker));
    if (firstError !== undefined) throw firstError.err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    onAbort();
  }
  const seen = new CookieSet();
  const all: Socket[] = [];
  for (let i = 0; i < results.length; i++) {
    const batches = results[i];
    if (batches === undefined || failed.has(listing.dumps[i].protocol)) continue;
    if (listing.dumps[i].plan.mixedFamilies) {
      // IPv4 first, as the two single-family dumps would have returned them.
      for (const family of ['inet', 'inet6']) for (const batch of batches) keepNew(batch.filter((s) => s.family === family), seen, stats, all);
    } else for (const batch of batches) keepNew(batch, seen, stats, all);
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

function newStats(): ListingStats {
  return { interrupted: false, duplicatesDropped: 0, unsupported: [] };
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
  const stats = newStats();
  const scan = startProcessScan(opts.processes);
  scan?.catch(() => undefined);
  const all = await allSockets(opts, stats);
  if (scan) {
    const owners = await scan;
    for (const s of all) attachOwners(s, owners);
  }
  return Object.assign(all, stats);
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
  const stats = newStats();
  return {
    stats,
    async *[Symbol.asyncIterator]() {
      for await (const batch of socketBatches(opts, stats)) {
        for (let i = 0; i < batch.length; i++) yield batch[i];
      }
    },
  };
}

export { SockdiagError };
