/**
 * C printf conversions as iproute2's `ss` uses them (`%g`, `%.3g`, `%.0f`, `%.1f`, `%#x`),
 * and ss's own unit formats (timers, bit rates). Byte-identical output needs glibc's
 * rounding: the exact binary value of the double, ties to even, which JavaScript's
 * `toPrecision`/`toFixed` do not do (they round ties up).
 * @module
 */

/** A non-negative finite number as decimal digits: value = 0.d1d2d3… × 10^(exp10 + 1). */
interface Digits {
  /** Significant digits, no leading zeros ('' for zero). */
  digits: string;
  /** Power of ten of the first digit. */
  exp10: number;
}

const F64 = new Float64Array(1);
const U64 = new BigUint64Array(F64.buffer);

/** The exact decimal expansion of a finite double `x >= 0`: digits (integer) / 10^scale. */
function exactDecimal(x: number): { int: bigint; scale: number } {
  F64[0] = x;
  const bits = U64[0];
  const biased = Number((bits >> 52n) & 0x7ffn);
  let mantissa = bits & 0xfffffffffffffn;
  let e: number;
  if (biased === 0) e = -1074;
  else {
    mantissa |= 1n << 52n;
    e = biased - 1075;
  }
  if (e >= 0) return { int: mantissa << BigInt(e), scale: 0 };
  return { int: mantissa * 5n ** BigInt(-e), scale: -e };
}

/** Rounds a digit string at `keep` digits, ties to even (glibc's default rounding). */
function roundDigits(digits: string, keep: number): { digits: string; carry: boolean } {
  if (keep >= digits.length) return { digits, carry: false };
  if (keep < 0) return { digits: '', carry: false };
  const head = digits.slice(0, keep);
  const next = digits.charCodeAt(keep) - 48;
  const restNonZero = /[1-9]/.test(digits.slice(keep + 1));
  const lastOdd = keep > 0 && (digits.charCodeAt(keep - 1) - 48) % 2 === 1;
  const up = next > 5 || (next === 5 && (restNonZero || lastOdd));
  if (!up) return { digits: head, carry: false };
  // Add one to the last kept digit, carrying left.
  const arr = head.split('');
  let i = arr.length - 1;
  while (i >= 0 && arr[i] === '9') arr[i--] = '0';
  if (i < 0) return { digits: `1${arr.join('')}`, carry: true };
  arr[i] = String.fromCharCode(arr[i].charCodeAt(0) + 1);
  return { digits: arr.join(''), carry: false };
}

/** Significant digits in a plain decimal string (no sign, no exponent). */
function significantCount(s: string): number {
  let n = 0;
  let leading = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) continue; // '.'
    if (leading && c === 48) continue; // leading '0'
    leading = false;
    n++;
  }
  return n;
}

/** `x > 0` rounded to `precision` significant digits, ties to even on the exact value. */
function significant(x: number, precision: number): Digits {
  // JavaScript rounds ties up; a tie is only possible when the shortest representation has
  // exactly one digit more than asked and ends in 5 (then check against the exact value).
  const short = x.toExponential();
  const e = short.indexOf('e');
  const shortDigits = short.slice(0, e).replace('.', '');
  if (shortDigits.length <= precision) return { digits: shortDigits, exp10: Number(short.slice(e + 1)) };
  if (shortDigits.length !== precision + 1 || !shortDigits.endsWith('5')) {
    const r = x.toExponential(precision - 1);
    const re = r.indexOf('e');
    return { digits: r.slice(0, re).replace('.', ''), exp10: Number(r.slice(re + 1)) };
  }
  const { int, scale } = exactDecimal(x);
  const all = int.toString();
  const exp10 = all.length - 1 - scale;
  const r = roundDigits(all, precision);
  return r.carry ? { digits: r.digits.slice(0, precision), exp10: exp10 + 1 } : { digits: r.digits, exp10 };
}

/** Drops trailing zeros after a decimal point, and the point itself if nothing follows it. */
function stripZeros(s: string): string {
  if (s.indexOf('.') < 0) return s;
  let end = s.length;
  while (s.charCodeAt(end - 1) === 48) end--;
  if (s.charCodeAt(end - 1) === 46) end--;
  return s.slice(0, end);
}

function exponent(e: number): string {
  const a = Math.abs(e);
  return `e${e < 0 ? '-' : '+'}${a < 10 ? '0' : ''}${a}`;
}

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16];

