/**
 * The checks every listing's options pass before anything is planned: each option by
 * name, own keys only (`'toString'` is no state), lists as lists (a string is never read
 * letter by letter), and messages of bounded length whatever the caller passed.
 * @module
 */
import { STATE_NUMBERS } from '../diag/constants';
import { ALL_PROTOCOLS } from '../diag/registry';
import { INET_DIAG_EXT } from '../diag/inet';
import type { ListOptions } from './options';

const own = (o: object, key: unknown): boolean => typeof key === 'string' && Object.prototype.hasOwnProperty.call(o, key);

/** A value as an error message shows it: its type, and strings and numbers cut to a few dozen characters. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  switch (typeof v) {
    case 'string': {
      const text = JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
      return `the string ${text}${v.length > 40 ? ` (${v.length} characters)` : ''}`;
    }
    case 'number':
    case 'bigint':
    case 'boolean':
      return `${typeof v} ${String(v).slice(0, 40)}`;
    case 'undefined':
      return 'undefined';
    case 'function':
      return 'a function';
    default:
      return `an object (${Object.prototype.toString.call(v).slice(8, -1)})`;
  }
}

/** Checks that `value` is an array of names each an own key of `known`; the TypeError names the option. */
function checkNames(option: string, value: unknown, known: object, what: string): void {
  if (!Array.isArray(value)) {
    const hint = typeof value === 'string' ? ` (write [${JSON.stringify(value.slice(0, 40))}])` : '';
    throw new TypeError(`${option} must be an array of ${what}, got ${describeValue(value)}${hint}`);
  }
  for (const name of value) {
    if (!own(known, name)) throw new TypeError(`${option}: unknown ${what.replace(/s$/, '')} ${describeValue(name)}; known: ${Object.keys(known).join(', ')}`);
  }
}

const PROTOCOL_KEYS: Readonly<Record<string, true>> = Object.fromEntries(ALL_PROTOCOLS.map((p) => [p, true]));
const FAMILY_KEYS: Readonly<Record<string, true>> = { inet: true, inet6: true };

/** Throws a TypeError naming the first option of `opts` that is not what it takes. */
export function validateListOptions(opts: unknown): asserts opts is ListOptions {
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw new TypeError(`options must be an object, got ${describeValue(opts)}`);
  const o = opts as Record<string, unknown>;
  if (o.protocols !== undefined) checkNames('protocols', o.protocols, PROTOCOL_KEYS, 'protocol names');
  if (o.families !== undefined) checkNames('families', o.families, FAMILY_KEYS, "families ('inet', 'inet6')");
  if (o.states !== undefined && typeof o.states !== 'number') checkNames('states', o.states, STATE_NUMBERS, 'state names');
  if (o.extensions !== undefined && o.extensions !== 'all' && o.extensions !== 'none') {
    if (typeof o.extensions === 'string') throw new TypeError(`extensions must be 'all', 'none' or an array of extension names, got ${describeValue(o.extensions)}`);
    checkNames('extensions', o.extensions, INET_DIAG_EXT, 'extension names');
  }
  const filter = o.filter;
  if (filter !== undefined && typeof filter !== 'string' && (filter === null || typeof filter !== 'object')) {
    throw new TypeError(`filter must be ss filter text, a built filter or a filter tree, got ${describeValue(filter)}`);
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new TypeError(`signal must be an AbortSignal, got ${describeValue(o.signal)}`);
  if (o.netns !== undefined && typeof o.netns !== 'string' && typeof o.netns !== 'number') throw new TypeError(`netns must be a namespace name, a path or a pid, got ${describeValue(o.netns)}`);
  if (o.recvSize !== undefined && (typeof o.recvSize !== 'number' || !Number.isInteger(o.recvSize))) throw new TypeError(`recvSize must be an integer number of bytes, got ${describeValue(o.recvSize)}`);
  if (o.timeoutMs !== undefined && (typeof o.timeoutMs !== 'number' || !(o.timeoutMs > 0))) throw new TypeError(`timeoutMs must be a positive number of milliseconds, got ${describeValue(o.timeoutMs)}`);
  const p = o.processes;
  if (p !== undefined && typeof p !== 'boolean' && (p === null || typeof p !== 'object' || Array.isArray(p))) throw new TypeError(`processes must be a boolean or { threads?, contexts? }, got ${describeValue(p)}`);
}
