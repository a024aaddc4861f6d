#!/usr/bin/env node
/**
 * `sockdiag-top`: a live, full-screen view of the connections, ranked by throughput, from
 * sock_diag's `tcp_info` counters (see {@link sampleRates}); `-b` prints plain frames.
 *
 * No terminal library: raw ANSI escapes, the alternate screen and stdin in raw mode. It
 * keeps start-up and weight down (nothing to load but the library itself), and the few
 * sequences used (cursor home, clear to end of line and screen, inverse, bold, 3 colours)
 * are the ones every terminal since the VT100 understands.
 * @module
 */
import { CliExit } from '../cli/args';
import { checkDevices } from '../cli/select';
import { FilterError, formatFilterError } from '../filter/errors';
import { sampleRates } from '../monitor/rates';
import type { Filter } from '../filter/ast';
import { GROUP_KEYS, SORT_KEYS, TopModel, type Frame, type GroupKey, type SortKey } from './model';
import { renderBatch, renderScreen, frameJson } from './render';
import { parseTopArgs, usageText, type TopConfig } from './args';
import { Screen, type Key } from './terminal';

/** Whether the locale asks for UTF-8 (block characters in sparklines). */
function unicodeLocale(env: NodeJS.ProcessEnv): boolean {
  return /utf-?8/i.test(env.LC_ALL || env.LC_CTYPE || env.LANG || '');
}

/** NO_COLOR (https://no-color.org): present and not empty turns colour off. */
function colorAllowed(env: NodeJS.ProcessEnv): boolean {
  return env.NO_COLOR === undefined || env.NO_COLOR === '';
}

/** Where batch frames go; resolves when more may be written. */
export type Write = (text: string) => void | Promise<void>;

/**
 * Batch mode: `cfg.iterations` frames (or until `signal`), as text or NDJSON, to `write`.
 * The first sample only sets the counters' baseline: every frame printed has rates.
 */
export async function runBatch(cfg: TopConfig, write: Write, signal?: AbortSignal): Promise<void> {
  const model = new TopModel(cfg.sort, cfg.group);
  const unicode = unicodeLocale(process.env);
  let frames = 0;
  const sampler = sampleRates({ ...cfg.list, interval: cfg.intervalMs, ...(signal ? { signal } : {}) });
  try {
    for await (const sample of sampler) {
      model.update(sample);
      if (sample.elapsedMs === 0) continue;
      const frame = model.frame()!;
      const p = write(cfg.json ? `${JSON.stringify(frameJson(frame, cfg.maxRows))}\n` : renderBatch(frame, { ...(cfg.maxRows === undefined ? {} : { maxRows: cfg.maxRows }), unicode }));
      if (p) await p;
      if (cfg.iterations !== undefined && ++frames >= cfg.iterations) break;
    }
  } catch (err) {
    if (!signal?.aborted) throw err;
  } finally {
    sampler.close();
  }
}

const SORT_BY_KEY: Readonly<Record<string, SortKey>> = { t: 'total', s: 'send', r: 'recv', R: 'rtt', x: 'retrans', Q: 'queue' };
const GROUP_BY_KEY: Readonly<Record<string, GroupKey>> = { c: 'none', p: 'process', H: 'peer', L: 'port' };

const step = <T>(list: readonly T[], v: T, by: number): T => list[(list.indexOf(v) + by + list.length) % list.length];

/**
 * The full-screen view until `q`, Ctrl-C, SIGINT, SIGTERM, SIGHUP or `cfg.iterations`
 * frames; resolves with the exit status. The terminal is restored on every way out.
 */
