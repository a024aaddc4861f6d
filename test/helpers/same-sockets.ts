/**
 * Comparing two listings of the same idle population taken at different moments (a dump
 * decoded later, a recording replayed): the same cookies, and the same fields apart from
 * what moves between two dumps by itself.
 */
import type { Socket } from '../../lib/diag/socket';
import type { Population } from './netns';

/** toJSON without what moves between two dumps of idle sockets (timers, "ms since" and time-spent counters). */
export function stable(s: Socket): unknown {
  const j = JSON.parse(JSON.stringify((s as unknown as { toJSON?: () => unknown }).toJSON?.() ?? s, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))) as Record<string, unknown>;
  if (j.timer) delete (j.timer as Record<string, unknown>).expiresMs;
  const info = j.info as Record<string, unknown> | undefined;
  if (info && typeof info === 'object') for (const k of ['lastDataSentMs', 'lastAckSentMs', 'lastDataRecvMs', 'lastAckRecvMs', 'busyTimeUs', 'rwndLimitedUs', 'sndbufLimitedUs']) delete info[k];
  return j;
}

/**
 * Sockets whose counters move on their own between two dumps, compared by cookie only: the
 * queued pairs (zero-window probes), sockets retransmitting (SYN-SENT to nowhere), and packet
 * and netlink sockets (they count the namespace's traffic and notifications in `drops`).
 */
export function movingIn(pop: Population): (s: Socket) => boolean {
  const queued = new Set(pop.sockets.filter((p) => p.name.includes('queued')).map((p) => p.cookie));
  return (s) => queued.has(s.cookie) || s.protocol === 'packet' || s.protocol === 'netlink' || ('timer' in s && (s.timer?.name === 'on' || s.timer?.name === 'persist'));
}

/** Expects `a` and `b` to hold the same sockets by cookie, equal but for what moves; returns how many. */
export function expectSameSockets(a: readonly Socket[], b: readonly Socket[], pop: Population): number {
  const moving = movingIn(pop);
  const byA = new Map(a.map((s) => [s.cookie, s]));
  const byB = new Map(b.map((s) => [s.cookie, s]));
  expect([...byA.keys()].sort()).toEqual([...byB.keys()].sort());
  for (const [cookie, s] of byA) {
    const t = byB.get(cookie)!;
    if (!moving(s) && !moving(t)) expect([cookie, s.protocol, s.state, stable(s)]).toEqual([cookie, s.protocol, s.state, stable(t)]);
  }
  return byA.size;
}
