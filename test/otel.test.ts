/**
 * sockdiag/otel: the instruments on an SDK MeterProvider, read through the SDK's in-memory
 * exporter, against a private namespace with a known population checked with `ss`.
 */
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { registerSocketInstruments, INSTRUMENT_FAMILIES, QUANTILES } from '../lib/otel';
import { createNetns, describeRoot, type Netns } from './helpers/netns';
import { startMetricsPopulation, ssTcpStates, ssListenQueue, waitForFullQueue, type MetricsPopulation } from './helpers/metrics-population';

/** A provider whose reader only collects when flushed, and the exporter that keeps what it read. */
function sdk(): { provider: MeterProvider; exporter: InMemoryMetricExporter; reader: PeriodicExportingMetricReader } {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000, exportTimeoutMillis: 30_000 });
  const provider = new MeterProvider({ readers: [reader] });
  return { provider, exporter, reader };
}

/** Collects once and returns the metrics by name. */
async function collect(exporter: InMemoryMetricExporter, reader: PeriodicExportingMetricReader): Promise<Map<string, MetricData>> {
  exporter.reset();
  await reader.forceFlush();
  const out = new Map<string, MetricData>();
  for (const rm of exporter.getMetrics()) for (const sm of rm.scopeMetrics) for (const m of sm.metrics) out.set(m.descriptor.name, m);
  return out;
}

/** The value of the data point whose attributes include `attrs`. */
function point(metrics: Map<string, MetricData>, name: string, attrs: Record<string, string | number> = {}): number | undefined {
  const m = metrics.get(name);
  if (m === undefined) throw new Error(`no instrument ${name} (have ${[...metrics.keys()].join(', ')})`);
  const p = m.dataPoints.find((d) => Object.entries(attrs).every(([k, v]) => d.attributes[k] === v));
  return p === undefined ? undefined : (p.value as number);
}

describe('sockdiag/otel without a meter provider', () => {
  test('needs a Meter; bad options throw at registration', () => {
    expect(() => registerSocketInstruments({} as never)).toThrow(/Meter/);
    const { provider } = sdk();
    const meter = provider.getMeter('t');
    expect(() => registerSocketInstruments({ meter, protocols: ['nope' as 'tcp'] })).toThrow(/unknown protocol/);
    expect(() => registerSocketInstruments({ meter, timeoutMs: 0 })).toThrow(RangeError);
  });

  test('instrument names follow the semantic conventions and the sockdiag namespace; none of ours ends in .count', () => {
    expect(INSTRUMENT_FAMILIES[0]).toMatchObject({ name: 'system.network.connection.count', unit: '{connection}', kind: 'updowncounter', attributes: ['network.transport', 'network.connection.state'] });
    for (const f of INSTRUMENT_FAMILIES.slice(1)) {
      expect(f.name).toMatch(/^sockdiag\.[a-z_.]+$/);
      // promtool's lint reads a translated name ending in _count (or _sum, _bucket) as a histogram's series.
      expect(f.name).not.toMatch(/[._](count|sum|bucket)$/);
    }
    const pids = INSTRUMENT_FAMILIES.find((f) => f.name === 'sockdiag.process.sockets');
    expect(pids?.attributes).toEqual(['process.pid', 'process.executable.name']);
  });
});

