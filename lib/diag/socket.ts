/**
 * The {@link Socket} union: every kind of socket a listing returns, discriminated on `protocol`.
 * @module
 */
import type { InetSocket } from './inet';

/** Any socket. Narrow on `protocol` (`'tcp'`, `'unix'`, …) to reach the kind's own fields. */
export type Socket = InetSocket;
