/**
 * bcrypt password verification (`$2a$`, `$2b$`, `$2y$` hashes, as htpasswd, Go's
 * x/crypto/bcrypt and libxcrypt write them), for the web config's `basic_auth_users`.
 * Node's crypto has no bcrypt; this is Provos and Mazières' EksBlowfish, ~100 lines, so
 * the exporter needs no dependency. Blowfish's initial P-array and S-boxes are the hex
 * digits of π's fraction, computed once (Machin's formula in BigInt, ~50 ms) instead of
 * being pasted in as 1042 constants.
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto';

const ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const HASH_RE = /^\$2[aby]\$(\d\d)\$([./A-Za-z0-9]{22})([./A-Za-z0-9]{31})$/;

/** bcrypt's base64 (its own alphabet, no padding) → `bytes` bytes. */
function decode64(text: string, bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  let acc = 0;
  let bits = 0;
  let n = 0;
  for (const ch of text) {
    acc = (acc << 6) | ALPHABET.indexOf(ch);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (n < bytes) out[n++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

let piWords: Uint32Array | undefined;

/** The first 1042 32-bit words of π's fractional part: P (18 words), then the four S-boxes. */
function blowfishInit(): Uint32Array {
  if (piWords !== undefined) return piWords;
  const words = 18 + 4 * 256;
  const bits = BigInt(words * 32 + 64);
  const one = 1n << bits;
  // atan(1/x) in fixed point, by its Taylor series.
  const atanInv = (x: bigint): bigint => {
    let term = one / x;
    let sum = term;
    const x2 = x * x;
    for (let k = 1n; term !== 0n; k++) {
      term /= x2;
      sum += (k & 1n ? -term : term) / (2n * k + 1n);
    }
    return sum;
  };
  const pi = 16n * atanInv(5n) - 4n * atanInv(239n);
  const hex = ((pi - 3n * one) >> 64n).toString(16).padStart(words * 8, '0');
  piWords = new Uint32Array(words);
  for (let i = 0; i < words; i++) piWords[i] = parseInt(hex.slice(i * 8, i * 8 + 8), 16);
  return piWords;
}

/** Blowfish state: P in [0, 18), S-box b at 18 + 256·b. */
class Blowfish {
  readonly s = new Uint32Array(blowfishInit());
  private readonly lr = new Uint32Array(2);

  /** Encrypts lr[0], lr[1] in place. */
  private encrypt(): void {
    const s = this.s;
    let l = this.lr[0];
    let r = this.lr[1];
    for (let i = 0; i < 16; i += 2) {
      l ^= s[i];
      r ^= (((s[18 + (l >>> 24)] + s[274 + ((l >>> 16) & 0xff)]) ^ s[530 + ((l >>> 8) & 0xff)]) + s[786 + (l & 0xff)]) | 0;
      r ^= s[i + 1];
      l ^= (((s[18 + (r >>> 24)] + s[274 + ((r >>> 16) & 0xff)]) ^ s[530 + ((r >>> 8) & 0xff)]) + s[786 + (r & 0xff)]) | 0;
    }
    this.lr[0] = r ^ s[17];
    this.lr[1] = l ^ s[16];
  }

  /** Encrypts the 64-bit blocks of `data` (an even number of words) in place. */
  encryptWords(data: Uint32Array): void {
    for (let i = 0; i < data.length; i += 2) {
      this.lr[0] = data[i];
      this.lr[1] = data[i + 1];
      this.encrypt();
      data[i] = this.lr[0];
      data[i + 1] = this.lr[1];
    }
  }

  /** EksBlowfish's ExpandKey: P ^= the key stream, then P and S re-encrypted in turn, each block first xored with the salt stream (when there is a salt). */
  expand(key: Buffer, salt: Buffer | undefined): void {
    const s = this.s;
    let k = 0;
    const keyWord = (): number => {
      let w = 0;
      for (let i = 0; i < 4; i++) w = (w << 8) | key[k++ % key.length];
      return w;
    };
    for (let i = 0; i < 18; i++) s[i] ^= keyWord();
    let j = 0;
    const saltWord = (): number => {
      if (salt === undefined) return 0;
      let w = 0;
      for (let i = 0; i < 4; i++) w = (w << 8) | salt[j++ % salt.length];
      return w;
    };
    this.lr[0] = 0;
    this.lr[1] = 0;
    for (let i = 0; i < s.length; i += 2) {
      this.lr[0] ^= saltWord();
      this.lr[1] ^= saltWord();
      this.encrypt();
      s[i] = this.lr[0];
      s[i + 1] = this.lr[1];
    }
  }
}

/** The 23 bytes bcrypt stores for `password` at `cost` with the 16-byte `salt`. */
function bcryptRaw(password: Buffer, salt: Buffer, cost: number): Buffer {
  // The key is the password's first 72 bytes and a NUL, as $2b$ defines it.
  const key = Buffer.concat([password.subarray(0, 72), Buffer.alloc(1)]);
  const bf = new Blowfish();
  bf.expand(key, salt);
  for (let i = 0; i < 2 ** cost; i++) {
    bf.expand(key, undefined);
    bf.expand(salt, undefined);
  }
  const text = Buffer.from('OrpheanBeholderScryDoubt', 'latin1');
  const data = new Uint32Array(6);
  for (let i = 0; i < 6; i++) data[i] = text.readUInt32BE(i * 4);
  for (let i = 0; i < 64; i++) bf.encryptWords(data);
  const out = Buffer.alloc(24);
  data.forEach((w, i) => out.writeUInt32BE(w, i * 4));
  return out.subarray(0, 23);
}

/** Whether `hash` is a bcrypt hash this module verifies (`$2a$`, `$2b$` or `$2y$`, cost 4…31). */
export function isBcryptHash(hash: string): boolean {
  const m = HASH_RE.exec(hash);
  return m !== null && Number(m[1]) >= 4 && Number(m[1]) <= 31;
}

/**
 * Whether `password` matches the bcrypt `hash` (compared in constant time). A hash this
 * module cannot read is a mismatch. Costs 2^cost key expansions: ~60 ms at cost 10.
 */
export function bcryptVerify(password: string, hash: string): boolean {
  const m = HASH_RE.exec(hash);
  if (m === null || !isBcryptHash(hash)) return false;
  const raw = bcryptRaw(Buffer.from(password, 'utf8'), decode64(m[2], 16), Number(m[1]));
  return timingSafeEqual(raw, decode64(m[3], 23));
}

/** A digest that names a (user, password, hash) triple without keeping the password. */
export function credentialKey(user: string, password: string, hash: string): string {
  return createHash('sha256').update(user).update('\0').update(password).update('\0').update(hash).digest('hex');
}
