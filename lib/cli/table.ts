/**
 * ss's text layout, reproduced exactly. ss does not print rows as it gets them: it stores
 * every cell ("token") in a buffer of 1 MiB chunks, measures each column's widest cell,
 * and prints ("renders") the buffer once the listing ends, padding cells to those widths.
 * So that memory stays bounded, it also renders at the start of a row whenever five chunks
 * are in use; the widths carry over (they only grow), so later batches can be wider than
 * earlier ones. This module keeps the same books (the chunk arithmetic included) so that
 * it renders at the same rows with the same widths: output is streamed in those batches,
 * and the text is byte-for-byte ss's whatever the size of the listing.
 *
 * Quirks kept on purpose: the last row's final cell is never measured (ss measures a cell
 * when the next one starts), cells are measured in bytes, and when stdout is a terminal the
 * spare width is spread over the columns (ss's `render_calc_width`).
 * @module
 */

/** One printed row, split into ss's columns. */
export interface Row {
  /** Netid column (`tcp`, `u_str`, …; empty for an SCTP association line). */
  netid: string;
  /** State column (`ESTAB`, …). */
  state: string;
  /** Recv-Q (ss pads it to 6 with `%-6d`; this module does that). */
  recvQ: string;
  /** Send-Q (padded like Recv-Q). */
  sendQ: string;
  /** Local address with its delimiter (`127.0.0.1:`, `[::1]:`, `/path `). */
  localAddr: string;
  /** Local port. */
  localPort: string;
  /** Peer address with its delimiter. */
  peerAddr: string;
  /** Peer port. */
  peerPort: string;
  /** Everything after the peer: process, timers, -e fields, the `\n\t` lines of -i… */
  process: string;
}

/**
 * Where a row is written cell by cell: each cell's bytes go into `out`, and `endCell`
 * closes it, in {@link Row}'s order.
 */
export interface RowSink {
  /** The buffer the current cell is written into. */
  readonly out: CellWriter;
  /** Ends the cell written since the previous one. */
  endCell(): void;
}

/** Writes a row given as strings into `sink`, cell by cell in the column order. */
export function writeRowCells(sink: RowSink, r: Row): void {
  const out = sink.out;
  for (const cell of [r.netid, r.state, r.recvQ, r.sendQ, r.localAddr, r.localPort, r.peerAddr, r.peerPort, r.process]) {
    out.text(cell);
    sink.endCell();
  }
}

type Align = 'left' | 'right';

interface Column {
  key: keyof Row | undefined;
  header: string;
  /** Delimiter printed before the cell unless it starts the line. */
  ldelim: string;
  align: Align;
  disabled: boolean;
  /** Widest measured cell, in bytes. */
  maxLen: number;
  width: number;
  /** Index of the column among all columns (enabled or not). */
  position: number;
}

/** Which columns a listing shows. */
export interface LayoutOptions {
  /** The Netid column (ss shows it when several tables are selected). */
  netid: boolean;
  /** The State column (shown unless a single state is selected). */
  state: boolean;
  /** Recv-Q and Send-Q (hidden by -Q). */
  queues: boolean;
  /** The title line (-H turns it off). */
  header: boolean;
  /** Terminal width when stdout is a terminal; undefined for a pipe or file (no padding to the screen). */
  screenWidth?: number;
}

// Each chunk holds 1 MiB minus its header (two pointers); each cell takes a 2-byte length
// and its bytes, aligned to 2. ss renders at a row start once this many chunks are in use.
const CHUNK_DATA = 1024 * 1024 - 16;
const CHUNKS_BEFORE_RENDER = 5;
// Positions of columns in a Row (and in ss's column table).
const RECVQ_POSITION = 2;
const SENDQ_POSITION = 3;
const PROCESS_POSITION = 8;
const TOKEN_MAX = 0xffff;

// Cells are copied into this buffer as they come (as ss copies them into its chunks), so
// that no string outlives its row: thousands of retained strings made every young-generation
// GC copy them. It starts at ss's five chunks and grows for cells longer than that.
// Rendering writes the text after the cells, in the same buffer: room for both, and padding.
const INITIAL_CELL_BYTES = 3 * (CHUNKS_BEFORE_RENDER * 1024 * 1024 + 64 * 1024);
/**
 * Buffer's own encoder, which Buffer#write calls after checking its arguments: called
 * straight, it saves that work on the two million cells of a 100k-socket listing.
 */
interface NodeBuffer {
  utf8Write(text: string, offset: number): number;
}

