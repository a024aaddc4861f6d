/**
 * IPv4/IPv6 addresses read straight from a Buffer into the text `inet_ntop(3)` prints.
 * @module
 */

// Dumps repeat the same few addresses; sharing their strings saves time and memory.
const v4Cache = new Map<number, string>();
const CACHE_LIMIT = 8192;

/** Formats the 4 bytes at `off` as dotted quad. */
export function formatIPv4(b: Buffer, off: number): string {
  const key = b.readUInt32BE(off);
  let s = v4Cache.get(key);
  if (s === undefined) {
    s = `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
    if (v4Cache.size >= CACHE_LIMIT) v4Cache.clear();
    v4Cache.set(key, s);
  }
  return s;
}

const v6Cache = new Map<string, string>();

/** Formats the 16 bytes at `off` as RFC 5952 text, with inet_ntop's embedded-IPv4 forms. */
export function formatIPv6(b: Buffer, off: number): string {
  const key = b.toString('latin1', off, off + 16);
  let s = v6Cache.get(key);
  if (s === undefined) {
    s = formatIPv6Uncached(b, off);
    if (v6Cache.size >= CACHE_LIMIT) v6Cache.clear();
    v6Cache.set(key, s);
  }
  return s;
}

function formatIPv6Uncached(b: Buffer, off: number): string {
  const words = new Array<number>(8);
  for (let i = 0; i < 8; i++) words[i] = b.readUInt16BE(off + 2 * i);
  // Longest run of two or more zero words; the first one wins a tie.
  let bestBase = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestBase = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestBase = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    // ::a.b.c.d and ::ffff:a.b.c.d keep the IPv4 part dotted, as inet_ntop does.
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
      out += `${b[off + 12]}.${b[off + 13]}.${b[off + 14]}.${b[off + 15]}`;
      break;
    }
    out += words[i].toString(16);
  }
  if (bestBase !== -1 && bestBase + bestLen === 8) out += ':';
  return out;
}

/** Writes a textual IPv4 or IPv6 address into 4 or 16 bytes at `off`; returns the family (2 or 10). */
export function parseAddressInto(text: string, b: Buffer, off: number): 2 | 10 {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    for (let i = 0; i < 4; i++) {
      const n = Number(v4[i + 1]);
      if (n > 255) throw new RangeError(`invalid IPv4 address: ${text}`);
      b[off + i] = n;
    }
    return 2;
  }
  let head = text;
  let tailV4: number[] | undefined;
  const m = /^(.*:)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.exec(text);
  if (m) {
    head = m[1].endsWith('::') ? m[1] : m[1].slice(0, -1);
    tailV4 = m[2].split('.').map(Number);
    if (tailV4.some((n) => n > 255)) throw new RangeError(`invalid IPv6 address: ${text}`);
  }
  const groupsAvailable = tailV4 ? 6 : 8;
  const parts = head.split('::');
  if (parts.length > 2) throw new RangeError(`invalid IPv6 address: ${text}`);
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new RangeError(`invalid IPv6 address: ${text}`);
    return parseInt(g, 16);
  }));
  const left = parse(parts[0]);
  const right = parts.length === 2 ? parse(parts[1]) : [];
  const fill = groupsAvailable - left.length - right.length;
  if (parts.length === 2 ? fill < 1 : fill !== 0) throw new RangeError(`invalid IPv6 address: ${text}`);
  const words = [...left, ...new Array<number>(parts.length === 2 ? fill : 0).fill(0), ...right];
  words.forEach((w, i) => b.writeUInt16BE(w, off + 2 * i));
  if (tailV4) tailV4.forEach((n, i) => (b[off + 12 + i] = n));
  return 10;
}
