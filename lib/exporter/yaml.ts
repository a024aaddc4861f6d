/**
 * The part of YAML that configuration files like the web config use: block mappings and
 * sequences by indentation, plain, single- and double-quoted scalars, flow sequences of
 * scalars (`[a, b]`), literal block scalars (`|`, `|-`, `|+`, for inline PEM), comments and a
 * leading `---`. Anything else (anchors, aliases, tags, folded scalars, flow mappings, several
 * documents) is refused with its line number rather than guessed at. Scalars stay strings.
 * @module
 */

/** A parsed value: a string, null (an empty value), a list or a mapping. */
export type YamlValue = string | null | YamlValue[] | { [key: string]: YamlValue };

/** A YAML text this module cannot read, with its 1-based line. */
export class YamlError extends Error {
  /** Creates the error. */
  constructor(
    message: string,
    /** 1-based line number. */
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
  }
}
Object.defineProperty(YamlError.prototype, 'name', { value: 'YamlError', enumerable: false, writable: true, configurable: true });

interface Line {
  indent: number;
  text: string;
  no: number;
}

/** Parses `text`; an empty document is null. */
export function parseYaml(text: string): YamlValue {
  const raw = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let i = 0;

  const isContent = (s: string): boolean => s.trim() !== '' && !s.trimStart().startsWith('#');
  /** The next line with content, skipping blanks and comments. */
  const peek = (): Line | undefined => {
    while (i < raw.length && !isContent(raw[i])) i++;
    if (i >= raw.length) return undefined;
    const s = raw[i];
    const indent = s.length - s.trimStart().length;
    if (s.slice(0, indent).includes('\t')) throw new YamlError('tabs cannot indent YAML', i + 1);
    return { indent, text: s.trim(), no: i + 1 };
  };

  const first = peek();
  if (first?.text === '---' && first.indent === 0) i++;
  const start = peek();
  if (start === undefined) return null;
  const value = block(start.indent);
  const rest = peek();
  if (rest !== undefined) throw new YamlError(rest.text === '---' || rest.text === '...' ? 'only one document is supported' : 'unexpected indentation', rest.no);
  return value;

  function isItem(t: string): boolean {
    return t === '-' || t.startsWith('- ');
  }

  /** A mapping or sequence whose entries start at column `indent`. */
  function block(indent: number): YamlValue {
    const l = peek() as Line;
    return isItem(l.text) ? sequence(indent) : mapping(indent);
  }

  function sequence(indent: number): YamlValue[] {
    const out: YamlValue[] = [];
    for (let l = peek(); l !== undefined && l.indent === indent && isItem(l.text); l = peek()) {
      i++;
      const rest = l.text.slice(1).trim();
      if (rest === '') out.push(nested(indent));
      else if (/^[^'"[{][^#]*?:(\s|$)/.test(rest)) throw new YamlError('mappings inside lists are not supported', l.no);
      else out.push(inline(rest, l.no, indent));
    }
    return out;
  }

  function mapping(indent: number): { [key: string]: YamlValue } {
    const out: { [key: string]: YamlValue } = {};
    for (let l = peek(); l !== undefined && l.indent === indent && !isItem(l.text); l = peek()) {
      i++;
      const m = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^'"#][^#]*?)\s*:(?:\s+(.*))?$/.exec(l.text);
      if (m === null) throw new YamlError(`expected 'key: value', got '${l.text}'`, l.no);
      const key = m[1].startsWith('"') || m[1].startsWith("'") ? quoted(m[1], l.no) : m[1];
      if (Object.prototype.hasOwnProperty.call(out, key)) throw new YamlError(`duplicate key '${key}'`, l.no);
      const rest = (m[2] ?? '').trim();
      if (rest === '' || rest.startsWith('#')) {
        const next = peek();
        // A list may sit at the key's own indentation.
        out[key] = next !== undefined && next.indent === indent && isItem(next.text) ? sequence(indent) : nested(indent);
      } else {
        out[key] = inline(rest, l.no, indent);
      }
    }
    return out;
  }

  /** The block under a key or dash at `indent` (null when none). */
  function nested(indent: number): YamlValue {
    const next = peek();
    if (next === undefined || next.indent <= indent) return null;
    return block(next.indent);
  }

  /** A value written on the key's line. */
  function inline(text: string, no: number, indent: number): YamlValue {
    const c = text[0];
    if (c === '"' || c === "'") {
      const m = c === '"' ? /^"(?:[^"\\]|\\.)*"/.exec(text) : /^'(?:[^']|'')*'/.exec(text);
      if (m === null) throw new YamlError('unterminated quoted string (multi-line strings are not supported)', no);
      const after = text.slice(m[0].length).trim();
      if (after !== '' && !after.startsWith('#')) throw new YamlError(`unexpected text after a quoted string: '${after}'`, no);
      return quoted(m[0], no);
    }
    if (c === '[') {
      const body = stripComment(text);
      if (!body.endsWith(']')) throw new YamlError('flow lists must close on their line', no);
      const inner = body.slice(1, -1).trim();
      if (inner === '') return [];
      const items = inner.match(/"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^,]+/g) ?? [];
      return items.map((x) => x.trim()).filter((x) => x !== ',').map((x) => (x.startsWith('"') || x.startsWith("'") ? quoted(x, no) : plain(x, no)));
    }
    if (c === '{') {
      if (stripComment(text) === '{}') return {};
      throw new YamlError('flow mappings are not supported', no);
    }
    if (c === '|') return literal(text, no, indent);
    return plain(stripComment(text), no);
  }

  /** A literal block scalar (`|`, `|-`, `|+`) whose lines are indented past `indent`. */
  function literal(header: string, no: number, indent: number): string {
    const m = /^\|([+-]?)\s*(#.*)?$/.exec(header);
    if (m === null) throw new YamlError(`unsupported block scalar header '${header}'`, no);
    const lines: string[] = [];
    let width = -1;
    while (i < raw.length) {
      const s = raw[i];
      if (s.trim() === '') {
        lines.push('');
        i++;
        continue;
      }
      const ind = s.length - s.trimStart().length;
      if (ind <= indent) break;
      if (width < 0) width = ind;
      if (ind < width) break;
      lines.push(s.slice(width));
      i++;
    }
    // Trailing blank lines belong to the chomping rule, not the text.
    let end = lines.length;
    while (end > 0 && lines[end - 1] === '') end--;
    const body = lines.slice(0, end).join('\n');
    if (m[1] === '-') return body;
    if (m[1] === '+') return `${body}\n${lines.slice(end).map(() => '\n').join('')}`;
    return body === '' ? '' : `${body}\n`;
  }
}

function stripComment(text: string): string {
  const m = /(^|\s)#/.exec(text);
  return (m === null ? text : text.slice(0, m.index)).trim();
}

function plain(text: string, no: number): YamlValue {
  if (/^[&*!>%@`]/.test(text)) throw new YamlError(`anchors, aliases, tags and folded scalars are not supported: '${text}'`, no);
  if (text === '' || text === '~' || text === 'null') return null;
  return text;
}

function quoted(text: string, no: number): string {
  if (text.startsWith("'")) return text.slice(1, -1).replace(/''/g, "'");
  const escapes: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', '/': '/', '0': '\0', ' ': ' ' };
  return text.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)/g, (_, e: string) => {
    if (e.length > 1) return String.fromCodePoint(parseInt(e.slice(1), 16));
    const r = escapes[e];
    if (r === undefined) throw new YamlError(`unknown escape '\\${e}'`, no);
    return r;
  });
}
