/**
 * `destroySocket()` and `destroySockets()` (`ss -K`): SOCK_DESTROY for exactly the sockets
 * named, each by its full id **and its cookie**.
 * @module
 */
import { statusError, NetnsRef, DumpChannel } from '../netlink/channel';
import { describeValue, engineOf, type Engine, type EngineChannel } from '../engine';
import { NLMSG, NLM_F, NLMSG_HDRLEN, nlmsghdr, forEachMessage, decodeStatus } from '../netlink/message';
import { viewOf, StructSpec } from '../netlink/struct';
import { AbortError, ErrorContext, NotSupportedError, SockdiagError, SockdiagSystemError } from '../errors';
import { AF, IPPROTO, SOCK_DESTROY, SOCK_DIAG_BY_FAMILY, ALL_STATES_MASK, SocketState } from '../diag/constants';
import { encodeInetRequest, decodeInetMessage, inetDiagReqV2, INET_PROTOCOLS, InetProtocolName, InetSocket } from '../diag/inet';
import { parseAddressInto } from '../diag/inet/address';
import type { Socket } from '../diag/socket';
import { listSockets } from './list';
import type { ListOptions, ListingStats } from './options';

/**
 * What became of one socket:
 * - `'destroyed'`: the kernel destroyed it (and, for a socket that was already closed by its
 *   process, a second look found it gone);
 * - `'lingering'`: the kernel accepted the request, but the socket had already been closed by
 *   its process (orphaned, e.g. FIN-WAIT-1) and is still there: it stays until its timers expire
 *   (see {@link DestroyResult.remaining});
 * - `'gone'`: no socket has this id and cookie any more (ENOENT, or ESTALE): it was closed, its
 *   addresses now belong to another socket (which was left alone), or the kernel cannot reach it
 *   (a member of an SO_REUSEPORT group other than the one lookups find);
 * - `'refused'`: the kernel (or sockdiag, for families without SOCK_DESTROY) refused, with
 *   {@link DestroyResult.error} (EOPNOTSUPP, EINVAL, …).
 */
export type DestroyOutcome = 'destroyed' | 'lingering' | 'gone' | 'refused';

/** The outcome of destroying one socket. */
export interface DestroyResult {
  /** The socket as it was named (the object passed in, or the one the listing returned). */
  socket: Socket;
  /** What happened; see {@link DestroyOutcome}. */
  outcome: DestroyOutcome;
  /** For `'gone'` and `'refused'`: the error, with `code`, `errno`, `syscall` and `operation: 'destroy'`. */
  error?: SockdiagSystemError;
  /** For `'lingering'`: the socket as the kernel reported it just after accepting the request. */
  remaining?: InetSocket;
}

/** Options of {@link destroySocket}. */
export interface DestroySocketOptions {
  /** Network namespace holding the socket: a name under /var/run/netns, a path, or a pid. */
  netns?: NetnsRef;
  /**
   * Aborting rejects with an `AbortError` at once. Before the request was sent nothing is sent;
   * after, the socket may have been destroyed all the same.
   */
  signal?: AbortSignal;
  /** The engine whose channels to use (default: the shared one); see `ListOptions.engine`. */
  engine?: Engine;
}

/**
 * Options of {@link destroySockets}: those of `listSockets` (which select the sockets, as in
 * `ss -K`). At least one of `filter`, `protocols` or `states` must be given, so that a call
 * never destroys every socket by accident; say `filter: 'state all'` to mean everything.
 * `extensions` defaults to `'none'` here (destroying needs only the ids).
 */
export type DestroySocketsOptions = ListOptions;

/** What {@link destroySockets} did. */
export interface DestroySocketsResult {
  /** One entry per socket the listing selected, in listing order. */
  results: DestroyResult[];
  /** How many results had each outcome. */
  counts: Record<DestroyOutcome, number>;
  /** Counters of the listing that selected the sockets. */
  listing: ListingStats;
}

