/**
 * Errors of the filter language: where in the text the problem is, and what was wrong.
 * @module
 */
import { SockdiagError } from '../errors';

/**
 * Common shape of the filter errors: the text, the 0-based position of the offending token
 * in it, and the token itself. Not thrown directly.
 */
export class FilterError extends SockdiagError {
  /** 0-based offset of the offending token in {@link FilterError.input} (its length at end of input). */
  position: number;
  /** The offending token as written (backslash escapes removed); `''` at end of input. */
  token: string;
  /** The whole filter text the position refers to. */
  input: string;
  /** The exit status `ss` uses for this kind of error: 255 for syntax, 1 for a bad value. */
  exitStatus: 1 | 255;
  /** Creates the error. @param detail the message without the position. */
  constructor(detail: string, code: string, exitStatus: 1 | 255, input: string, position: number, token: string) {
    super(detail, code);
    this.input = input;
    this.position = position;
    this.token = token;
    this.exitStatus = exitStatus;
  }
}
Object.defineProperty(FilterError.prototype, 'name', { value: 'FilterError', enumerable: false, writable: true, configurable: true });

/** A token as a message quotes it: at most 40 characters, and the length of a longer one. */
function quote(token: string): string {
  return token.length > 40 ? `'${token.slice(0, 40)}…' (${token.length} characters)` : `'${token}'`;
}

/** The filter text does not follow the grammar (ss exits 255 for these). */
export class FilterSyntaxError extends FilterError {
  /** A short description of what the grammar allowed at {@link FilterError.position}. */
  expected: string;
  /** Creates the error. @param expected what the grammar allowed there, e.g. `"')'"`. */
  constructor(input: string, position: number, token: string, expected: string, hint?: string) {
    const found = token === '' ? 'end of filter' : quote(token);
    super(`unexpected ${found} at ${position}: expected ${expected}${hint ? ` (${hint})` : ''}`, 'ERR_SOCKDIAG_FILTER_SYNTAX', 255, input, position, token);
    this.expected = expected;
  }
}
Object.defineProperty(FilterSyntaxError.prototype, 'name', { value: 'FilterSyntaxError', enumerable: false, writable: true, configurable: true });

/**
 * A value in the filter is malformed or out of range: address, prefix, port, service name,
 * mark, device, cgroup path, family name (ss exits 1 for these).
 */
export class FilterValueError extends FilterError {
  /** Creates the error. @param reason why the value is bad, e.g. `port 70000 is out of range (0-65535)`. */
  constructor(input: string, position: number, token: string, reason: string) {
    super(`bad value ${quote(token)} at ${position}: ${reason}`, 'ERR_SOCKDIAG_FILTER_VALUE', 1, input, position, token);
  }
}
Object.defineProperty(FilterValueError.prototype, 'name', { value: 'FilterValueError', enumerable: false, writable: true, configurable: true });

/**
 * Renders a filter error as a compiler does: the filter text, a caret (and tildes along the
 * token) under the position, then the message. Tabs and other control characters in the
 * text are shown as spaces so that the caret lines up.
 */
export function formatFilterError(err: FilterError): string {
  // A long filter is shown as the part around the position (a message stays a few lines).
  const from = err.input.length > WINDOW ? Math.max(0, err.position - WINDOW / 2) : 0;
  const to = Math.min(err.input.length, from + WINDOW);
  const before = from > 0 ? '…' : '';
  const line = before + err.input.slice(from, to).replace(/[\t\n\r\v\f]/g, ' ') + (to < err.input.length ? '…' : '');
  const at = before.length + err.position - from;
  // The token as written may be longer than err.token (escapes); underline what is in the text.
  const width = Math.max(1, Math.min(writtenLength(err.input, err.position), to - err.position));
  const marker = ' '.repeat(at) + '^' + '~'.repeat(Math.max(0, width - 1));
  return `${line}\n${marker}\n${err.name}: ${err.message}`;
}

// Characters of a long filter shown around an error's position.
const WINDOW = 160;

/** Length of the whitespace-delimited word starting at `pos` (a backslash keeps the next character in it). */
function writtenLength(text: string, pos: number): number {
  let i = pos;
  while (i < text.length && !/[ \t\n\r]/.test(text[i])) i += text[i] === '\\' ? 2 : 1;
  return Math.min(i, text.length) - pos;
}