describeRoot('sockdiag/otel on a private namespace', () => {
  let ns: Netns;
  let pop: MetricsPopulation;
  beforeAll(async () => {
    ns = await createNetns();
    pop = await startMetricsPopulation(ns.name, 3, 6, 500);
    await waitForFullQueue(ns.name, pop);
  }, 60_000);
  afterAll(async () => {
    await pop?.stop();
    await ns?.destroy();
  });

  test('system.network.connection.count per transport and state equals ss; listen queue of the full listener', async () => {
    const { provider, exporter, reader } = sdk();
    const handle = registerSocketInstruments({ meter: provider.getMeter('sockdiag-test'), netns: ns.name });
    try {
      const metrics = await collect(exporter, reader);
      const ss = await ssTcpStates(ns.name);
      // backlog 3: 4 queued connections (both ends) + the accepted pair; 2 clients in SYN-SENT.
      expect(Object.fromEntries(ss)).toEqual({ established: 10, listen: 2, syn_sent: 2 });
      const count = (state: string): number | undefined => point(metrics, 'system.network.connection.count', { 'network.transport': 'tcp', 'network.connection.state': state });
      expect(count('established')).toBe(10);
      expect(count('listen')).toBe(2);
      expect(count('syn_sent')).toBe(2);
      // Every TCP state is observed, 0 when empty.
      expect(count('syn_received')).toBe(0);
      expect(count('close_wait')).toBe(0);
      expect(point(metrics, 'system.network.connection.count', { 'network.transport': 'udp', 'network.connection.state': 'closed' })).toBe(1);
      expect(point(metrics, 'system.network.connection.count', { 'network.transport': 'unix', 'network.connection.state': 'listen' })).toBe(1);
      expect(metrics.get('system.network.connection.count')?.descriptor.unit).toBe('{connection}');

      const q = await ssListenQueue(ns.name, pop.fullPort);
      expect(q).toEqual({ recvQ: 4, sendQ: 3 });
      const where = { 'network.transport': 'tcp', 'network.local.address': '127.0.0.1', 'network.local.port': pop.fullPort };
      expect(point(metrics, 'sockdiag.listen.queue.length', where)).toBe(4);
      expect(point(metrics, 'sockdiag.listen.queue.backlog', where)).toBe(3);
      expect(point(metrics, 'sockdiag.listeners_full', { 'network.transport': 'tcp' })).toBe(1);
      expect(point(metrics, 'sockdiag.listeners', { 'network.transport': 'tcp' })).toBe(2);
      // The namespace's kernel counters: the full queue has dropped the blocked clients' SYNs.
      expect(point(metrics, 'sockdiag.tcp.listen_overflows')).toBeGreaterThanOrEqual(2);
      expect((metrics.get('sockdiag.tcp.listen_overflows') as { isMonotonic?: boolean }).isMonotonic).toBe(true);
      expect(point(metrics, 'sockdiag.tcp.segments_sent')).toBeGreaterThan(0);
      expect(point(metrics, 'sockdiag.udp.receive_buffer_errors')).toBe(0);
      expect(point(metrics, 'sockdiag.socket.queue.size', { 'network.transport': 'tcp', 'network.io.direction': 'receive' })).toBe(500);
      // RTT and cwnd quantiles over the 10 connected sockets.
      for (const q of QUANTILES) {
        const rtt = point(metrics, 'sockdiag.tcp.rtt', { 'sockdiag.quantile': q });
        expect(rtt).toBeGreaterThan(0);
        expect(rtt).toBeLessThan(0.1);
        expect(point(metrics, 'sockdiag.tcp.cwnd', { 'sockdiag.quantile': q })).toBeGreaterThanOrEqual(10);
      }
      expect(point(metrics, 'sockdiag.up')).toBe(1);
      expect(point(metrics, 'sockdiag.dumps')).toBe(1);
      expect(point(metrics, 'sockdiag.dump.errors')).toBe(0);
    } finally {
      handle.unregister();
      await provider.shutdown();
    }
  });

  test('one dump per collection for every instrument; unregister stops the dumps', async () => {
    const { provider, exporter, reader } = sdk();
    const handle = registerSocketInstruments({ meter: provider.getMeter('sockdiag-test'), netns: ns.name, protocols: ['tcp'] });
    try {
      await collect(exporter, reader);
      const second = await collect(exporter, reader);
      expect(handle.source.health.get('')?.dumps).toBe(2);
      expect(point(second, 'sockdiag.dumps')).toBe(2);
      handle.unregister();
      await collect(exporter, reader);
      expect(handle.source.health.get('')?.dumps).toBe(2);
    } finally {
      await provider.shutdown();
    }
  });

  test('several namespaces get a sockdiag.netns attribute; a missing one reports up 0 and an error', async () => {
    const { provider, exporter, reader } = sdk();
    const errors: unknown[] = [];
    const handle = registerSocketInstruments({ meter: provider.getMeter('sockdiag-test'), netns: [ns.name, 'sd-not-there'], perProcess: true, onError: (e) => errors.push(e) });
    try {
      const metrics = await collect(exporter, reader);
      expect(point(metrics, 'sockdiag.up', { 'sockdiag.netns': ns.name })).toBe(1);
      expect(point(metrics, 'sockdiag.up', { 'sockdiag.netns': 'sd-not-there' })).toBe(0);
      expect(point(metrics, 'sockdiag.dump.errors', { 'sockdiag.netns': 'sd-not-there' })).toBe(1);
      expect(point(metrics, 'system.network.connection.count', { 'sockdiag.netns': ns.name, 'network.transport': 'tcp', 'network.connection.state': 'established' })).toBe(10);
      expect(point(metrics, 'system.network.connection.count', { 'sockdiag.netns': 'sd-not-there' })).toBeUndefined();
      // 6 clients, 2 listeners, the accepted pair, UDP, unix.
      expect(point(metrics, 'sockdiag.process.sockets', { 'process.pid': pop.pid })).toBe(12);
      expect(metrics.get('sockdiag.process.sockets')?.dataPoints.find((d) => d.attributes['process.pid'] === pop.pid)?.attributes['process.executable.name']).toMatch(/^python/);
      expect(errors).toHaveLength(1);
    } finally {
      handle.unregister();
      await provider.shutdown();
    }
  });
});