// Every reply the requests in flight may bring has to fit in the socket's receive buffer, or the
// kernel drops it (ENOBUFS). An error reply costs about 1 KiB of the default 208 KiB (measured:
// 200 fit, 300 do not), so 128 requests in flight can never overflow it, even if all fail.
const MAX_IN_FLIGHT = 128;
// Requests per sendmsg: the kernel handles each message of a datagram in turn, so a
// datagram of many requests costs one system call.
const REQUESTS_PER_SEND = 64;
// Channels a large kill uses at once, each with its own window (see destroyOn). With one, the
// main thread waits for the addon's reader thread after almost every window; with four it nearly
// always finds one channel's replies already read (measured at 50,000 kills on a busy 2-CPU
// machine: the main thread slept about 330 times with one channel, 100 with two, 50 with four).
const DESTROY_CHANNELS = 4;

// TCP states of sockets their process may already have closed: the kernel acks a destroy of
// such an orphan without always freeing it, so it is looked up again after the ack.
const ORPHAN_STATES: ReadonlySet<SocketState> = new Set<SocketState>(['fin-wait-1', 'fin-wait-2', 'closing', 'last-ack', 'time-wait']);

const NO_COOKIE = 0xffffffffffffffffn;
const ENOENT = -2;
const EPERM = -1;
const ESTALE = -116;
const EOPNOTSUPP = -95;

/** A socket checked, with what its requests need (or why none is sent), and their replies. */
interface Job {
  index: number;
  socket: Socket;
  /** Set when the job is refused without asking the kernel. */
  refusal?: SockdiagSystemError;
  /** AF_INET or AF_INET6. */
  family: number;
  /** IPPROTO number. */
  protocol: number;
  sport: number;
  dport: number;
  ifindex: number;
  cookie: bigint;
  /** The addresses as the request carries them (16 bytes each; shared, never written). */
  src: Buffer;
  dst: Buffer;
  /** Whether to look the socket up again after the destroy (a TCP socket that may be orphaned). */
  requery: boolean;
  /** Sequence number of the get, once sent. */
  requerySeq: number;
  /** Replies still awaited once sent (1, or 2 with the get). */
  awaiting: number;
  /** The destroy's status (0 or a negative errno) and extended-ack message. */
  status: number;
  extack: string | undefined;
  /** What the get found (an orphan still there). */
  remaining: InetSocket | undefined;
}

function isInetProtocol(p: unknown): p is InetProtocolName {
  return typeof p === 'string' && Object.prototype.hasOwnProperty.call(INET_PROTOCOLS, p);
}

const OTHER_FAMILIES: ReadonlySet<string> = new Set(['unix', 'packet', 'netlink', 'vsock', 'tipc', 'xdp']);

function checkPort(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff) throw new TypeError(`${what} must be a port number (0-65535), got ${String(v)}`);
  return v;
}

// A kill names the same few addresses again and again (ss -K's loopback peers, a service's
// own address): their bytes are parsed once. Entries are never written after parsing.
const addressCache = new Map<string, Buffer>();
const ADDRESS_CACHE_LIMIT = 8192;

/** An endpoint's address as 16 request bytes (IPv4 in the first 4), checking its family. */
function addressBytes(endpoint: unknown, family: 'inet' | 'inet6', what: string): Buffer {
  if (endpoint === null || typeof endpoint !== 'object') throw new TypeError(`socket.${what} must be { address, port }`);
  const address = (endpoint as { address?: unknown }).address;
  if (typeof address !== 'string') throw new TypeError(`socket.${what}.address must be a string`);
  let bytes = addressCache.get(address);
  if (bytes === undefined) {
    bytes = Buffer.alloc(16);
    try {
      parseAddressInto(address, bytes, 0);
    } catch {
      throw new TypeError(`socket.${what}.address is not an IP address: ${address}`);
    }
    if (addressCache.size >= ADDRESS_CACHE_LIMIT) addressCache.clear();
    addressCache.set(address, bytes);
  }
  // parseAddressInto takes dotted quads as IPv4 and anything with a colon as IPv6.
  if (address.includes(':') !== (family === 'inet6')) throw new TypeError(`socket.${what}.address ${address} does not belong to family ${family}`);
  return bytes;
}

function contextOf(job: Job): ErrorContext {
  const s = job.socket as { family?: unknown; protocol?: unknown };
  return { operation: 'destroy', family: String(s.family), protocol: String(s.protocol) };
}

