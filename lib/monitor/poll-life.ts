/**
 * The life of a polling iterator (trackSockets, sampleRates): the caller's signal, `close()`,
 * and the waits between dumps that a stop or an event cuts short. Written once for both.
 * @module
 */
import { AbortError } from '../errors';

/** Stop state, the caller's signal and an interruptible wait, for one polling iterator. */
export class PollLife {
  /** Aborted by `halt()` (close or the caller's signal): stops a dump in flight. */
  readonly stop = new AbortController();
  /** True once halted. */
  closed = false;
  #timer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;
  readonly #onAbort = (): void => this.halt(this.user?.reason);

  /**
   * @param user the caller's signal (checked to be an AbortSignal).
   * @param onHalt closes what the owner holds (its channel, its event watch), once.
   */
  constructor(
    readonly user: AbortSignal | undefined,
    private readonly onHalt: () => void,
  ) {
    if (user !== undefined && !(user instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal');
  }

  /** Follows the caller's signal from now on (halts at once when it has already fired). */
  follow(): void {
    if (this.user?.aborted) this.halt(this.user.reason);
    else this.user?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** Stops: aborts the dump in flight, closes what the owner holds, ends a wait. Safe to call twice. */
  halt(reason: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.stop.abort(reason);
    this.user?.removeEventListener('abort', this.#onAbort);
    this.onHalt();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.wake();
  }

  /** Throws the AbortError of the caller's signal when it has fired. */
  throwIfAborted(): void {
    if (this.user?.aborted) throw new AbortError(undefined, { cause: this.user.reason });
  }

  /** True when the iteration must end: throws the caller's AbortError, true after close(). */
  over(): boolean {
    this.throwIfAborted();
    return this.closed;
  }

  /** Waits `ms`, or less when {@link PollLife.wake} is called or the owner halts. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        if (this.#timer !== undefined) clearTimeout(this.#timer);
        this.#timer = undefined;
        this.#wake = undefined;
        resolve();
      };
      this.#wake = done;
      this.#timer = setTimeout(done, ms);
    });
  }

  /** Ends the current wait, if any. */
  wake(): void {
    this.#wake?.();
  }
}
