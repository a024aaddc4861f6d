/**
 * sockdiag/prometheus: the series of a registry scraped against a private namespace with a
 * known population (a listener with a full accept queue, unread bytes, UDP, unix), checked
 * against `ss` on the same sockets; one dump per scrape; failures; promtool's lint.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import * as path from 'node:path';
import { Registry } from 'prom-client';
import { registerSocketMetrics, createSocketCollector, formatExposition, negotiateFormat, METRIC_FAMILIES, STATE_LABELS, quantiles, type FamilyData } from '../lib/prometheus';
import { parsePairedCounters, parseSnmp6, parseSockstat, pageSize } from '../lib/proc/netstat';
import { STATE_NAMES } from '../lib/diag/constants';
import { createNetns, describeRoot, startPython, type Netns } from './helpers/netns';
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
    // A gauge histogram is registered as the three families the text format writes.
    expect(all.names).toEqual(METRIC_FAMILIES.flatMap((f) => (f.type === 'gaugehistogram' ? ['_bucket', '_gsum', '_gcount'].map((x) => `sockdiag_${f.name}${x}`) : [`sockdiag_${f.name}`])));
    all.unregister();
  });
});

describe('the exposition formats, written without prom-client', () => {
  const dist = { bounds: [0.001, 0.01], counts: Float64Array.from([1, 2, 1]), sum: 0.05, count: 4, values: new Float64Array(0) };
  const families: FamilyData[] = [
    { name: 'x_up', help: 'Up "now"\\ok', type: 'gauge', samples: [{ labels: { netns: 'a"b\\c\nd' }, value: 1 }] },
    { name: 'x_dumps_total', help: 'Dumps.', type: 'counter', samples: [{ labels: {}, value: 3 }] },
    { name: 'x_rtt_seconds', help: 'RTT.', type: 'gaugehistogram', samples: [], histograms: [{ labels: { netns: 'a' }, dist }] },
  ];

  test('text 0.0.4: a gauge histogram is an untyped _bucket family and _gsum/_gcount gauges; promtool accepts it', () => {
    const text = formatExposition(families, 'text');
    expect(text).toBe(
      [
        '# HELP x_up Up "now"\\\\ok',
        '# TYPE x_up gauge',
        'x_up{netns="a\\"b\\\\c\\nd"} 1',
        '# HELP x_dumps_total Dumps.',
        '# TYPE x_dumps_total counter',
        'x_dumps_total 3',
        '# HELP x_rtt_seconds_bucket RTT. Cumulative count of values ≤ le.',
        '# TYPE x_rtt_seconds_bucket untyped',
        'x_rtt_seconds_bucket{netns="a",le="0.001"} 1',
        'x_rtt_seconds_bucket{netns="a",le="0.01"} 3',
        'x_rtt_seconds_bucket{netns="a",le="+Inf"} 4',
        '# HELP x_rtt_seconds_gsum RTT. Sum of the values.',
        '# TYPE x_rtt_seconds_gsum gauge',
        'x_rtt_seconds_gsum{netns="a"} 0.05',
        '# HELP x_rtt_seconds_gcount RTT. Number of values.',
        '# TYPE x_rtt_seconds_gcount gauge',
        'x_rtt_seconds_gcount{netns="a"} 4',
        '',
      ].join('\n'),
    );
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${lint.stdout}${lint.stderr}`).toBe('');
    expect(lint.status).toBe(0);
  });

  test('OpenMetrics 1.0.0: counter families without _total, a gaugehistogram, # EOF', () => {
    expect(formatExposition(families, 'openmetrics')).toBe(
      [
        '# HELP x_up Up \\"now\\"\\\\ok',
        '# TYPE x_up gauge',
        'x_up{netns="a\\"b\\\\c\\nd"} 1',
        '# HELP x_dumps Dumps.',
        '# TYPE x_dumps counter',
        'x_dumps_total 3',
        '# HELP x_rtt_seconds RTT.',
        '# TYPE x_rtt_seconds gaugehistogram',
        'x_rtt_seconds_bucket{netns="a",le="0.001"} 1',
        'x_rtt_seconds_bucket{netns="a",le="0.01"} 3',
        'x_rtt_seconds_bucket{netns="a",le="+Inf"} 4',
        'x_rtt_seconds_gcount{netns="a"} 4',
        'x_rtt_seconds_gsum{netns="a"} 0.05',
        '# EOF',
        '',
      ].join('\n'),
    );
  });

  test('negotiation: what Prometheus asks for gets OpenMetrics; curl, browsers and no header get text', () => {
    expect(negotiateFormat('application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1')).toBe('openmetrics');
    expect(negotiateFormat('application/openmetrics-text; version=0.0.1')).toBe('openmetrics');
    expect(negotiateFormat(undefined)).toBe('text');
    expect(negotiateFormat('*/*')).toBe('text');
    expect(negotiateFormat('text/html,application/xhtml+xml,*/*;q=0.8')).toBe('text');
    expect(negotiateFormat('application/openmetrics-text;q=0,text/plain')).toBe('text');
    expect(negotiateFormat('application/openmetrics-text;version=2.0.0')).toBe('text');
    expect(negotiateFormat('text/plain;version=0.0.4;q=0.5,application/openmetrics-text;q=0.4')).toBe('text');
  });

  test('a prom-client OpenMetrics registry gets counters and gauge-histogram buckets as OpenMetrics writes them', async () => {
    const register = new Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>();
    register.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    // A namespace that does not exist: the dump fails, the health series are still there.
    registerSocketMetrics({ register, netns: 'sd-does-not-exist', protocols: ['tcp'], onError: () => undefined });
    const text = await register.metrics();
    expect(text).toMatch(/^# TYPE sockdiag_dumps counter\nsockdiag_dumps_total 1$/m);
    expect(text).toMatch(/^# TYPE sockdiag_tcp_rtt_seconds_bucket unknown$/m);
    expect(text).toMatch(/^sockdiag_up 0$/m);
    expect(text.endsWith('# EOF\n')).toBe(true);
  });

  test('the /proc/net counter files parse: paired netstat/snmp lines, snmp6, sockstat', () => {
    const c = parsePairedCounters('TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 0 12 9007199254740991\nTcp: RtoAlgorithm RetransSegs\nTcp: 1 7\n');
    parseSnmp6('Ip6InReceives                   \t3\nUdp6RcvbufErrors                \t5\n', c);
    parseSockstat('sockets: used 11\nTCP: inuse 1 orphan 0 tw 0 alloc 1 mem 3\nUDP: inuse 0 mem 2\n', c);
    expect(Object.fromEntries(c)).toEqual({
      'TcpExt:SyncookiesSent': 0,
      'TcpExt:ListenOverflows': 12,
      'TcpExt:ListenDrops': 2 ** 53 - 1,
      'Tcp:RtoAlgorithm': 1,
      'Tcp:RetransSegs': 7,
      'Ip6:InReceives': 3,
      'Udp6:RcvbufErrors': 5,
      'sockets:used': 11,
      'TCP:inuse': 1,
      'TCP:orphan': 0,
      'TCP:tw': 0,
      'TCP:alloc': 1,
      'TCP:mem': 3,
      'UDP:inuse': 0,
      'UDP:mem': 2,
    });
    expect([4096, 16384, 65536]).toContain(pageSize());
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
      // Every TCP state is reported, 0 when no socket is in it.
      expect([state, value(json, 'sockdiag_sockets', { protocol: 'tcp', state })]).toEqual([state, ss.get(state) ?? 0]);
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
    // The unread bytes; node_exporter's pseudo-state also counts the full listener's 3 queued connections.
    expect(value(json, 'sockdiag_tcp_connection_states', { state: 'rx_queued_bytes' })).toBe(1000 + 3);
    expect(value(json, 'sockdiag_socket_receive_queue_bytes', { protocol: 'tcp' })).toBe(1000);
    expect(value(json, 'sockdiag_up')).toBe(1);
    expect(value(json, 'sockdiag_dumps_total')).toBe(1);
    expect(value(json, 'sockdiag_dump_errors_total')).toBe(0);
    expect(value(json, 'sockdiag_dump_duration_seconds')).toBeGreaterThan(0);
  });

  test('RTT and cwnd gauge histograms cover the connected TCP sockets (not listeners, not SYN-SENT)', async () => {
    const register = new Registry();
    registerSocketMetrics({ register, netns: ns.name, protocols: ['tcp'] });
    const text = await register.metrics();
    const line = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    // Nothing a rate() could misread: no histogram or summary type, the buckets untyped.
    expect(text).not.toMatch(/^# TYPE \S+ (histogram|summary)$/m);
    expect(text).toMatch(/^# TYPE sockdiag_tcp_rtt_seconds_bucket untyped$/m);
    expect(text).toMatch(/^# TYPE sockdiag_tcp_rtt_seconds_gcount gauge$/m);
    // 8 established sockets have measured an RTT; SYN-SENT clients have none.
    expect(line('sockdiag_tcp_rtt_seconds_gcount')).toBe(8);
    expect(line('sockdiag_tcp_rtt_seconds_bucket\\{le="\\+Inf"\\}')).toBe(8);
    expect(line('sockdiag_tcp_rtt_seconds_gsum')).toBeGreaterThan(0);
    expect(line('sockdiag_tcp_rtt_seconds_gsum')).toBeLessThan(8 * 0.1);
    // Loopback: every connection starts at the initial 10 segments (the one that sent data grew a little).
    expect(line('sockdiag_tcp_cwnd_segments_gcount')).toBe(8);
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

  test("prefix node_: node_tcp_connection_states equals node_exporter's tcpstat on the same sockets", async () => {
    const NODE_EXPORTER = '/usr/bin/prometheus-node-exporter';
    expect(existsSync(NODE_EXPORTER)).toBe(true);
    // node_exporter runs inside the namespace with only tcpstat, listening on a unix socket
    // handed over as systemd would: its listener and our requests add no TCP socket there.
    const py = [
      'import json, os, socket, sys, tempfile',
      "d = tempfile.mkdtemp(prefix='sd-node-exporter-')",
      "p = os.path.join(d, 'http.sock')",
      's = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)',
      's.bind(p)',
      's.listen(8)',
      // fd 3, inheritable (Python's sockets are close-on-exec).
      'if s.fileno() != 3: os.dup2(s.fileno(), 3)',
      'os.set_inheritable(3, True)',
      "print(json.dumps({'path': p}), flush=True)",
      "os.environ['LISTEN_PID'] = str(os.getpid())",
      "os.environ['LISTEN_FDS'] = '1'",
      `os.execv('${NODE_EXPORTER}', ['node_exporter', '--web.systemd-socket', '--collector.disable-defaults', '--collector.tcpstat', '--log.level=warn'])`,
    ].join('\n');
    const helper = await startPython(ns, py);
    const socketPath = helper.info.path as string;
    try {
      const get = (): Promise<string> =>
        new Promise((resolve, reject) => {
          const req = request({ socketPath, path: '/metrics' }, (res) => {
            let body = '';
            res.on('data', (b: Buffer) => (body += b.toString()));
            res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`node_exporter: ${res.statusCode} ${body}`))));
          });
          req.on('error', reject);
          req.setTimeout(2_000, () => req.destroy(new Error('node_exporter did not answer')));
          req.end();
        });
      let page = '';
      const deadline = Date.now() + 10_000;
      while (page === '') {
        page = await get().catch((e: unknown) => (Date.now() > deadline ? Promise.reject(e) : new Promise<string>((r) => setTimeout(() => r(''), 100))));
      }
      const theirs = new Map([...page.matchAll(/^node_tcp_connection_states\{state="(\w+)"\} (\S+)$/gm)].map((m) => [m[1], Number(m[2])]));
      const register = new Registry();
      registerSocketMetrics({ register, netns: ns.name, prefix: 'node_', protocols: ['tcp'] });
      const json = await register.getMetricsAsJSON();
      const ours = new Map(((json.find((x) => x.name === 'node_tcp_connection_states')?.values ?? []) as Array<{ labels: Record<string, string>; value: number }>).map((v) => [v.labels.state, v.value]));
      // node_exporter sums the listeners' queues too: Send-Q is a listener's backlog, so
      // tx_queued_bytes holds 2 + 16 for the two listeners plus what SYN-SENT sockets count.
      expect(theirs.get('tx_queued_bytes')).toBeGreaterThanOrEqual(18);
      expect(theirs.get('rx_queued_bytes')).toBe(1000 + 3);
      expect(theirs.get('established')).toBe(8);
      // Equal on every state node_exporter reports; the states it leaves out are 0 here.
      for (const [state, v] of theirs) expect([state, ours.get(state)]).toEqual([state, v]);
      for (const [state, v] of ours) if (!theirs.has(state)) expect([state, v]).toEqual([state, 0]);
    } finally {
      helper.child.kill('SIGKILL');
      await new Promise((r) => helper.child.once('close', r));
      rmSync(path.dirname(socketPath), { recursive: true, force: true });
    }
  });

  test("the namespace's kernel counters: listen overflows while the full queue refuses SYNs, retransmits, UDP receive-buffer drops, as nstat reads them", async () => {
    // nstat (iproute2) reads the same MIB files: absolute values, history left alone.
    const nstat = async (): Promise<Map<string, number>> => {
      const r = await ns.exec(['nstat', '-asz'], { check: true });
      return new Map([...r.stdout.matchAll(/^(\w+)\s+(\d+)/gm)].map((m) => [m[1], Number(m[2])]));
    };
    // The blocked clients' SYN retransmits hit the full queue and are dropped: ListenOverflows grows.
    const deadline = Date.now() + 15_000;
    while (((await nstat()).get('TcpExtListenOverflows') ?? 0) < 1) {
      if (Date.now() > deadline) throw new Error('no listen overflow counted');
      await new Promise((r) => setTimeout(r, 200));
    }
    // 200 datagrams to a receiver with a tiny buffer that never reads.
    await ns.exec([
      'python3', '-c',
      "import socket\nr = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nr.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)\nr.bind(('127.0.0.1', 0))\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor _ in range(200): s.sendto(b'x' * 1000, r.getsockname())",
    ], { check: true });
    const before = await nstat();
    const collector = createSocketCollector({ netns: ns.name, protocols: ['tcp', 'udp'] });
    const families = await collector.collect();
    const after = await nstat();
    const ours = (name: string): number | undefined => families.find((f) => f.name === name)?.samples[0]?.value;
    const within = (name: string, ...keys: string[]): void => {
      const sum = (m: Map<string, number>): number => keys.reduce((a, k) => a + (m.get(k) ?? 0), 0);
      const v = ours(name);
      expect([name, v !== undefined && v >= sum(before) && v <= sum(after)]).toEqual([name, true]);
    };
    within('sockdiag_tcp_listen_overflows_total', 'TcpExtListenOverflows');
    within('sockdiag_tcp_listen_drops_total', 'TcpExtListenDrops');
    within('sockdiag_tcp_segments_sent_total', 'TcpOutSegs');
    within('sockdiag_tcp_segments_retransmitted_total', 'TcpRetransSegs');
    within('sockdiag_udp_receive_buffer_errors_total', 'UdpRcvbufErrors', 'Udp6RcvbufErrors');
    within('sockdiag_udp_send_buffer_errors_total', 'UdpSndbufErrors', 'Udp6SndbufErrors');
    expect(ours('sockdiag_tcp_listen_overflows_total')).toBeGreaterThanOrEqual(1);
    // Overflows are listen drops too; the SYNs retransmitted are retransmitted segments.
    expect(ours('sockdiag_tcp_listen_drops_total')).toBeGreaterThanOrEqual(ours('sockdiag_tcp_listen_overflows_total') as number);
    expect(ours('sockdiag_tcp_segments_retransmitted_total')).toBeGreaterThanOrEqual(1);
    expect(ours('sockdiag_udp_receive_buffer_errors_total')).toBeGreaterThanOrEqual(100);
    // Memory is in whole pages (sockstat counts pages).
    for (const name of ['sockdiag_tcp_memory_bytes', 'sockdiag_udp_memory_bytes']) expect([name, Number.isInteger((ours(name) ?? NaN) / pageSize())]).toEqual([name, true]);
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