const NOTHING = Buffer.alloc(16);

/**
 * Checks a socket and takes what its requests need. Throws TypeError for an object that
 * cannot name one socket exactly (no cookie, INET_DIAG_NOCOOKIE, bad addresses); families
 * without SOCK_DESTROY get a refusal instead of a request.
 */
function prepare(socket: Socket, index: number): Job {
  if (socket === null || typeof socket !== 'object') throw new TypeError('socket must be a socket object from a listing');
  const protocol = (socket as { protocol?: unknown }).protocol;
  const family = (socket as { family?: unknown }).family;
  const cookie = (socket as { cookie?: unknown }).cookie;
  if (cookie === undefined) throw new TypeError('socket has no cookie: sockdiag destroys a socket only by its cookie (so that no other socket can be hit)');
  if (typeof cookie !== 'bigint') throw new TypeError(`socket.cookie must be a bigint (as listings give it), got ${describeValue(cookie)}`);
  if (cookie === NO_COOKIE) throw new TypeError('socket cookie is INET_DIAG_NOCOOKIE, which would destroy whatever socket holds these addresses now: refused');
  if (cookie < 0n || cookie > NO_COOKIE) throw new TypeError(`socket cookie out of range: ${cookie}`);
  if (typeof protocol === 'string' && OTHER_FAMILIES.has(protocol)) {
    const context = { operation: 'destroy', family: typeof family === 'string' ? family : protocol, protocol };
    const refusal = notSupported(EOPNOTSUPP, 'sendmsg', context, `SOCK_DESTROY exists only for inet sockets (TCP, UDP, UDP-Lite, raw); ${protocol} sockets cannot be destroyed (nothing was sent)`);
    return { ...unsent(index, socket, cookie), refusal };
  }
  if (!isInetProtocol(protocol)) throw new TypeError(`socket.protocol must name a socket kind, got ${String(protocol)}`);
  if (family !== 'inet' && family !== 'inet6') throw new TypeError(`socket.family must be 'inet' or 'inet6' for a ${protocol} socket, got ${String(family)}`);
  const s = socket as InetSocket;
  const ifindex = s.interface;
  if (typeof ifindex !== 'number' || !Number.isInteger(ifindex) || ifindex < 0 || ifindex > 0xffffffff) throw new TypeError(`socket.interface must be an interface index, got ${String(ifindex)}`);
  const sport = checkPort(s.local?.port, 'socket.local.port');
  if (protocol === 'raw' && sport > 255) throw new TypeError(`socket.local.port of a raw socket is its IP protocol (0-255), got ${sport}`);
  const dport = checkPort(s.remote?.port, 'socket.remote.port');
  const job = unsent(index, socket, cookie);
  job.family = family === 'inet' ? AF.INET : AF.INET6;
  job.protocol = INET_PROTOCOLS[protocol];
  job.sport = sport;
  job.dport = dport;
  job.ifindex = ifindex;
  job.src = addressBytes(s.local, family, 'local');
  job.dst = addressBytes(s.remote, family, 'remote');
  job.requery = protocol === 'tcp' && (s.inode === 0 || ORPHAN_STATES.has(s.state));
  return job;
}

/** A job with every field set (one object shape for all of them). */
function unsent(index: number, socket: Socket, cookie: bigint): Job {
  return { index, socket, refusal: undefined, family: 0, protocol: 0, sport: 0, dport: 0, ifindex: 0, cookie, src: NOTHING, dst: NOTHING, requery: false, requerySeq: 0, awaiting: 0, status: 0, extack: undefined, remaining: undefined };
}

// Room for one request: nlmsghdr + inet_diag_req_v2 (+ an INET_DIAG_REQ_PROTOCOL attribute).
const REQUEST_LEN = NLMSG_HDRLEN + inetDiagReqV2.size;
const REQUEST_ROOM = REQUEST_LEN + 8;

// Field offsets from the tables, for the hot path (one source of truth, as the decoders do).
const H = offsetsOf(nlmsghdr);
const R = offsetsOf(inetDiagReqV2);