// Cells buffered before the first render of a long listing are about this many (~24 bytes each).
const INITIAL_CELLS = 256 * 1024;
// Cells shorter than this are copied byte by byte: cheaper than a call into Buffer.copy.
const SHORT_COPY = 24;
// TypedArray's fill, without Buffer#fill's argument handling.
const fillBytes = Uint8Array.prototype.fill;
// Padding shorter than this is written byte by byte: most cells need a few spaces.
const SHORT_PAD = 16;

/** Writes `n` spaces at `pos`; returns where they end. */
function pad(buf: Buffer, pos: number, n: number): number {
  if (n < SHORT_PAD) {
    for (let i = 0; i < n; i++) buf[pos++] = 0x20;
    return pos;
  }
  fillBytes.call(buf, 0x20, pos, pos + n);
  return pos + n;
}

// Decimal digits of 0..99, two per entry, for writing numbers two digits at a time.
const DIGIT_PAIRS = Buffer.from(Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0')).join(''), 'latin1');
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
// Room every number writer asks for: 2^64 has 20 digits.
const NUMBER_ROOM = 24;

/** Writes a non-negative integer below 2^53 in decimal at `pos`; returns where it ends (room is the caller's). */
function writeDigits(b: Buffer, pos: number, n: number): number {
  if (n < 10) {
    b[pos] = 48 + n;
    return pos + 1;
  }
  if (n <= 0x7fffffff) return writeSmallDigits(b, pos, n | 0);
  let digits = 2;
  for (let t = n; t >= 100; t = Math.floor(t / 10)) digits++;
  const end = pos + digits;
  let p = end;
  let t = n;
  while (t >= 100) {
    const q = Math.floor(t / 100);
    const r = (t - q * 100) * 2;
    b[--p] = DIGIT_PAIRS[r + 1];
    b[--p] = DIGIT_PAIRS[r];
    t = q;
  }
  if (t >= 10) {
    b[--p] = DIGIT_PAIRS[t * 2 + 1];
    b[--p] = DIGIT_PAIRS[t * 2];
  } else {
    b[--p] = 48 + t;
  }
  return end;
}

/** {@link writeDigits} for 10 <= n < 2^31, in int32 arithmetic (which V8 divides without floating point). */
function writeSmallDigits(b: Buffer, pos: number, n: number): number {
  const digits = n < 100 ? 2 : n < 1000 ? 3 : n < 10000 ? 4 : n < 100000 ? 5 : n < 1000000 ? 6 : n < 10000000 ? 7 : n < 100000000 ? 8 : n < 1000000000 ? 9 : 10;
  const end = pos + digits;
  let p = end;
  let t = n;
  while (t >= 100) {
    const q = (t / 100) | 0;
    const r = (t - q * 100) << 1;
    b[--p] = DIGIT_PAIRS[r + 1];
    b[--p] = DIGIT_PAIRS[r];
    t = q;
  }
  if (t >= 10) {
    b[--p] = DIGIT_PAIRS[(t << 1) + 1];
    b[--p] = DIGIT_PAIRS[t << 1];
  } else {
    b[--p] = 48 + t;
  }
  return end;
}

/**
 * A growable byte buffer that cells are written into: text, and numbers as ASCII digits
 * straight from their values, so that a row's cells need no intermediate strings.
 */
export class CellWriter {
  /** The bytes; replaced by a bigger buffer when a write needs more room. */
  buf: Buffer;
  /** Where the next byte goes. */
  pos = 0;

  /** @param size initial capacity in bytes. */
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Makes room for `more` bytes after `pos`. */
  ensure(more: number): void {
    if (this.buf.length - this.pos >= more) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + more));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  /** Appends text in UTF-8. */
  text(s: string): void {
    const n = s.length;
    if (n === 0) return;
    this.ensure(n * 3);
    if (n < SHORT_COPY) {
      // Short ASCII text (addresses, names) is cheaper to copy by hand than to encode.
      const b = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) {
          this.pos += (b as unknown as NodeBuffer).utf8Write(s, this.pos);
          return;
        }
        b[p++] = c;
      }
      this.pos = p;
      return;
    }
    this.pos += (this.buf as unknown as NodeBuffer).utf8Write(s, this.pos);
  }

  /** Appends one byte (an ASCII character code). */
  byte(c: number): void {
    this.ensure(1);
    this.buf[this.pos++] = c;
  }

  /** Appends bytes copied from `src[start, end)`. */
  copy(src: Buffer, start: number, end: number): void {
    this.ensure(end - start);
    const b = this.buf;
    let p = this.pos;
    for (let i = start; i < end; i++) b[p++] = src[i];
    this.pos = p;
  }

  /** Appends pre-encoded ASCII bytes (a literal piece of text). */
  ascii(bytes: Uint8Array): void {
    const n = bytes.length;
    this.ensure(n);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) b[p++] = bytes[i];
    this.pos = p;
  }

  /** Appends a non-negative integer below 2^53 in decimal. */
  uint(n: number): void {
    this.ensure(NUMBER_ROOM);
    this.pos = writeDigits(this.buf, this.pos, n);
  }

  /** Appends a label (pre-encoded ASCII) and a non-negative integer below 2^53: ` cwnd:10`. */
  field(label: Uint8Array, n: number): void {
    const len = label.length;
    this.ensure(len + NUMBER_ROOM);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < len; i++) b[p++] = label[i];
    this.pos = writeDigits(b, p, n);
  }

  /** Appends a signed 32-bit integer in decimal (C's `%d`). */
  int(n: number): void {
    if (n < 0) {
      this.byte(0x2d);
      this.uint(-n);
    } else {
      this.uint(n);
    }
  }

  /** Appends an unsigned 32-bit integer in lower-case hex, at least `width` digits (zero-padded). */
  hex(n: number, width = 1): void {
    this.ensure(NUMBER_ROOM);
    let digits = 1;
    for (let t = n >>> 4; t !== 0; t >>>= 4) digits++;
    if (digits < width) digits = width;
    const b = this.buf;
    let p = this.pos + digits;
    this.pos = p;
    for (let t = n >>> 0, i = 0; i < digits; i++, t >>>= 4) b[--p] = HEX_DIGITS[t & 15];
  }
}

