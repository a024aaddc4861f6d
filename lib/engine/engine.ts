/**
 * The listing engine: every listing of sockdiag (listSockets, streamSockets, rawDump,
 * recordSockets, trackSockets, destroySockets' selection, the metric snapshots and the
 * command) is planned and run here, once: plan the requests → run the dumps (in parallel on
 * channels of their own where it pays) → walk the replies → drop duplicates by cookie →
 * skip, or raise on, kinds the kernel cannot dump → stop on abort or timeout → hand what is
 * kept to a {@link DumpSink}.
 *
 * Channels come from an injected {@link ChannelFactory}: the native addon's by default, a
 * fake kernel in tests.
 * @module
 */
import { NotSupportedError, AbortError, TimeoutError } from '../errors';
import type { ProtocolName } from '../diag/constants';
import type { MixedFamilies } from '../diag/registry';
import type { ListOptions } from './options';
import { nativeChannels, type ChannelFactory, type ChannelRequest, type EngineChannel } from './channel';
import { planListing, type Listing, type PlannedDump } from './plan';
import { validateListOptions } from './validate';
import { dumpSteps, CookieSet, throwIfAborted, type DumpSink, type EngineStats } from './dump';

/** Options of an {@link Engine}. */
export interface EngineOptions {
  /** Opens channels (default: the native addon's netlink sockets). */
  channels?: ChannelFactory;
  /**
   * How long a kind the kernel refused (no sock_diag handler) is left out of listings that
   * did not name it, in ms (default 60 000; 0 asks the kernel every time).
   */
  unsupportedTtlMs?: number;
}

/** How to run a planned listing. */
export interface RunOptions {
  /** Namespace and receive size of the channels the engine opens. */
  channel?: Pick<ChannelRequest, 'netns' | 'recvSize'>;
  /**
   * Run on this channel (the caller keeps it open between runs). A run that fails leaves
   * replies on it, so the engine closes it then: check `closed` before the next run.
   */
  reuse?: EngineChannel;
  /** Drop messages whose cookie was seen before in this run (default false). */
  dedup?: boolean;
  /** A fixed request sequence number per kind (raw dumps record it in the replies). */
  seq?: (protocol: ProtocolName) => number;
  /** Aborting stops the run: channels close and the run rejects with an `AbortError`. */
  signal?: AbortSignal;
  /** Milliseconds the whole run may take; past that it stops with `ERR_SOCKDIAG_TIMEOUT`. */
  timeoutMs?: number;
  /**
   * Milliseconds to wait for the kernel's next reply while a dump runs (default 30 000): a
   * request the kernel dropped then fails with `ERR_SOCKDIAG_TIMEOUT` instead of waiting forever.
   */
  replyTimeoutMs?: number;
}

// How long a dump waits for the kernel's next reply.
const DEFAULT_REPLY_TIMEOUT_MS = 30_000;

// Dumps a parallel run keeps going at once, each on its own channel (the kernel walks each on its own thread).
const PARALLEL_DUMPS = 4;

/** The signal a run watches: the caller's, and its own timeout. */
class RunSignal {
  readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private readonly onAbort: () => void;
  constructor(
    private readonly outer: AbortSignal | undefined,
    timeoutMs: number | undefined,
    private readonly closeAll: () => void,
  ) {
    if (outer !== undefined && !(outer instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal');
    if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs > 0))) throw new TypeError(`timeoutMs must be a positive number of milliseconds, got ${String(timeoutMs)}`);
    this.onAbort = () => this.stop(outer?.reason);
    if (outer?.aborted) this.stop(outer.reason);
    else outer?.addEventListener('abort', this.onAbort, { once: true });
    if (timeoutMs !== undefined && !this.controller.signal.aborted) {
      this.timer = setTimeout(() => this.stop(new TimeoutError(`The listing did not finish within ${timeoutMs} ms`, timeoutMs)), timeoutMs);
      this.timer.unref?.();
    }
  }
  get signal(): AbortSignal {
    return this.controller.signal;
  }
  stop(reason: unknown): void {
    if (!this.controller.signal.aborted) this.controller.abort(reason);
    this.closeAll();
  }
  /** The error a run stopped by this signal ends with: the timeout's, else an AbortError. */
  error(): Error {
    const reason: unknown = this.controller.signal.reason;
    if (reason instanceof TimeoutError && !this.outer?.aborted) return reason;
    return new AbortError(undefined, { cause: this.outer?.reason ?? reason });
  }
  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.outer?.removeEventListener('abort', this.onAbort);
  }
}