function offsetsOf<S extends StructSpec>(spec: S): Record<S['fields'][number]['name'], number> {
  return Object.fromEntries(spec.fields.map((f) => [f.name, f.offset])) as Record<S['fields'][number]['name'], number>;
}

/**
 * Writes one request about the job's socket at `off` of `out` and returns its length: the
 * SOCK_DESTROY (`get` false) or the SOCK_DIAG_BY_FAMILY get of that one socket. The bytes are
 * those {@link encodeInetRequest} makes (a test checks), written in place at the tables'
 * offsets so that a kill of many sockets allocates nothing per request.
 */
function encodeJob(job: Job, get: boolean, seq: number, out: Buffer, view: DataView, off: number): number {
  // States mean nothing to a request about one socket: 0, as ss -K sends (all, for the get).
  const states = get ? ALL_STATES_MASK : 0;
  const type = get ? SOCK_DIAG_BY_FAMILY : SOCK_DESTROY;
  const flags = get ? NLM_F.REQUEST : NLM_F.REQUEST | NLM_F.ACK;
  if (job.protocol > 255) {
    // MPTCP: the protocol goes in an attribute; rare enough to take the allocating path.
    const id = { sport: job.sport, dport: job.dport, src: job.src, dst: job.dst, ifindex: job.ifindex, cookie: job.cookie };
    const b = encodeInetRequest({ family: job.family, protocol: job.protocol, states, extensions: [], id, type, flags });
    b.writeUInt32LE(seq, H.seq);
    b.copy(out, off);
    return b.length;
  }
  out.fill(0, off, off + REQUEST_LEN);
  out.writeUInt32LE(REQUEST_LEN, off + H.len);
  out.writeUInt16LE(type, off + H.type);
  out.writeUInt16LE(flags, off + H.flags);
  out.writeUInt32LE(seq, off + H.seq);
  const r = off + NLMSG_HDRLEN;
  out[r + R.family] = job.family;
  out[r + R.protocol] = job.protocol;
  // A raw socket's "port" is its protocol; raw_diag looks the socket up by that.
  if (job.protocol === IPPROTO.RAW) out[r + R.rawProtocol] = job.sport;
  out.writeUInt32LE(states, r + R.states);
  out.writeUInt16BE(job.sport, r + R.sport);
  out.writeUInt16BE(job.dport, r + R.dport);
  out.set(job.src, r + R.src);
  out.set(job.dst, r + R.dst);
  out.writeUInt32LE(job.ifindex, r + R.ifindex);
  view.setBigUint64(r + R.cookie, job.cookie, true);
  return REQUEST_LEN;
}

/**
 * The SOCK_DESTROY request for one socket, as {@link destroySocket} sends it (sequence number 0).
 * Throws as `destroySocket` does for an object that cannot name one socket exactly.
 * @internal For tests and tools that compare requests byte for byte.
 */
export function encodeDestroyRequest(socket: Socket): Buffer {
  const job = prepare(socket, 0);
  if (job.refusal) throw job.refusal;
  const out = Buffer.alloc(REQUEST_ROOM);
  return out.subarray(0, encodeJob(job, false, 0, out, viewOf(out), 0));
}

/** A {@link NotSupportedError} with a message that says what is not supported. */
function notSupported(errno: number, syscall: string, context: ErrorContext, detail: string): NotSupportedError {
  const err = new NotSupportedError(errno, syscall, context);
  // NotSupportedError's own wording is about dumps (a missing module); say what failed instead.
  err.message = new SockdiagSystemError(errno, syscall, context, detail).message;
  return err;
}

