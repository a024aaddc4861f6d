/**
 * The Prometheus exposition formats, written without prom-client: the text format 0.0.4 and
 * OpenMetrics 1.0.0, chosen from a scraper's `Accept` header.
 *
 * A gauge histogram (a distribution of what exists now, e.g. the RTT of the connections open
 * at the scrape) is written as OpenMetrics' `gaugehistogram` (`_bucket{le}`, `_gsum`,
 * `_gcount`). The text format has no such type, so there it is three families with the same
 * series names: `_bucket` untyped (promtool's lint reserves `_bucket` and `le` for
 * histograms, and untyped is exempt), `_gsum` and `_gcount` gauges. Either way nothing is a
 * histogram or counter that could decrease, and queries are the same whatever was negotiated.
 * @module
 */
import type { Distribution } from './snapshot';

/** Types a family can have. */
export type FamilyType = 'gauge' | 'counter' | 'gaugehistogram' | 'untyped';

/** Label names to values. */
export type Labels = Readonly<Record<string, string>>;

/** One series of a gauge, counter or untyped family. */
export interface Sample {
  /** Its labels. */
  labels: Labels;
  /** Its value. */
  value: number;
}

/** One series of a gauge histogram: the distribution and its labels (`le` is added per bucket). */
export interface HistogramSample {
  /** Its labels. */
  labels: Labels;
  /** Bucket bounds, counts, sum and count. */
  dist: Distribution;
}

/** One metric family, ready to write. */
export interface FamilyData {
  /** Full name (a counter's ends in `_total`). */
  name: string;
  /** HELP text. */
  help: string;
  /** Type. */
  type: FamilyType;
  /** Series of gauges, counters and untyped families. */
  samples: Sample[];
  /** Series of a gauge histogram. */
  histograms?: HistogramSample[];
}

/** The two formats. */
export type ExpositionFormat = 'text' | 'openmetrics';

/** Content-Type of each format. */
export const CONTENT_TYPES: Readonly<Record<ExpositionFormat, string>> = {
  text: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

/**
 * The format to answer an `Accept` header with: OpenMetrics when the client ranks it above
 * the text format (Prometheus asks for it first), else text (also for no header).
 */
export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  if (accept === undefined) return 'text';
  let om = 0;
  let text = 0;
  for (const part of accept.split(',')) {
    const [range, ...params] = part.split(';').map((x) => x.trim().toLowerCase());
    let q = 1;
    let version: string | undefined;
    for (const p of params) {
      const [k, v] = p.split('=').map((x) => x.trim());
      if (k === 'q') q = Number(v);
      else if (k === 'version') version = v;
    }
    if (!(q > 0)) continue;
    if (range === 'application/openmetrics-text' && (version === undefined || version === '1.0.0' || version === '0.0.1')) om = Math.max(om, q);
    else if ((range === 'text/plain' && (version === undefined || version === '0.0.4')) || range === 'text/*' || range === '*/*') text = Math.max(text, q);
  }
  return om > text ? 'openmetrics' : 'text';
}

/** The families expanded for a format without gauge histograms: `X` becomes `X_bucket` (untyped), `X_gsum` and `X_gcount` (gauges). */
export function expandGaugeHistograms(families: readonly FamilyData[]): FamilyData[] {
  const out: FamilyData[] = [];
  for (const f of families) {
    if (f.type !== 'gaugehistogram') {
      out.push(f);
      continue;
    }
    const h = f.histograms ?? [];
    out.push(
      { name: `${f.name}_bucket`, help: `${f.help} Cumulative count of values ≤ le.`, type: 'untyped', samples: h.flatMap(bucketSamples) },
      { name: `${f.name}_gsum`, help: `${f.help} Sum of the values.`, type: 'gauge', samples: h.map((s) => ({ labels: s.labels, value: s.dist.sum })) },
      { name: `${f.name}_gcount`, help: `${f.help} Number of values.`, type: 'gauge', samples: h.map((s) => ({ labels: s.labels, value: s.dist.count })) },
    );
  }
  return out;
}

function bucketSamples(s: HistogramSample): Sample[] {
  const out: Sample[] = [];
  let acc = 0;
  s.dist.bounds.forEach((le, i) => {
    acc += s.dist.counts[i];
    out.push({ labels: { ...s.labels, le: String(le) }, value: acc });
  });
  out.push({ labels: { ...s.labels, le: '+Inf' }, value: s.dist.count });
  return out;
}

/** A sample value as both formats write it. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

const escapeLabel = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

function series(name: string, labels: Labels, value: number): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return `${name}${pairs.length > 0 ? `{${pairs.join(',')}}` : ''} ${formatValue(value)}\n`;
}

/** Writes the families in `format` (text 0.0.4, or OpenMetrics 1.0.0 ending in `# EOF`). */
export function formatExposition(families: readonly FamilyData[], format: ExpositionFormat): string {
  const om = format === 'openmetrics';
  let out = '';
  for (const f of om ? families : expandGaugeHistograms(families)) {
    // OpenMetrics names a counter family without its _total, which only its samples carry.
    const family = om && f.type === 'counter' ? f.name.replace(/_total$/, '') : f.name;
    const help = f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
    const type = om && f.type === 'untyped' ? 'unknown' : f.type;
    out += `# HELP ${family} ${om ? help.replace(/"/g, '\\"') : help}\n# TYPE ${family} ${type}\n`;
    const sampleName = om && f.type === 'counter' ? `${family}_total` : f.name;
    for (const s of f.samples) out += series(sampleName, s.labels, s.value);
    for (const h of f.histograms ?? []) {
      for (const b of bucketSamples(h)) out += series(`${f.name}_bucket`, b.labels, b.value);
      out += series(`${f.name}_gcount`, h.labels, h.dist.count);
      out += series(`${f.name}_gsum`, h.labels, h.dist.sum);
    }
  }
  return om ? `${out}# EOF\n` : out;
}