/**
 * Runs listings. One engine is shared by default ({@link defaultEngine}); make your own to
 * inject channels (a fake kernel in tests) or to keep its cache of unsupported kinds apart.
 */
export class Engine {
  /** Opens the engine's channels. */
  readonly channels: ChannelFactory;
  readonly #ttl: number;
  // Kinds this kernel refused recently (no diag module): left out of listings that did not name them.
  readonly #unsupportedUntil = new Map<ProtocolName, number>();

  /** Creates an engine. */
  constructor(opts: EngineOptions = {}) {
    if (opts === null || typeof opts !== 'object') throw new TypeError('engine options must be an object');
    if (opts.channels !== undefined && typeof opts.channels !== 'function') throw new TypeError('channels must be a function that opens a channel');
    const ttl = opts.unsupportedTtlMs ?? 60_000;
    if (typeof ttl !== 'number' || !(ttl >= 0)) throw new TypeError(`unsupportedTtlMs must be a number of milliseconds, got ${String(ttl)}`);
    this.channels = opts.channels ?? nativeChannels;
    this.#ttl = ttl;
  }

  /** Opens a channel through the engine's factory. */
  open(request: ChannelRequest = {}): EngineChannel {
    return this.channels(request);
  }

  /** Forgets which kinds the kernel refused, so the next listing asks for them again. */
  forgetUnsupported(): void {
    this.#unsupportedUntil.clear();
  }

