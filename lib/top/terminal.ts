/**
 * The terminal, with no library: the alternate screen and a hidden cursor while the view
 * runs, stdin in raw mode for single keys, and the terminal put back exactly once on every
 * way out (a key, a signal, an error, or the process exiting for any other reason).
 * @module
 */
import { writeSync } from 'node:fs';

/** A key as sockdiag-top understands it: a printable character or a named key. */
export type Key = string;

const ENTER = '\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J';
const LEAVE = '\x1b[0m\x1b[?25h\x1b[?1049l';

const NAMED: Readonly<Record<string, Key>> = {
  '\x1b[A': 'up', '\x1bOA': 'up', '\x1b[B': 'down', '\x1bOB': 'down',
  '\x1b[5~': 'pageup', '\x1b[6~': 'pagedown',
  '\x1b[H': 'home', '\x1bOH': 'home', '\x1b[1~': 'home', '\x1b[7~': 'home',
  '\x1b[F': 'end', '\x1bOF': 'end', '\x1b[4~': 'end', '\x1b[8~': 'end',
};

/**
 * The keys in a chunk of raw input: escape sequences become names (`up`, `pagedown`, …;
 * unknown ones are dropped), Ctrl-C becomes `ctrl-c`, Ctrl-L `ctrl-l`, other characters
 * stand for themselves.
 */
export function parseKeys(chunk: string): Key[] {
  const keys: Key[] = [];
  for (let i = 0; i < chunk.length; ) {
    const c = chunk[i];
    if (c === '\x1b') {
      // CSI/SS3: ESC [ or ESC O, parameters, one final byte in @..~.
      const m = /^\x1b(?:\[[0-9;?]*[@-~]|O[@-~])/.exec(chunk.slice(i));
      if (m) {
        const name = NAMED[m[0]];
        if (name !== undefined) keys.push(name);
        i += m[0].length;
      } else {
        keys.push('escape');
        i++;
      }
      continue;
    }
    if (c === '\x03') keys.push('ctrl-c');
    else if (c === '\x0c') keys.push('ctrl-l');
    else if (c === '\r' || c === '\n') keys.push('enter');
    else keys.push(c);
    i++;
  }
  return keys;
}

/** The full-screen terminal: entered once, restored once. */
export class Screen {
  #entered = false;
  #restored = false;
  readonly #stdin: NodeJS.ReadStream;
  readonly #stdout: NodeJS.WriteStream;
  readonly #onExit = (): void => this.restore();

  /** Wraps the process's terminal streams. */
  constructor(stdin: NodeJS.ReadStream = process.stdin, stdout: NodeJS.WriteStream = process.stdout) {
    this.#stdin = stdin;
    this.#stdout = stdout;
  }

  /** Columns and rows now. */
  get size(): { width: number; height: number } {
    return { width: this.#stdout.columns || 80, height: this.#stdout.rows || 24 };
  }

  /**
   * Switches to the alternate screen, hides the cursor and, when stdin is a terminal, reads
   * keys in raw mode (Ctrl-C then arrives as a key, not as SIGINT). `onKey` gets each key,
   * `onResize` each change of size.
   */
  enter(onKey: (key: Key) => void, onResize: () => void): void {
    if (this.#entered) return;
    this.#entered = true;
    process.once('exit', this.#onExit);
    this.#write(ENTER);
    if (this.#stdin.isTTY) {
      this.#stdin.setRawMode(true);
      this.#stdin.setEncoding('utf8');
      this.#stdin.on('data', (chunk: string) => parseKeys(chunk).forEach(onKey));
      this.#stdin.resume();
    }
    this.#stdout.on('resize', onResize);
  }

  /** Writes a frame in one write (the renderer's text, escapes included). */
  draw(text: string): void {
    if (!this.#restored) this.#write(text);
  }

  /**
   * Leaves raw mode, shows the cursor and returns to the normal screen; synchronous, so it
   * also runs from an `exit` handler. Safe to call more than once.
   */
  restore(): void {
    if (!this.#entered || this.#restored) return;
    this.#restored = true;
    process.removeListener('exit', this.#onExit);
    if (this.#stdin.isTTY) {
      try {
        this.#stdin.setRawMode(false);
      } catch {
        // The terminal is gone (hang-up): nothing to restore there.
      }
      this.#stdin.pause();
    }
    this.#write(LEAVE);
  }

  #write(text: string): void {
    // Synchronous, whole: a frame is never interleaved with another, and the restore reaches
    // the terminal even when the process exits right after.
    const fd = (this.#stdout as unknown as { fd?: number }).fd ?? 1;
    const bytes = Buffer.from(text);
    for (let off = 0, retries = 0; off < bytes.length; ) {
      try {
        off += writeSync(fd, bytes, off);
      } catch (err) {
        // A non-blocking terminal that is full: retry a while; gone (hang-up): give up.
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || ++retries > 10_000) return;
      }
    }
  }
}
