/**
 * sockdiag/prometheus: the series of a registry scraped against a private namespace with a
 * known population (a listener with a full accept queue, unread bytes, UDP, unix), checked
 * against `ss` on the same sockets; one dump per scrape; failures; promtool's lint.
 */
import { spawnSync } from 'node:child_process';
import { Registry } from 'prom-client';
import { registerSocketMetrics, METRIC_FAMILIES, STATE_LABELS, quantiles } from '../lib/prometheus';
import { STATE_NAMES } from '../lib/diag/constants';
import { createNetns, describeRoot, type Netns } from './helpers/netns';
import { startMetricsPopulation, ssTcpStates, ssListenQueue, waitForFullQueue, type MetricsPopulation } from './helpers/metrics-population';

type Json = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** The value of `name` whose labels include `labels` (undefined when no such series). */
function value(json: Json, name: string, labels: Record<string, string> = {}): number | undefined {
  const m = json.find((x) => x.name === name);
  if (m === undefined) throw new Error(`no metric ${name}`);
  const v = (m.values as Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>).find(
    (x) => (x.metricName === undefined || x.metricName === name) && Object.entries(labels).every(([k, want]) => String(x.labels[k]) === want),
  );
  return v?.value;
}

describe('sockdiag/prometheus without a dump', () => {
  test('state names: every ss state maps to node_exporter and OTel names', () => {
    for (const s of STATE_NAMES) {
      expect(STATE_LABELS[s].prometheus).toMatch(/^[a-z_0-9]+$/);
      expect(STATE_LABELS[s].otel).toMatch(/^[a-z_0-9]+$/);
    }
    expect(STATE_LABELS['fin-wait-1']).toEqual({ prometheus: 'fin_wait1', otel: 'fin_wait_1' });
    expect(STATE_LABELS['new-syn-recv'].prometheus).toBe('syn_recv');
    expect(STATE_LABELS.closed.prometheus).toBe('close');
  });

  test('quantiles by nearest rank; empty distributions give undefined', () => {
    const d = { bounds: [1], counts: new Float64Array(2), sum: 0, count: 10, values: Float64Array.from([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]) };
    expect(quantiles(d, [0.5, 0.9, 0.99, 1, 0])).toEqual([5, 9, 10, 10, 1]);
    expect(quantiles({ ...d, count: 0, values: new Float64Array(0) }, [0.5])).toEqual([undefined]);
  });

  test('bad options throw at registration, naming the option', () => {
    const register = new Registry();
    expect(() => registerSocketMetrics({ register, prefix: 'bad-prefix' })).toThrow(/prefix/);
    expect(() => registerSocketMetrics({ register, netns: [] })).toThrow(/netns/);
    expect(() => registerSocketMetrics({ register, netns: ['a', 'a'] })).toThrow(/twice/);
    expect(() => registerSocketMetrics({ register, protocols: ['tcp', 'bogus' as 'tcp'] })).toThrow(/unknown protocol: bogus/);
    expect(() => registerSocketMetrics({ register, maxListeners: -1 })).toThrow(RangeError);
    expect(() => registerSocketMetrics({ register: {} as Registry })).toThrow(/Registry/);
    expect(register.getMetricsAsArray()).toHaveLength(0);
  });

  test('a name already taken throws and leaves the registry as it was', () => {
    const register = new Registry();
    const first = registerSocketMetrics({ register, protocols: ['udp'] });
    const before = register.getMetricsAsArray().length;
    expect(() => registerSocketMetrics({ register, protocols: ['tcp'] })).toThrow(/already been registered/);
    expect(register.getMetricsAsArray().length).toBe(before);
    first.unregister();
    expect(register.getMetricsAsArray()).toHaveLength(0);
  });

  test('families follow the options: tcp ones only when tcp is listed, per-process only when asked', () => {
    const register = new Registry();
    const m = registerSocketMetrics({ register, protocols: ['udp'], perListener: false, prefix: 'x_' });
    expect(m.names).toContain('x_sockets');
    expect(m.names).not.toContain('x_tcp_rtt_seconds');
    expect(m.names).not.toContain('x_listen_queue_length');
    expect(m.names).not.toContain('x_process_sockets');
    m.unregister();
    const all = registerSocketMetrics({ register, perProcess: true });
    expect(all.names).toEqual(METRIC_FAMILIES.map((f) => `sockdiag_${f.name}`));
    all.unregister();
  });
});