/** The error for a failed destroy, worded for what the errno means here. */
function destroyError(errno: number, context: ErrorContext, extack?: string): SockdiagSystemError {
  const syscall = 'recvmsg';
  const what = `${context.protocol ?? ''} socket`.trim();
  let err: SockdiagSystemError;
  if (errno === ENOENT || errno === ESTALE) {
    err = new SockdiagSystemError(errno, syscall, context, `no ${what} has this id and cookie: it is gone (closed, or its addresses now belong to another socket, which was left alone), or the kernel cannot reach it (a non-primary SO_REUSEPORT member)`);
  } else if (errno === EPERM) {
    err = new SockdiagSystemError(errno, syscall, context, 'destroying a socket needs CAP_NET_ADMIN over the network namespace that holds it');
  } else if (errno === EOPNOTSUPP) {
    err = notSupported(errno, syscall, context, `this kernel cannot destroy ${what}s (SOCK_DESTROY needs CONFIG_INET_DIAG_DESTROY and a protocol that supports it: TCP, UDP, UDP-Lite, raw)`);
  } else {
    err = statusError(errno, context, extack);
  }
  if (extack) err.extack = extack;
  return err;
}

function outcomeOf(job: Job): DestroyResult {
  if (job.status < 0) {
    const error = destroyError(job.status, contextOf(job), job.extack);
    return { socket: job.socket, outcome: job.status === ENOENT || job.status === ESTALE ? 'gone' : 'refused', error };
  }
  if (job.remaining !== undefined) return { socket: job.socket, outcome: 'lingering', remaining: job.remaining };
  return { socket: job.socket, outcome: 'destroyed' };
}

/**
 * Sends the jobs' requests, many per sendmsg and at most {@link MAX_IN_FLIGHT} unanswered, and
 * matches the replies by sequence number. The kernel handles a request while sendmsg runs, so
 * its reply is already queued when the call returns; the bound keeps the queue from overflowing.
 * `stopOn` ends the run at the first destroy error it accepts (thrown).
 */
async function runJobs(channel: DumpChannel, queue: JobQueue, results: DestroyResult[], signal: AbortSignal | undefined, stopOn: (errno: number) => boolean): Promise<void> {
  const { jobs } = queue;
  const bySeq = new Map<number, Job>();
  const portId = channel.portId;
  let inFlight = 0;
  const aborted = (): AbortError => new AbortError(undefined, { cause: signal?.reason });

  // Requests are written into one buffer, reused for every send (sendmsg copies it).
  const out = Buffer.allocUnsafe(REQUESTS_PER_SEND * REQUEST_ROOM);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const sendSome = (): void => {
    let used = 0;
    let count = 0;
    while (queue.next < jobs.length) {
      const job = jobs[queue.next];
      if (job.refusal !== undefined) {
        results[job.index] = { socket: job.socket, outcome: 'refused', error: job.refusal };
        queue.next++;
        continue;
      }
      const need = job.requery ? 2 : 1;
      if (count + need > REQUESTS_PER_SEND || inFlight + count + need > MAX_IN_FLIGHT) break;
      queue.next++;
      job.awaiting = need;
      const seq = channel.nextSeq();
      bySeq.set(seq, job);
      used += encodeJob(job, false, seq, out, view, used);
      if (job.requery) {
        job.requerySeq = channel.nextSeq();
        bySeq.set(job.requerySeq, job);
        used += encodeJob(job, true, job.requerySeq, out, view, used);
      }
      count += need;
    }
    if (used === 0) return;
    channel.send(out.subarray(0, used));
    inFlight += count;
  };

  while (queue.next < jobs.length || inFlight > 0) {
    if (signal?.aborted) throw aborted();
    if (queue.failed) return;
    while (queue.next < jobs.length && inFlight < MAX_IN_FLIGHT) {
      const before = queue.next;
      sendSome();
      if (queue.next === before) break;
    }
    if (inFlight === 0) continue;
    let batch;
    try {
      batch = await channel.read();
    } catch (err) {
      if (signal?.aborted) throw aborted();
      throw err;
    }
    if (batch === null) {
      if (signal?.aborted) throw aborted();
      throw new SockdiagError('The channel was closed while destroying sockets', 'ERR_SOCKDIAG_CLOSED');
    }
    const b = batch.data;
    for (let i = 0; i < batch.offsets.length; i++) {
      if (batch.senders[i] !== 0) continue;
      forEachMessage(b, batch.offsets[i], batch.offsets[i] + batch.lengths[i], (off, h) => {
        const job = h.pid === portId || h.pid === 0 ? bySeq.get(h.seq) : undefined;
        if (job !== undefined) {
          bySeq.delete(h.seq);
          const requery = h.seq === job.requerySeq && job.requery;
          if (h.type === NLMSG.ERROR) {
            const status = decodeStatus(b, off, h.len, h.type, h.flags);
            if (!requery) {
              job.status = status.error;
              job.extack = status.message;
              if (status.error < 0 && stopOn(status.error)) throw destroyError(status.error, contextOf(job), status.message);
            }
            // A failed re-query (ENOENT) means the socket is gone: nothing to record.
          } else if (requery && h.type === SOCK_DIAG_BY_FAMILY) {
            job.remaining = decodeInetMessage(b, off, h.len, job.protocol);
          }
          job.awaiting--;
          inFlight--;
          if (job.awaiting === 0) results[job.index] = outcomeOf(job);
        }
      });
    }
  }
}