/**
 * Lays rows out as ss 6.1 does and hands the text to `write` batch by batch (ss's render
 * points). Call {@link TableRenderer.row} per socket, then {@link TableRenderer.end}.
 */
export class TableRenderer implements RowSink {
  private readonly columns: Column[];
  /**
   * The cells buffered since the last render, in order, enabled columns only (every
   * line has one per column, but the last line lacks the final empty one, as in ss):
   * rendering just cycles through the columns, as ss's does.
   */
  readonly out = new CellWriter(INITIAL_CELL_BYTES);
  /**
   * Where each buffered cell starts in `data`, and its byte length as measured (and
   * printed): typed arrays kept across renders, as plain arrays of 200k cells cost more to grow.
   */
  private starts = new Int32Array(INITIAL_CELLS);
  private lens = new Int32Array(INITIAL_CELLS);
  /** Number of cells buffered. */
  private count = 0;
  // ss's buffer books: chunks in use, where the current cell starts, its length, the chunk's end.
  private chunks = 0;
  private tokenStart = 0;
  private tokenLen = 0;
  private chunkEnd = 0;
  /** Position (in {@link Row}'s order) of the cell that the next {@link TableRenderer.endCell} ends. */
  private next = 0;
  /** Where the cell being written starts in `out`. */
  private cellStart = 0;
  /** Which column ss's cursor is on: the one whose cell is still open (not yet measured). */
  private open: 'none' | 'ext' | 'proc' = 'none';
  private readonly enabled: Column[];
  private readonly extIndex: number;
  private readonly screenWidth: number | undefined;

  /**
   * @param opts the columns shown.
   * @param write receives the bytes of each render.
   * @param written says, after `write` returned, whether those bytes have left the process
   *   (then the buffer is reused for the next batch instead of a fresh one; default: never).
   */
  constructor(
    opts: LayoutOptions,
    private readonly write: (text: Buffer) => void,
    private readonly written: () => boolean = () => false,
  ) {
    this.screenWidth = opts.screenWidth;
    let position = 0;
    const col = (key: keyof Row | undefined, header: string, ldelim: string, align: Align, disabled = false): Column => ({ key, header, ldelim, align, disabled, maxLen: 0, width: 0, position: position++ });
    this.columns = [
      col('netid', 'Netid', '', 'left', !opts.netid),
      col('state', 'State', ' ', 'left', !opts.state),
      col('recvQ', 'Recv-Q', ' ', 'left', !opts.queues),
      col('sendQ', 'Send-Q', ' ', 'left', !opts.queues),
      col('localAddr', 'Local Address:', ' ', 'right'),
      col('localPort', 'Port', '', 'left'),
      col('peerAddr', 'Peer Address:', ' ', 'right'),
      col('peerPort', 'Port', '', 'left'),
      col('process', 'Process', '', 'left'),
      // ss's last column: never written, always an empty cell at the end of a line.
      col(undefined, '', '', 'left'),
    ];
    this.enabled = this.columns.filter((c) => !c.disabled);
    this.extIndex = this.enabled.findIndex((c) => c.key === 'process');
    if (opts.header) this.header();
  }

