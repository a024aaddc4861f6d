/**
 * `--json` output: the library's socket objects (their `toJSON()`), with 64-bit counters as
 * numbers when they are exact in a double and as decimal strings otherwise, and raw bytes
 * as hex strings. The schema is docs/cli-json-schema.json.
 *
 * `--json` prints one array with one socket per line (so it streams and greps well);
 * `--json=ndjson` prints one object per line with nothing around them.
 * @module
 */
import type { JsonMode } from './args';

/** Where JSON goes (stdout with backpressure). */
export interface JsonOutput {
  /** Writes text; a returned promise resolves when more may be written. */
  write(text: string): Promise<void> | void;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = -MAX_SAFE;

/** JSON.stringify's replacer: bigints exact as numbers or else strings, Buffers as hex. */
function replacer(this: unknown, _key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value <= MAX_SAFE && value >= MIN_SAFE ? Number(value) : value.toString();
  if (value !== null && typeof value === 'object') {
    const v = value as { type?: unknown; data?: unknown };
    // Buffer#toJSON has already run by the time the replacer sees it.
    if (v.type === 'Buffer' && Array.isArray(v.data)) return Buffer.from(v.data as number[]).toString('hex');
  }
  return value;
}

/** Writes sockets as a JSON array or as NDJSON. */
export class JsonWriter {
  private count = 0;

  /**
   * @param mode `array` (one JSON document) or `ndjson` (one object per line).
   * @param out where the text goes.
   */
  constructor(
    private readonly mode: JsonMode,
    private readonly out: JsonOutput,
  ) {}

  /** One value as JSON text on one line. */
  static stringify(value: unknown): string {
    return JSON.stringify(value, replacer);
  }

  /** Starts the document. */
  async begin(): Promise<void> {
    if (this.mode === 'array') await this.out.write('[');
  }

  /** Writes one socket (or any value). */
  async item(value: unknown): Promise<void> {
    const text = JsonWriter.stringify(value);
    if (this.mode === 'ndjson') await this.out.write(`${text}\n`);
    else await this.out.write(`${this.count === 0 ? '\n' : ',\n'}${text}`);
    this.count++;
  }

  /** Ends the document. */
  async end(): Promise<void> {
    if (this.mode === 'array') await this.out.write(this.count === 0 ? ']\n' : '\n]\n');
  }
}