/** Jobs shared by the channels of a run: each takes the next ones when it has room. */
interface JobQueue {
  jobs: readonly Job[];
  next: number;
  /** Set when one channel failed: the others stop. */
  failed: boolean;
}

/**
 * Destroys `sockets` over open channels, as {@link destroySockets} does after its listing
 * (one result per socket, in order; EPERM rejects). Each channel takes the next requests when
 * its replies are in, so one channel's requests go out while another's replies are read.
 * Sockets that cannot name one socket throw TypeError before anything is sent.
 * @internal For tests (with a fake channel) and callers that manage their own channels.
 */
export async function destroyOn(channels: DumpChannel | readonly DumpChannel[], sockets: readonly Socket[], signal?: AbortSignal): Promise<DestroyResult[]> {
  const queue: JobQueue = { jobs: sockets.map((s, i) => prepare(s, i)), next: 0, failed: false };
  const results: DestroyResult[] = new Array(queue.jobs.length);
  const list = Array.isArray(channels) ? channels : [channels as DumpChannel];
  const settled = await Promise.allSettled(
    list.map((channel) =>
      runJobs(channel, queue, results, signal, (errno) => errno === EPERM).catch((err: unknown) => {
        queue.failed = true;
        throw err;
      }),
    ),
  );
  const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
  return results;
}

/** Opens `count` channels for a run and closes them when the run ends or the signal aborts. */
async function withChannels<T>(engine: Engine, netns: NetnsRef | undefined, count: number, signal: AbortSignal | undefined, run: (channels: EngineChannel[]) => Promise<T>): Promise<T> {
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
  const channels: EngineChannel[] = [];
  const closeAll = (): void => channels.forEach((c) => c.close());
  signal?.addEventListener('abort', closeAll, { once: true });
  try {
    for (let i = 0; i < count; i++) channels.push(engine.open(netns === undefined ? {} : { netns }));
    return await run(channels);
  } finally {
    signal?.removeEventListener('abort', closeAll);
    closeAll();
  }
}

/**
 * Destroys one socket (SOCK_DESTROY), named by its family, protocol, addresses, ports,
 * interface **and cookie**, as a listing returned it.
 *
 * Destroys at most the socket whose cookie you pass, never another socket, even if its
 * addresses and ports were reused. Rejects sockets without a cookie. Fails with ENOENT when
 * the socket no longer exists or the kernel cannot reach it (for example, a non-primary
 * member of an SO_REUSEPORT group). Success means the kernel accepted the request; an
 * already-closed (orphaned) socket may remain until its timers expire: such a socket is
 * looked up again after the kernel's ack, and reported as `'lingering'` with what was found.
 *
 * The ends of a destroyed TCP connection see it reset: the local socket's next call fails
 * with ECONNABORTED, its peer gets a RST (ECONNRESET).
 *
 * Errors are {@link SockdiagSystemError}s with `code`, `errno`, `syscall` and
 * `operation: 'destroy'`: ENOENT (or ESTALE) when the socket is gone, EPERM without
 * CAP_NET_ADMIN over the socket's network namespace (the message says so), EOPNOTSUPP
 * ({@link NotSupportedError}) for sockets the kernel cannot destroy: every non-inet family
 * (unix, packet, netlink, …; refused without asking the kernel), and inet protocols without
 * destroy support (MPTCP, SCTP, or a kernel built without CONFIG_INET_DIAG_DESTROY).
 * A socket object that cannot name one socket (no cookie, `INET_DIAG_NOCOOKIE`, bad
 * addresses) is a `TypeError`.
 *
 * @returns the outcome: `'destroyed'`, or `'lingering'` for an orphaned socket still there.
 * @example
 * ```ts
 * const [victim] = await listSockets({ protocols: ['tcp'], filter: 'dport = :8080' });
 * try {
 *   await destroySocket(victim);
 * } catch (err) {
 *   if ((err as SockdiagSystemError).code !== 'ENOENT') throw err; // already gone
 * }
 * ```
 */