  private header(): void {
    this.startLine();
    for (const c of this.enabled) {
      if (c.key === undefined) break;
      this.cellStart = this.out.pos;
      this.out.text(c.header);
      this.finish(true, 0);
      this.measure(c, this.lastLen());
      this.nextToken();
    }
    // ss's cursor now rests on the last column's (empty) cell.
    this.emptyCell();
    this.open = 'proc';
  }

  /** Adds one socket's row (the buffer may be rendered first, as ss does at that point). */
  row(r: Row): void {
    this.beginRow();
    writeRowCells(this, r);
  }

  /**
   * Starts a socket's row written cell by cell: write each cell of {@link Row}, in its
   * order, into {@link TableRenderer.out} and end it with {@link TableRenderer.endCell}.
   * The buffer may be rendered first, as ss does at that point.
   */
  beginRow(): void {
    if (this.open === 'ext') {
      // The previous row's last cell is measured only now, and its line gets the empty last column.
      this.measure(this.enabled[this.extIndex], this.lastLen());
      this.nextToken();
      this.emptyCell();
      this.open = 'proc';
    }
    if (this.open === 'proc') {
      if (this.chunks >= CHUNKS_BEFORE_RENDER) this.render();
      else this.nextToken();
    }
    this.startLine();
    this.next = 0;
    this.cellStart = this.out.pos;
  }

  /** Ends the cell written since the previous one; a hidden column's cell is dropped. */
  endCell(): void {
    const position = this.next++;
    const c = this.columns[position];
    if (c.disabled) {
      this.out.pos = this.cellStart;
      return;
    }
    if (position === PROCESS_POSITION) {
      // ss writes nothing at all into the last cell when the row has no extra text.
      this.finish(this.out.pos > this.cellStart, 0);
      this.open = 'ext';
      return;
    }
    // ss prints the queues with %-6d.
    this.finish(true, position === RECVQ_POSITION || position === SENDQ_POSITION ? 6 : 0);
    this.measure(c, this.lastLen());
    this.nextToken();
  }

  /** Renders what is buffered now (ss does so after each -E event). */
  flush(): void {
    this.render();
  }

  /** Renders the rest (call once, after the last row). */
  end(): void {
    this.render();
  }

  private startLine(): void {
    if (this.chunks === 0) this.newChunk();
  }

  /**
   * Books the cell written into `out` since `cellStart` into the current token, padded with
   * spaces to `minLen` bytes; `written` says whether ss calls out() for it at all.
   */
  private finish(written: boolean, minLen: number): void {
    const out = this.out;
    const start = this.cellStart;
    let len = 0;
    if (written) {
      len = out.pos - start;
      if (len < minLen) {
        out.ensure(minLen - len);
        const data = out.buf;
        while (len < minLen) data[start + len++] = 0x20;
        out.pos = start + len;
      }
      // ss moves a token that does not fit (with room for vsnprintf's NUL) to a new chunk.
      if (this.tokenStart !== 0 && this.chunkEnd + len >= CHUNK_DATA) this.newChunk();
      // ss cuts what does not fit (bytes, not characters).
      len = Math.min(len, CHUNK_DATA - this.chunkEnd, TOKEN_MAX);
      this.tokenLen = len;
      this.chunkEnd += len;
    }
    this.push(start, len);
    this.cellStart = out.pos;
  }

  private push(start: number, len: number): void {
    const k = this.count;
    if (k === this.lens.length) {
      const starts = new Int32Array(k * 2);
      starts.set(this.starts);
      this.starts = starts;
      const lens = new Int32Array(k * 2);
      lens.set(this.lens);
      this.lens = lens;
    }
    this.starts[k] = start;
    this.lens[k] = len;
    this.count = k + 1;
  }

  /** Byte length of the last buffered cell. */
  private lastLen(): number {
    return this.lens[this.count - 1];
  }

  /** The empty last cell of a line (ss never writes into it). */
  private emptyCell(): void {
    this.push(this.out.pos, 0);
  }

  private measure(c: Column, len: number): void {
    if (len > c.maxLen) c.maxLen = len;
  }

  /** Ends the current token and starts the next (ss's field_flush). */
  private nextToken(): void {
    const pad = this.tokenLen % 2;
    if (CHUNK_DATA - this.chunkEnd - pad < 2) {
      this.tokenLen = 0;
      this.newChunk();
      return;
    }
    this.tokenStart += 2 + this.tokenLen + pad;
    this.tokenLen = 0;
    this.chunkEnd = this.tokenStart + 2;
  }

