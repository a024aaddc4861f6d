/**
 * Driver of destroy-peers.py: a python process inside a test namespace that makes sockets
 * on request and reports what their owner sees after a destroy (TCP state, send/recv errno).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as path from 'node:path';
import { pythonBinary, type Netns } from './netns';

/** A socket the peers process holds (or held), as it described it. */
export interface PeerSocket {
  /** Handle for later commands (absent for orphans, which no process holds). */
  h?: number;
  family: 'inet' | 'inet6' | 'unix';
  cookie: bigint;
  inode: number;
  local?: { address: string; port: number };
  remote?: { address: string; port: number };
  /** For orphan/timewait: the state /proc/net/tcp showed. */
  observedState?: string | null;
}

/** What the owner of a socket sees (see `probe` in destroy-peers.py). */
export interface ProbeResult {
  /** TCP state from TCP_INFO, or null for non-TCP sockets. */
  state: string | null;
  /** With `send: true`: 'ok' or the errno name of a 1-byte non-blocking send. */
  send?: string;
  /** UDP: errno name of a non-blocking recv ('EAGAIN' when nothing happened). */
  recv?: string;
}

type Raw = Record<string, unknown>;

function toSocket(raw: unknown): PeerSocket {
  const r = raw as Raw & { cookie: string };
  return { ...(r as object), cookie: BigInt(r.cookie) } as PeerSocket;
}

/** The running peers process. */
export interface Peers {
  /** Sends one command and resolves with its answer (rejects with the python error). */
  call(cmd: string, args?: Raw): Promise<Raw>;
  listen(args?: Raw): Promise<PeerSocket>;
  udp(args?: Raw): Promise<PeerSocket>;
  pairs(listener: PeerSocket, count: number, args?: Raw): Promise<Array<[PeerSocket, PeerSocket | null]>>;
  connect(args: Raw): Promise<PeerSocket>;
  accept(listener: PeerSocket): Promise<PeerSocket>;
  close(s: PeerSocket, rst?: boolean): Promise<void>;
  probe(sockets: readonly PeerSocket[], send?: boolean): Promise<ProbeResult[]>;
  unixpair(): Promise<[PeerSocket, PeerSocket]>;
  orphan(): Promise<PeerSocket>;
  timewait(): Promise<PeerSocket>;
  churn(listener: PeerSocket, intervalMs?: number): Promise<void>;
  churnCount(): Promise<number>;
  churnStop(): Promise<Array<[PeerSocket, PeerSocket]>>;
  stop(): Promise<void>;
}

/** Starts destroy-peers.py inside `ns`. */
export async function startPeers(ns: Netns): Promise<Peers> {
  const child: ChildProcessWithoutNullStreams = spawn('ip', ['netns', 'exec', ns.name, pythonBinary(), path.join(__dirname, 'destroy-peers.py')], { stdio: ['pipe', 'pipe', 'pipe'] });
  const waiting = new Map<number, { resolve: (v: Raw) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let buf = '';
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.on('close', () => {
    for (const w of waiting.values()) w.reject(new Error(`destroy-peers.py exited: ${stderr.trim()}`));
    waiting.clear();
    resolve();
  }));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const msg = JSON.parse(buf.slice(0, nl)) as Raw & { id: number; error?: string };
      buf = buf.slice(nl + 1);
      const w = waiting.get(msg.id);
      waiting.delete(msg.id);
      if (w === undefined) continue;
      if (msg.error !== undefined) w.reject(new Error(`destroy-peers.py: ${msg.error}`));
      else w.resolve(msg);
    }
  });
  child.stdin.on('error', () => undefined);

  const call = (cmd: string, args: Raw = {}): Promise<Raw> =>
    new Promise((resolve, reject) => {
      if (child.exitCode !== null || child.signalCode !== null) return reject(new Error(`destroy-peers.py is not running: ${stderr.trim()}`));
      const id = nextId++;
      waiting.set(id, { resolve, reject });
      child.stdin.write(JSON.stringify({ ...args, id, cmd }) + '\n');
    });

  const peers: Peers = {
    call,
    listen: async (args = {}) => toSocket(await call('listen', args)),
    udp: async (args = {}) => toSocket(await call('udp', args)),
    pairs: async (listener, count, args = {}) => {
      const r = (await call('pairs', { ...args, listener: listener.h, count })) as { pairs: Array<[unknown, unknown]> };
      return r.pairs.map(([c, s]) => [toSocket(c), s === null ? null : toSocket(s)]);
    },
    connect: async (args) => toSocket(await call('connect', args)),
    accept: async (listener) => toSocket(await call('accept', { listener: listener.h })),
    close: async (s, rst = false) => {
      await call('close', { h: s.h, rst });
    },
    probe: async (sockets, send = false) => {
      const r = (await call('probe', { hs: sockets.map((s) => s.h), send })) as { probe: Record<string, ProbeResult> };
      return sockets.map((s) => r.probe[String(s.h)]);
    },
    unixpair: async () => {
      const r = (await call('unixpair')) as { pair: [unknown, unknown] };
      return [toSocket(r.pair[0]), toSocket(r.pair[1])];
    },
    orphan: async () => toSocket(await call('orphan')),
    timewait: async () => toSocket(await call('timewait')),
    churn: async (listener, intervalMs = 1) => {
      await call('churn', { listener: listener.h, host: listener.local!.address, port: listener.local!.port, family: listener.family === 'inet6' ? 6 : 4, intervalMs });
    },
    churnCount: async () => ((await call('churncount')) as { count: number }).count,
    churnStop: async () => {
      const r = (await call('churnstop')) as { made: Array<[unknown, unknown]> };
      return r.made.map(([c, s]) => [toSocket(c), toSocket(s)]);
    },
    stop: async () => {
      child.stdin.end();
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
  return peers;
}