/** C's `%.{precision}g` (default precision 6). */
export function formatG(x: number, precision = 6): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const p = precision === 0 ? 1 : precision;
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const sign = x < 0 ? '-' : '';
  const a = Math.abs(x);
  // Fast path (rtt, rto… are small decimals): inside %g's fixed range, JavaScript's shortest
  // form with no more digits than asked is exactly what %g prints.
  if (a >= 1e-4 && p < POW10.length && a < POW10[p]) {
    const s = String(a);
    if (s.indexOf('e') < 0 && significantCount(s) <= p) return sign + s;
  }
  const d = significant(a, p);
  const digits = d.digits.padEnd(p, '0');
  const X = d.exp10;
  if (X < p && X >= -4) {
    let s: string;
    if (X >= 0) s = `${digits.slice(0, X + 1)}.${digits.slice(X + 1)}`;
    else s = `0.${'0'.repeat(-X - 1)}${digits}`;
    return sign + stripZeros(s);
  }
  return `${sign}${stripZeros(`${digits[0]}.${digits.slice(1)}`)}${exponent(X)}`;
}

/**
 * `%g` of a microsecond count shown in milliseconds (ss's rtt, rto, ato, minrtt…): below
 * 1000 ms the quotient has at most six digits, so it is printed from the integer directly.
 */
export function formatMicrosAsMs(us: number): string {
  if (Number.isInteger(us) && us >= 0 && us < 1000000) {
    const whole = Math.floor(us / 1000);
    let frac = us - whole * 1000;
    if (frac === 0) return String(whole);
    let digits = 3;
    while (frac % 10 === 0) {
      frac /= 10;
      digits--;
    }
    return `${whole}.${String(frac).padStart(digits, '0')}`;
  }
  return formatG(us / 1000);
}

/** C's `%.{decimals}f`. */
export function formatFixed(x: number, decimals: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const sign = x < 0 || Object.is(x, -0) ? '-' : '';
  const a = Math.abs(x);
  if (decimals === 0) {
    if (Number.isInteger(a)) return sign + (a <= Number.MAX_SAFE_INTEGER ? String(a) : BigInt(a).toString());
    if (a < 2 ** 52) {
      // x - floor(x) is exact for doubles, so the tie test is too.
      const whole = Math.floor(a);
      const frac = a - whole;
      const up = frac > 0.5 || (frac === 0.5 && whole % 2 === 1);
      return sign + String(up ? whole + 1 : whole);
    }
  }
  const { int, scale } = exactDecimal(a);
  let all = int.toString();
  // Make sure there is at least one digit before the point.
  if (all.length <= scale) all = '0'.repeat(scale - all.length + 1) + all;
  const intLen = all.length - scale;
  const r = roundDigits(all, intLen + decimals);
  let digits = r.digits.padEnd(intLen + decimals, '0');
  const point = r.carry ? intLen + 1 : intLen;
  if (r.carry) digits = digits.padEnd(point + decimals, '0');
  const whole = digits.slice(0, point).replace(/^0+(?=\d)/, '');
  return sign + (decimals > 0 ? `${whole}.${digits.slice(point, point + decimals)}` : whole);
}

/** C's `%#x`: `0x…` in lower-case hex, but plain `0` for zero. */
export function hexAlt(n: number | bigint): string {
  return n === 0 || n === 0n ? '0' : `0x${n.toString(16)}`;
}

/**
 * ss's `print_ms_timer`: `59min`, `9min59sec`, `59sec`, `1.208ms` (1 s 208 ms), `200ms`,
 * and the empty string for 0 (an expired timer).
 */
export function formatTimer(timeoutMs: number): string {
  let secs = Math.trunc(timeoutMs / 1000);
  const minutes = Math.trunc(secs / 60);
  secs %= 60;
  let msecs = timeoutMs % 1000;
  let out = '';
  if (minutes) {
    msecs = 0;
    out = `${minutes}min`;
    if (minutes > 9) secs = 0;
  }
  if (secs) {
    if (secs > 9) msecs = 0;
    out += `${secs}${msecs ? '.' : 'sec'}`;
  }
  if (msecs) out += `${String(msecs).padStart(3, '0')}ms`;
  return out;
}

/**
 * ss's `sprint_bw` (a rate in bits per second, to which ss appends `bps`): exact integer
 * with `-n`, otherwise three significant digits and `k`/`M`/`G`/`T`.
 */
export function formatBitRate(bps: number, numeric: boolean): string {
  if (numeric) return formatFixed(bps, 0);
  if (bps >= 1e12) return `${formatG(bps / 1e12, 3)}T`;
  if (bps >= 1e9) return `${formatG(bps / 1e9, 3)}G`;
  if (bps >= 1e6) return `${formatG(bps / 1e6, 3)}M`;
  if (bps >= 1e3) return `${formatG(bps / 1e3, 3)}k`;
  return formatG(bps);
}