describeRoot('sockdiag/prometheus on a private namespace', () => {
  let ns: Netns;
  let other: Netns;
  let pop: MetricsPopulation;
  beforeAll(async () => {
    ns = await createNetns();
    other = await createNetns();
    pop = await startMetricsPopulation(ns.name, 2, 5, 1000);
    await waitForFullQueue(ns.name, pop);
  }, 60_000);
  afterAll(async () => {
    await pop?.stop();
    await ns?.destroy();
    await other?.destroy();
  });

  test('counts by state equal ss; the full accept queue shows as length backlog+1 and backlog', async () => {
    const register = new Registry();
    registerSocketMetrics({ register, netns: ns.name });
    const json = await register.getMetricsAsJSON();
    const ss = await ssTcpStates(ns.name);
    // The population: 3 queued connections (both ends), the accepted pair, 2 listeners, 2 clients in SYN-SENT.
    expect(Object.fromEntries(ss)).toEqual({ established: 8, listen: 2, syn_sent: 2 });
    for (const state of ['established', 'syn_sent', 'syn_recv', 'fin_wait1', 'fin_wait2', 'time_wait', 'close', 'close_wait', 'last_ack', 'listen', 'closing']) {
      expect([state, value(json, 'sockdiag_tcp_connection_states', { state })]).toEqual([state, ss.get(state) ?? 0]);
      expect([state, value(json, 'sockdiag_sockets', { protocol: 'tcp', state })]).toEqual([state, ss.get(state)]);
    }
    const q = await ssListenQueue(ns.name, pop.fullPort);
    expect(q).toEqual({ recvQ: 3, sendQ: 2 });
    const listener = { protocol: 'tcp', address: '127.0.0.1', port: String(pop.fullPort) };
    expect(value(json, 'sockdiag_listen_queue_length', listener)).toBe(q.recvQ);
    expect(value(json, 'sockdiag_listen_queue_backlog', listener)).toBe(q.sendQ);
    expect(value(json, 'sockdiag_listen_queue_length', { port: String(pop.otherPort) })).toBe(0);
    expect(value(json, 'sockdiag_listen_queue_backlog', { port: String(pop.otherPort) })).toBe(16);
    expect(value(json, 'sockdiag_listeners', { protocol: 'tcp' })).toBe(2);
    expect(value(json, 'sockdiag_listeners_full', { protocol: 'tcp' })).toBe(1);
    expect(value(json, 'sockdiag_listeners', { protocol: 'unix' })).toBe(1);
    expect(value(json, 'sockdiag_listen_queue_backlog', { protocol: 'unix', address: pop.unixPath, port: '0' })).toBe(4);
    expect(value(json, 'sockdiag_sockets', { protocol: 'udp', state: 'close' })).toBe(1);
    // The unread bytes: node_exporter's pseudo-state and the per-protocol queue agree.
    expect(value(json, 'sockdiag_tcp_connection_states', { state: 'rx_queued_bytes' })).toBe(1000);
    expect(value(json, 'sockdiag_socket_receive_queue_bytes', { protocol: 'tcp' })).toBe(1000);
    expect(value(json, 'sockdiag_up')).toBe(1);
    expect(value(json, 'sockdiag_dumps_total')).toBe(1);
    expect(value(json, 'sockdiag_dump_errors_total')).toBe(0);
    expect(value(json, 'sockdiag_dump_duration_seconds')).toBeGreaterThan(0);
  });

  test('RTT and cwnd histograms cover the connected TCP sockets (not listeners, not SYN-SENT)', async () => {
    const register = new Registry();
    registerSocketMetrics({ register, netns: ns.name, protocols: ['tcp'] });
    const text = await register.metrics();
    const line = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    // 8 established sockets have measured an RTT; SYN-SENT clients have none.
    expect(line('sockdiag_tcp_rtt_seconds_count')).toBe(8);
    expect(line('sockdiag_tcp_rtt_seconds_bucket\\{le="\\+Inf"\\}')).toBe(8);
    expect(line('sockdiag_tcp_rtt_seconds_sum')).toBeGreaterThan(0);
    expect(line('sockdiag_tcp_rtt_seconds_sum')).toBeLessThan(8 * 0.1);
    // Loopback: every connection starts at the initial 10 segments (the one that sent data grew a little).
    expect(line('sockdiag_tcp_cwnd_segments_count')).toBe(8);
    expect(line('sockdiag_tcp_cwnd_segments_bucket\\{le="8"\\}')).toBe(0);
    expect(line('sockdiag_tcp_cwnd_segments_bucket\\{le="10"\\}')).toBeGreaterThanOrEqual(7);
    expect(line('sockdiag_tcp_cwnd_segments_bucket\\{le="16"\\}')).toBe(8);
    // Buckets are cumulative.
    const buckets = [...text.matchAll(/^sockdiag_tcp_rtt_seconds_bucket\{le="[^"]+"\} (\d+)$/gm)].map((m) => Number(m[1]));
    expect(buckets.length).toBe(16);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]).toBeGreaterThanOrEqual(buckets[i - 1]);
  });

  test('retransmits: the SYN-SENT clients\' SYN retransmissions, summed as ss -ti shows them', async () => {
    // ss prints retrans:UNACKED/TOTAL; the dropped SYNs are retransmitted after 1 s, 3 s, 7 s…
    const ssRetrans = async (): Promise<{ total: number; unacked: number; lost: number }> => {
      const r = await ns.exec(['ss', '-tinH'], { check: true });
      let total = 0;
      let unacked = 0;
      for (const m of r.stdout.matchAll(/ retrans:(\d+)\/(\d+)/g)) {
        unacked += Number(m[1]);
        total += Number(m[2]);
      }
      const lost = [...r.stdout.matchAll(/ lost:(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
      return { total, unacked, lost };
    };
    const deadline = Date.now() + 15_000;
    for (;;) {
      const before = await ssRetrans();
      const register = new Registry();
      registerSocketMetrics({ register, netns: ns.name, protocols: ['tcp'] });
      const json = await register.getMetricsAsJSON();
      const after = await ssRetrans();
      if (before.total >= 2 && JSON.stringify(before) === JSON.stringify(after)) {
        expect(value(json, 'sockdiag_tcp_retransmitted_segments')).toBe(before.total);
        expect(value(json, 'sockdiag_tcp_unacked_retransmits')).toBe(before.unacked);
        expect(value(json, 'sockdiag_tcp_retransmitting_sockets')).toBe(2);
        // Each unanswered SYN is also presumed lost.
        expect(value(json, 'sockdiag_tcp_lost_segments')).toBe(before.lost);
        expect(before.lost).toBe(2);
        break;
      }
      if (Date.now() > deadline) throw new Error(`no stable SYN retransmits: ${JSON.stringify([before, after])}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 30_000);

  test('one dump per scrape, however many metrics; counters grow scrape by scrape', async () => {
    const register = new Registry();
    const m = registerSocketMetrics({ register, netns: ns.name });
    await Promise.all([register.metrics(), register.metrics()]);
    expect(m.source.health.get('')?.dumps).toBe(1);
    await register.metrics();
    const json = await register.getMetricsAsJSON();
    expect(value(json, 'sockdiag_dumps_total')).toBe(3);
  });

  test('perProcess counts the sockets the population holds, labelled by pid and command', async () => {
    const register = new Registry();
    registerSocketMetrics({ register, netns: ns.name, perProcess: true });
    const json = await register.getMetricsAsJSON();
    // Five clients, two listeners, the accepted pair, UDP and the unix listener.
    expect(value(json, 'sockdiag_process_sockets', { pid: String(pop.pid) })).toBe(11);
    const series = (json.find((x) => x.name === 'sockdiag_process_sockets')?.values ?? []) as Array<{ labels: Record<string, string> }>;
    expect(series.find((v) => v.labels.pid === String(pop.pid))?.labels.command).toMatch(/^python/);
  });

  test('several namespaces: a netns label on every series; a missing namespace is up 0, not a failed scrape', async () => {
    const register = new Registry();
    const errors: unknown[] = [];
    registerSocketMetrics({ register, netns: [ns.name, other.name, 'sd-does-not-exist'], onError: (e) => errors.push(e) });
    const text = await register.metrics();
    const json = await register.getMetricsAsJSON();
    expect(value(json, 'sockdiag_up', { netns: ns.name })).toBe(1);
    expect(value(json, 'sockdiag_up', { netns: other.name })).toBe(1);
    expect(value(json, 'sockdiag_up', { netns: 'sd-does-not-exist' })).toBe(0);
    // Two scrapes (text, then JSON), two failed dumps.
    expect(value(json, 'sockdiag_dump_errors_total', { netns: 'sd-does-not-exist' })).toBe(2);
    expect(value(json, 'sockdiag_dumps_total', { netns: ns.name })).toBe(2);
    expect(value(json, 'sockdiag_tcp_connection_states', { netns: ns.name, state: 'established' })).toBe(8);
    expect(value(json, 'sockdiag_tcp_connection_states', { netns: other.name, state: 'established' })).toBe(0);
    expect(value(json, 'sockdiag_tcp_connection_states', { netns: 'sd-does-not-exist', state: 'established' })).toBeUndefined();
    expect(errors).toHaveLength(2);
    expect((errors[0] as NodeJS.ErrnoException).code).toBe('ENOENT');
    for (const line of text.split('\n')) if (line !== '' && !line.startsWith('#')) expect(line).toMatch(/\{netns="/);
  });

  test('countEvents: events by type, overruns and lost events', async () => {
    const register = new Registry();
    const m = registerSocketMetrics({ register, netns: ns.name, protocols: ['udp'] });
    async function* events(): AsyncGenerator<{ type: string; lost?: number }> {
      yield { type: 'destroy' };
      yield { type: 'destroy' };
      yield { type: 'overrun', lost: 7 };
      yield { type: 'overrun' };
    }
    await m.countEvents(events());
    const json = await register.getMetricsAsJSON();
    expect(value(json, 'sockdiag_events_total', { type: 'destroy' })).toBe(2);
    expect(value(json, 'sockdiag_events_total', { type: 'overrun' })).toBe(2);
    expect(value(json, 'sockdiag_event_overruns_total')).toBe(2);
    expect(value(json, 'sockdiag_events_lost_total')).toBe(7);
    const several = registerSocketMetrics({ register: new Registry(), netns: [ns.name, other.name] });
    await expect(several.countEvents(events(), 'elsewhere')).rejects.toThrow(RangeError);
  });

  test('prefix node_ gives node_exporter\'s node_tcp_connection_states; maxListeners bounds the listener series', async () => {
    const register = new Registry();
    registerSocketMetrics({ register, netns: ns.name, prefix: 'node_', maxListeners: 1 });
    const json = await register.getMetricsAsJSON();
    expect(value(json, 'node_tcp_connection_states', { state: 'listen' })).toBe(2);
    const listeners = json.find((x) => x.name === 'node_listen_queue_length')?.values ?? [];
    expect(listeners).toHaveLength(1);
    // The deepest queue is the one kept.
    expect(listeners[0].labels.port).toBe(String(pop.fullPort));
    expect(value(json, 'node_listen_queue_omitted')).toBe(2);
  });

  test('promtool check metrics accepts the exposition', async () => {
    const register = new Registry();
    registerSocketMetrics({ register, netns: [ns.name, other.name], perProcess: true });
    const text = await register.metrics();
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(r.error).toBeUndefined();
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.status).toBe(0);
  });
});
