/**
 * Command-line scanning as glibc's `getopt_long` does it for ss: bundled short flags
 * (`-tanp`), short option arguments attached or in the next word (`-fINET`, `-f inet`),
 * long options with `=` or the next word, unique prefixes of long names (`--num`), GNU
 * argument permutation (filter words may come before, between or after options) and `--`.
 * Errors carry getopt's own wording, which ss prints before its usage.
 * @module
 */

/** Whether an option takes an argument. */
export type ArgumentKind = 'none' | 'required' | 'optional';

/** A long option: its name, whether it takes an argument, and the key reported for it. */
export interface LongOption {
  /** The name without the leading `--`. */
  name: string;
  /** `optional` arguments can only be given with `=` (as in getopt). */
  argument: ArgumentKind;
  /** What the scanner reports (the short letter the option is an alias of, or its own key). */
  key: string;
}

/** One option as scanned, in command-line order. */
export interface ScannedOption {
  /** The short letter or the long option's key. */
  key: string;
  /** Its argument, when it takes one. */
  value?: string;
  /** How it was written (`-f`, `--family`), for messages. */
  spelling: string;
}

/** A command line getopt rejects; `message` is what getopt prints after the program name. */
export class GetoptError extends Error {}

/**
 * The options and the operands of a command line. `next()` scans one option at a time, so
 * a caller can act on each in order (ss exits at the first bad option, and at `-V`, `-h`,
 * `-N` failures, … before later ones are even looked at); operands are collected as met.
 */
export class OptionScanner {
  /** Operands (non-option words), in order; complete once `next()` has returned undefined. */
  readonly operands: string[] = [];
  private index = 0;
  /** Position inside a bundle of short flags (`-tan`), 0 when between words. */
  private inBundle = 0;
  private readonly shortKinds = new Map<string, ArgumentKind>();
  private done = false;

  /**
   * @param argv the words after the program name.
   * @param shortSpec getopt's short option string (`"ab:c"`: `b` takes an argument).
   * @param longOptions the long options.
   */
  constructor(
    private readonly argv: readonly string[],
    shortSpec: string,
    private readonly longOptions: readonly LongOption[],
  ) {
    for (let i = 0; i < shortSpec.length; i++) {
      const c = shortSpec[i];
      if (c === ':') continue;
      this.shortKinds.set(c, shortSpec[i + 1] === ':' ? 'required' : 'none');
    }
  }

  /** The next option, or undefined when there are no more (then `operands` is complete). Throws {@link GetoptError}. */
  next(): ScannedOption | undefined {
    if (this.inBundle > 0) return this.shortOption();
    while (!this.done && this.index < this.argv.length) {
      const word = this.argv[this.index];
      if (word === '--') {
        this.operands.push(...this.argv.slice(this.index + 1));
        this.done = true;
        break;
      }
      if (word.startsWith('--')) {
        this.index++;
        return this.longOption(word.slice(2));
      }
      if (word.length > 1 && word[0] === '-') {
        this.inBundle = 1;
        return this.shortOption();
      }
      // Permutation: operands wait while options are scanned.
      this.operands.push(word);
      this.index++;
    }
    this.done = true;
    return undefined;
  }

  private shortOption(): ScannedOption {
    const word = this.argv[this.index];
    const c = word[this.inBundle++];
    const atEnd = this.inBundle >= word.length;
    const kind = this.shortKinds.get(c);
    if (kind === undefined) {
      this.endBundleIf(atEnd);
      throw new GetoptError(`invalid option -- '${c}'`);
    }
    if (kind === 'none') {
      this.endBundleIf(atEnd);
      return { key: c, spelling: `-${c}` };
    }
    // The rest of the word, or else the next word, whatever it looks like.
    const rest = word.slice(this.inBundle);
    this.inBundle = 0;
    this.index++;
    if (!atEnd) return { key: c, value: rest, spelling: `-${c}` };
    if (this.index >= this.argv.length) throw new GetoptError(`option requires an argument -- '${c}'`);
    return { key: c, value: this.argv[this.index++], spelling: `-${c}` };
  }

  private endBundleIf(atEnd: boolean): void {
    if (atEnd) {
      this.inBundle = 0;
      this.index++;
    }
  }

  private longOption(body: string): ScannedOption {
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const inline = eq < 0 ? undefined : body.slice(eq + 1);
    const option = this.findLong(name, body);
    const spelling = `--${option.name}`;
    if (option.argument === 'none') {
      if (inline !== undefined) throw new GetoptError(`option '${spelling}' doesn't allow an argument`);
      return { key: option.key, spelling };
    }
    if (inline !== undefined) return { key: option.key, value: inline, spelling };
    if (option.argument === 'optional') return { key: option.key, spelling };
    if (this.index >= this.argv.length) throw new GetoptError(`option '${spelling}' requires an argument`);
    return { key: option.key, value: this.argv[this.index++], spelling };
  }

  /** Exact name, else the only option it abbreviates (aliases of one option are not ambiguous). */
  private findLong(name: string, written: string): LongOption {
    const exact = this.longOptions.find((o) => o.name === name);
    if (exact) return exact;
    const matches = name === '' ? [] : this.longOptions.filter((o) => o.name.startsWith(name));
    if (matches.length === 0) throw new GetoptError(`unrecognized option '--${written}'`);
    const first = matches[0];
    if (matches.every((o) => o.key === first.key && o.argument === first.argument)) return first;
    const names = matches.map((o) => `'--${o.name}'`);
    throw new GetoptError(`option '--${written}' is ambiguous; possibilities: ${names.join(' ')}`);
  }
}