  private newChunk(): void {
    this.chunks++;
    this.tokenStart = 0;
    // A token being written moves along with its bytes so far.
    this.chunkEnd = 2 + this.tokenLen;
  }

  private calcWidths(): void {
    const screen = this.screenWidth;
    let first = true;
    for (const c of this.columns) {
      if (c.disabled) continue;
      c.width = !first && c.maxLen ? c.maxLen + c.ldelim.length : c.maxLen;
      if (screen !== undefined) c.width = Math.min(c.width, screen);
      if (c.width) first = false;
    }
    if (screen === undefined) return;
    // A terminal: break lines that do not fit and spread the spare width over the columns.
    let len = 0;
    let lineCols = 0;
    let eol = -1;
    for (let i = 0; i < this.columns.length; i++) {
      const c = this.columns[i];
      if (!c.width) continue;
      lineCols++;
      len += c.width;
      const last = !this.columns.slice(i + 1).some((t) => t.width);
      if (!last && len < screen) continue;
      if (len !== screen) {
        if (len > screen) {
          len -= c.width;
          i--;
          lineCols--;
        }
        const pad = screen - len;
        const spacing = Math.floor(pad / lineCols);
        let rem = pad % lineCols;
        for (let t = i; t > eol; t--) {
          const tc = this.columns[t];
          if (!tc.width) continue;
          tc.width += spacing;
          if (rem) {
            tc.width++;
            rem--;
          }
        }
      }
      eol = i;
      len = 0;
      lineCols = 0;
    }
  }

  private render(): void {
    const count = this.count;
    if (count === 0) return;
    this.calcWidths();
    const enabled = this.enabled;
    const last = enabled.length - 1;
    const starts = this.starts;
    const lens = this.lens;
    // ss starts at the first column with a width, then cycles through the enabled columns.
    let first = 0;
    while (first < enabled.length && !enabled[first].width) first++;
    // Two passes over the cells: the size of the text, then the bytes, written straight into
    // one buffer (much cheaper than building and then encoding a string of megabytes).
    let size = 0;
    let f = first;
    let lineStarted = false;
    for (let k = 0; k < count; k++) {
      const c = enabled[f];
      let printed = lineStarted ? c.ldelim.length : 0;
      lineStarted = true;
      if (c.width && c.align === 'right' && c.width - lens[k] - printed > 0) printed = c.width - lens[k];
      printed += lens[k];
      if (c.width && c.align === 'left' && c.width > printed) printed = c.width;
      size += printed;
      if (f === last) {
        size++;
        f = 0;
        lineStarted = false;
      } else {
        f++;
      }
    }
    if (lineStarted) size++;
    // The text goes into the cell buffer right after the cells (memmove within one buffer is
    // a plain call, where Buffer#copy allocates a view per cell), and that buffer is handed
    // to `write`: the cells go on in a new one.
    const out = this.out;
    const dataEnd = out.pos;
    out.ensure(size);
    const buf = out.buf;
    let pos = dataEnd;
    f = first;
    lineStarted = false;
    for (let k = 0; k < count; k++) {
      const c = enabled[f];
      let printed = 0;
      if (lineStarted && c.ldelim.length > 0) {
        buf[pos++] = 0x20;
        printed = 1;
      }
      lineStarted = true;
      const len = lens[k];
      if (c.width && c.align === 'right') {
        const sp = c.width - len - printed;
        if (sp > 0) {
          pos = pad(buf, pos, sp);
          printed += sp;
        }
      }
      if (len >= SHORT_COPY) {
        buf.copyWithin(pos, starts[k], starts[k] + len);
        pos += len;
      } else {
        for (let i = starts[k], e = i + len; i < e; i++) buf[pos++] = buf[i];
      }
      printed += len;
      if (c.width && c.align === 'left' && c.width > printed) pos = pad(buf, pos, c.width - printed);
      if (f === last) {
        buf[pos++] = 0x0a;
        f = 0;
        lineStarted = false;
      } else {
        f++;
      }
    }
    if (lineStarted) buf[pos++] = 0x0a;
    out.pos = 0;
    this.cellStart = 0;
    this.count = 0;
    this.chunks = 0;
    this.tokenStart = 0;
    this.tokenLen = 0;
    this.chunkEnd = 0;
    this.open = 'none';
    this.write(buf.subarray(dataEnd, pos));
    // Fresh memory costs a page fault per 4 KiB: keep the buffer when nothing holds it any more.
    if (!this.written()) out.buf = Buffer.allocUnsafe(buf.length);
  }
}