export async function destroySocket(socket: Socket, opts: DestroySocketOptions = {}): Promise<DestroyResult> {
  const job = prepare(socket, 0);
  if (job.refusal) throw job.refusal;
  const results: DestroyResult[] = [];
  await withChannels(engineOf(opts), opts.netns, 1, opts.signal, ([channel]) => runJobs(channel, { jobs: [job], next: 0, failed: false }, results, opts.signal, () => true));
  const r = results[0];
  if (r.error) throw r.error;
  return r;
}

function newCounts(): Record<DestroyOutcome, number> {
  return { destroyed: 0, lingering: 0, gone: 0, refused: 0 };
}

/**
 * `ss -K`: lists the sockets `opts` selects (as `listSockets` does, with the same `filter`
 * language), finishes that listing, then destroys each of them by its cookie, many requests
 * per system call.
 *
 * Destroys at most the sockets the listing returned, never another socket, even if their
 * addresses and ports were reused: a socket created after the listing is never touched, and
 * nothing is listed twice (to catch sockets that appear later, call it again). Each socket
 * gets a {@link DestroyResult}: `'destroyed'`; `'lingering'` (an orphaned socket the kernel
 * accepted to destroy but that remains until its timers expire); `'gone'` (ENOENT: it closed
 * after the listing, or the kernel cannot reach it, such as a non-primary SO_REUSEPORT member;
 * also the far end of a connection whose near end was destroyed just before, since the reset
 * closed it); `'refused'` with the error (EOPNOTSUPP for sockets the kernel cannot destroy,
 * such as unix sockets). The listing has the caveats of `listSockets`: it is not an atomic
 * snapshot, so a socket that existed throughout may, under churn, be missed.
 *
 * Rejects with an EPERM {@link SockdiagSystemError} naming CAP_NET_ADMIN when the caller
 * may not destroy sockets in that namespace (nothing was destroyed then). Aborting `signal`
 * stops sending requests and rejects with an `AbortError`; sockets already sent may have been
 * destroyed (list again to see what is left).
 *
 * At least one of `filter`, `protocols` or `states` is required (`filter: 'state all'` means
 * every socket), so that an empty options object cannot destroy every socket by accident.
 *
 * @example
 * ```ts
 * const { counts } = await destroySockets({ netns: 'blue', protocols: ['tcp'], filter: 'dport = :443' });
 * console.log(`${counts.destroyed} destroyed, ${counts.gone} already gone`);
 * ```
 */
export async function destroySockets(opts: DestroySocketsOptions): Promise<DestroySocketsResult> {
  if (opts === null || typeof opts !== 'object') throw new TypeError('destroySockets needs options that select the sockets');
  if (opts.filter === undefined && opts.protocols === undefined && opts.states === undefined) {
    throw new TypeError("destroySockets needs a selection: pass filter, protocols or states (filter: 'state all' selects every socket)");
  }
  const listing = await listSockets({ ...opts, extensions: opts.extensions ?? 'none' });
  const channels = Math.min(DESTROY_CHANNELS, Math.ceil(listing.length / MAX_IN_FLIGHT));
  const results = listing.length === 0 ? [] : await withChannels(engineOf(opts), opts.netns, channels, opts.signal, (open) => destroyOn(open, listing, opts.signal));
  const counts = newCounts();
  for (const r of results) counts[r.outcome]++;
  const { interrupted, duplicatesDropped, unsupported } = listing;
  return { results, counts, listing: { interrupted, duplicatesDropped, unsupported } };
}
