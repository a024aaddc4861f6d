/**
 * A small, exactly known socket population for the metrics tests (prometheus, otel,
 * exporter), run inside a test namespace:
 *
 * - a TCP listener with `listen(backlog)` and `clients` non-blocking connects it never
 *   accepts: the accept queue fills to backlog + 1 (the kernel refuses once it holds more
 *   than the backlog), and the remaining clients stay in SYN-SENT, their SYNs dropped;
 * - a second listener with one accepted connection whose server end has `queuedBytes`
 *   unread bytes in its receive queue;
 * - a bound UDP socket and a unix stream listener.
 *
 * It prints one JSON line, then holds the sockets until stdin closes.
 */
import { runCommand, startPython } from './netns';

const PY = String.raw`
import json, os, socket, sys, tempfile, time
backlog, clients, queued, ns = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
# Only ever inside the test's own namespace.
if not ns.startswith('sd-') or os.stat('/var/run/netns/' + ns).st_ino != os.stat('/proc/self/ns/net').st_ino:
    sys.exit('refusing to run outside the test namespace ' + ns)
keep = []
full = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
full.bind(('127.0.0.1', 0))
full.listen(backlog)
full_port = full.getsockname()[1]
for _ in range(clients):
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.setblocking(False)
    try:
        c.connect(('127.0.0.1', full_port))
    except BlockingIOError:
        pass
    keep.append(c)
    time.sleep(0.01)
other = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
other.bind(('127.0.0.1', 0))
other.listen(16)
other_port = other.getsockname()[1]
a = socket.create_connection(('127.0.0.1', other_port))
b, _ = other.accept()
a.sendall(b'x' * queued)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(('127.0.0.1', 0))
d = tempfile.mkdtemp(prefix='sd-metrics-')
path = os.path.join(d, 'listen.sock')
ux = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
ux.bind(path)
ux.listen(4)
keep += [full, other, a, b, udp, ux]
time.sleep(0.2)
print(json.dumps({'pid': os.getpid(), 'fullPort': full_port, 'otherPort': other_port, 'udpPort': udp.getsockname()[1], 'unixPath': path, 'serverEndPort': b.getsockname()[1], 'clientPort': a.getsockname()[1]}), flush=True)
sys.stdin.read()
os.unlink(path)
os.rmdir(d)
`;

/** What the population made. */
export interface MetricsPopulation {
  /** Pid of the python process holding every socket. */
  pid: number;
  /** Port of the listener whose accept queue is full. */
  fullPort: number;
  /** Port of the listener with one accepted connection. */
  otherPort: number;
  /** Port of the UDP socket. */
  udpPort: number;
  /** Path of the unix listener. */
  unixPath: string;
  /** Its backlog, connects, and the bytes left unread. */
  backlog: number;
  clients: number;
  queuedBytes: number;
  /** Closes stdin and waits for the exit (SIGKILL after 5 s). */
  stop(): Promise<void>;
}

/** Starts the population in namespace `ns` and waits for its JSON line. */
export async function startMetricsPopulation(ns: string, backlog = 2, clients = 5, queuedBytes = 1000): Promise<MetricsPopulation> {
  const h = await startPython(ns, PY, [String(backlog), String(clients), String(queuedBytes), ns]);
  const j = h.info as unknown as Omit<MetricsPopulation, 'stop' | 'backlog' | 'clients' | 'queuedBytes'>;
  return { ...j, backlog, clients, queuedBytes, stop: h.stop };
}

/** `ss -tanH` state words → node_exporter's state names. */
const SS_TO_NODE: Readonly<Record<string, string>> = {
  ESTAB: 'established',
  'SYN-SENT': 'syn_sent',
  'SYN-RECV': 'syn_recv',
  'FIN-WAIT-1': 'fin_wait1',
  'FIN-WAIT-2': 'fin_wait2',
  'TIME-WAIT': 'time_wait',
  UNCONN: 'close',
  CLOSE: 'close',
  'CLOSE-WAIT': 'close_wait',
  'LAST-ACK': 'last_ack',
  LISTEN: 'listen',
  CLOSING: 'closing',
};

/** TCP sockets per state (node_exporter's names) as `ss -tan` counts them in the namespace. */
export async function ssTcpStates(ns: string): Promise<Map<string, number>> {
  const r = await runCommand('ip', ['netns', 'exec', ns, 'ss', '-tanH'], { check: true });
  const counts = new Map<string, number>();
  for (const line of r.stdout.split('\n')) {
    const word = line.trim().split(/\s+/)[0];
    if (!word) continue;
    const state = SS_TO_NODE[word];
    if (state === undefined) throw new Error(`unexpected ss state ${word}`);
    counts.set(state, (counts.get(state) ?? 0) + 1);
  }
  return counts;
}

/** Recv-Q and Send-Q of the TCP listener on `port`, as `ss -ltn` shows them. */
export async function ssListenQueue(ns: string, port: number): Promise<{ recvQ: number; sendQ: number }> {
  const r = await runCommand('ip', ['netns', 'exec', ns, 'ss', '-ltnH', `sport = :${port}`], { check: true });
  const f = r.stdout.trim().split(/\s+/);
  if (f[0] !== 'LISTEN') throw new Error(`no listener on :${port}: ${r.stdout}`);
  return { recvQ: Number(f[1]), sendQ: Number(f[2]) };
}

/** Waits until `ss` shows the full-queue state the population promises (handshakes run in softirq, but be sure). */
export async function waitForFullQueue(ns: string, pop: MetricsPopulation): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const q = await ssListenQueue(ns, pop.fullPort);
    const states = await ssTcpStates(ns);
    if (q.recvQ === pop.backlog + 1 && (states.get('syn_sent') ?? 0) === pop.clients - pop.backlog - 1) return;
    if (Date.now() > deadline) throw new Error(`accept queue did not fill as expected: ${JSON.stringify(q)} ${JSON.stringify([...states])}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