  /**
   * Plans the listing `opts` asks for. Kinds skipped because the kernel refused them
   * recently are added to `stats.unsupported`.
   */
  async plan(opts: ListOptions, stats: EngineStats, mixedFamilies: MixedFamilies = false): Promise<Listing> {
    validateListOptions(opts);
    const now = Date.now();
    return planListing(
      opts,
      mixedFamilies,
      (p) => (this.#unsupportedUntil.get(p) ?? 0) > now,
      (p) => addUnsupported(stats, p),
    );
  }

  /** Whether a failed dump only means "this kernel lacks that kind" for a listing that did not name it. */
  #skippable(err: unknown, protocol: ProtocolName, listing: Listing, stats: EngineStats): boolean {
    if (!(err instanceof NotSupportedError) || listing.explicit) return false;
    if (this.#ttl > 0) this.#unsupportedUntil.set(protocol, Date.now() + this.#ttl);
    addUnsupported(stats, protocol);
    return true;
  }

  /**
   * Runs the listing's dumps one after another on one channel, handing what they keep to
   * `sink`, and yields after every received batch: the caller delivers what the sink
   * collected and may wait (the kernel is read only as fast as the caller goes on). The
   * channel is closed when the run ends, breaks, throws, aborts or times out (a channel
   * given as `reuse` only when the run fails).
   */
  async *steps(listing: Listing, stats: EngineStats, sink: DumpSink, opts: RunOptions = {}): AsyncGenerator<PlannedDump, void, undefined> {
    let channel: EngineChannel | undefined;
    const run = new RunSignal(opts.signal, opts.timeoutMs, () => channel?.close());
    let ok = false;
    try {
      throwIfAborted(run.signal);
      channel = opts.reuse ?? this.open(opts.channel ?? {});
      const seen = opts.dedup ? new CookieSet() : undefined;
      let skipped: ProtocolName | undefined;
      for (const dump of listing.dumps) {
        if (dump.protocol === skipped) continue;
        const ctx = { listing, stats, seen, signal: run.signal, replyTimeoutMs: opts.replyTimeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS, ...(opts.seq ? { seq: opts.seq(dump.protocol) } : {}) };
        try {
          for await (const _ of dumpSteps(channel, dump, ctx, sink)) {
            yield dump;
            throwIfAborted(run.signal);
          }
        } catch (err) {
          if (run.signal.aborted) throw run.error();
          if (!this.#skippable(err, dump.protocol, listing, stats)) throw err;
          skipped = dump.protocol;
          // The refused dump answered with an error and ended: the channel can go on.
        }
      }
      ok = true;
    } finally {
      run.dispose();
      if (channel !== undefined && (opts.reuse === undefined || !ok)) channel.close();
    }
  }

  /**
   * Runs every dump of the listing, up to four at a time on channels of their own, handing
   * dump i's kept messages to `sinkFor(i)`. Results do not depend on timing: each dump has
   * its own sink, so the caller joins them in listing order. The first failure (not a
   * skipped kind) stops the others and is thrown; skipped dumps are reported in `skipped`.
   */
  async collect(listing: Listing, stats: EngineStats, sinkFor: (index: number) => DumpSink, opts: RunOptions = {}): Promise<Set<number>> {
    const channels = new Set<EngineChannel>();
    const run = new RunSignal(opts.signal, opts.timeoutMs, () => channels.forEach((c) => c.close()));
    const seen = opts.dedup ? new CookieSet() : undefined;
    const failed = new Set<ProtocolName>();
    const skipped = new Set<number>();
    let next = 0;
    let firstError: { err: unknown } | undefined;
    const worker = async (): Promise<void> => {
      while (next < listing.dumps.length && firstError === undefined) {
        const i = next++;
        const dump = listing.dumps[i];
        if (failed.has(dump.protocol)) {
          skipped.add(i);
          continue;
        }
        let channel: EngineChannel | undefined;
        try {
          throwIfAborted(run.signal);
          channel = this.open(opts.channel ?? {});
          channels.add(channel);
          const ctx = { listing, stats, seen, signal: run.signal, replyTimeoutMs: opts.replyTimeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS, ...(opts.seq ? { seq: opts.seq(dump.protocol) } : {}) };
          for await (const _ of dumpSteps(channel, dump, ctx, sinkFor(i))) void _;
        } catch (err) {
          if (run.signal.aborted) err = run.error();
          if (this.#skippable(err, dump.protocol, listing, stats)) {
            failed.add(dump.protocol);
            skipped.add(i);
          } else if (firstError === undefined) {
            // The first failure is the run's: the other dumps stop at once.
            firstError = { err };
            run.stop(err);
          }
        } finally {
          if (channel !== undefined) {
            channel.close();
            channels.delete(channel);
          }
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(PARALLEL_DUMPS, listing.dumps.length) }, worker));
      if (firstError !== undefined) throw firstError.err;
      throwIfAborted(run.signal);
    } catch (err) {
      if (run.signal.aborted && firstError === undefined) throw run.error();
      throw err;
    } finally {
      run.dispose();
      channels.forEach((c) => c.close());
    }
    // A kind skipped by one of its dumps is skipped whole (its other dumps' sockets too).
    listing.dumps.forEach((d, i) => {
      if (failed.has(d.protocol)) skipped.add(i);
    });
    return skipped;
  }
}

function addUnsupported(stats: EngineStats, protocol: ProtocolName): void {
  if (!stats.unsupported.includes(protocol)) stats.unsupported.push(protocol);
}

let shared: Engine | undefined;

/** The engine the library's functions use when not given one (native channels). */
export function defaultEngine(): Engine {
  return (shared ??= new Engine());
}

/** The engine an options object names, else the shared one; a TypeError for anything else. */
export function engineOf(opts: { engine?: Engine } | undefined): Engine {
  const e = opts?.engine;
  if (e === undefined) return defaultEngine();
  if (!(e instanceof Engine)) throw new TypeError('engine must be an Engine (new Engine({ channels }))');
  return e;
}

/** How the engine runs a listing of `opts` (its namespace, receive size, signal and timeout). */
export function runOptionsOf(opts: ListOptions, dedup: boolean): RunOptions {
  return {
    dedup,
    channel: { ...(opts.netns === undefined ? {} : { netns: opts.netns }), ...(opts.recvSize === undefined ? {} : { recvSize: opts.recvSize }) },
    ...(opts.signal === undefined ? {} : { signal: opts.signal }),
    ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
  };
}