export async function runInteractive(cfg: TopConfig): Promise<number> {
  const screen = new Screen();
  const model = new TopModel(cfg.sort, cfg.group);
  const view = { paused: false, help: false, scroll: 0 };
  const env = process.env;
  const color = colorAllowed(env);
  const unicode = unicodeLocale(env);
  const sampler = sampleRates({ ...cfg.list, interval: cfg.intervalMs });
  let notice: string | undefined;
  let frame: Frame | undefined;
  let finish!: (status: number) => void;
  const done = new Promise<number>((resolve) => (finish = resolve));
  const quit = (status: number): void => {
    sampler.close();
    screen.restore();
    finish(status);
  };
  const draw = (): void => {
    frame = model.frame();
    const { width, height } = screen.size;
    screen.draw(renderScreen(frame, { width, height, color, unicode, intervalMs: cfg.intervalMs, what: cfg.what, paused: view.paused, scroll: view.scroll, help: view.help, ...(notice ? { notice } : {}) }));
  };
  const onKey = (key: Key): void => {
    if (key === 'q' || key === 'ctrl-c') return quit(0);
    const page = Math.max(1, screen.size.height - 4);
    if (view.help) view.help = false;
    else if (key === 'h' || key === '?') view.help = true;
    else if (SORT_BY_KEY[key] !== undefined) model.sort = SORT_BY_KEY[key];
    else if (key === '<' || key === '>') model.sort = step(SORT_KEYS, model.sort, key === '>' ? 1 : -1);
    else if (GROUP_BY_KEY[key] !== undefined) model.group = GROUP_BY_KEY[key];
    else if (key === 'g') model.group = step(GROUP_KEYS, model.group, 1);
    else if (key === ' ') view.paused = !view.paused;
    else if (key === 'up' || key === 'k') view.scroll = Math.max(0, view.scroll - 1);
    else if (key === 'down' || key === 'j') view.scroll = Math.min(view.scroll + 1, Math.max(0, (frame?.rows.length ?? 0) - page));
    else if (key === 'pageup') view.scroll = Math.max(0, view.scroll - page);
    else if (key === 'pagedown') view.scroll = Math.min(view.scroll + page, Math.max(0, (frame?.rows.length ?? 0) - page));
    else if (key === 'home') view.scroll = 0;
    else if (key === 'end') view.scroll = Math.max(0, (frame?.rows.length ?? 0) - page);
    else if (key === 'ctrl-l') screen.draw('\x1b[2J');
    else return;
    draw();
  };
  const onSignal = (): void => quit(0);
  const fatal = (err: unknown): void => {
    screen.restore();
    process.stderr.write(`sockdiag-top: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  };
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
  process.on('uncaughtException', fatal);
  screen.enter(onKey, draw);
  draw();
  let frames = 0;
  const pump = (async (): Promise<void> => {
    try {
      for await (const sample of sampler) {
        if (view.paused) continue;
        model.update(sample);
        const why = sampler.stats.processesError;
        notice = why === undefined ? undefined : `owners unknown: ${why instanceof Error ? why.message : String(why)}`;
        draw();
        if (cfg.iterations !== undefined && ++frames >= cfg.iterations) return quit(0);
      }
    } catch (err) {
      screen.restore();
      process.stderr.write(`sockdiag-top: ${err instanceof Error ? err.message : String(err)}\n`);
      quit(1);
    }
  })();
  const status = await done;
  await pump;
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeListener(s, onSignal);
  process.removeListener('uncaughtException', fatal);
  return status;
}

/** Runs the command with `argv` (the words after the program name); resolves with the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  let cfg: TopConfig;
  try {
    cfg = parseTopArgs(argv);
    // As ss: an unknown device in the FILTER is an error, not a filter that matches nothing.
    await checkDevices(cfg.netnsName, typeof cfg.list.filter === 'object' ? (cfg.list.filter as Filter) : undefined);
  } catch (e) {
    if (e instanceof CliExit) {
      if (e.stdout) process.stdout.write(e.stdout);
      if (e.stderr) process.stderr.write(e.stderr);
      if (e.usage) process.stderr.write(usageText());
      return e.status;
    }
    if (e instanceof FilterError) {
      process.stderr.write(`${formatFilterError(e)}\n`);
      return e.exitStatus;
    }
    throw e;
  }
  if (cfg.batch || !process.stdout.isTTY) {
    const controller = new AbortController();
    const stop = (): void => controller.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    await runBatch(cfg, (text) => (process.stdout.write(text) ? undefined : new Promise<void>((resolve) => process.stdout.once('drain', () => resolve()))), controller.signal);
    return 0;
  }
  return runInteractive(cfg);
}

if (require.main === module) {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    // The reader went away (`sockdiag-top -b | head`): stop quietly.
    if (err.code === 'EPIPE') process.exit(0);
    process.stderr.write(`sockdiag-top: stdout: ${err.message}\n`);
    process.exit(1);
  });
  main(process.argv.slice(2)).then(
    (status) => process.exit(status),
    (err: unknown) => {
      process.stderr.write(`sockdiag-top: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
