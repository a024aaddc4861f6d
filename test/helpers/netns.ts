/**
 * Private network namespaces for tests, and the socket population that lives in them.
 *
 * HARD RULE: tests never touch the host's sockets. Everything that creates, lists or
 * kills sockets does it inside a namespace made here (`sd-<pid>-<n>`, loopback only),
 * which {@link Netns.destroy} removes after killing whatever runs inside it, or inside a
 * fresh namespace that a single command gets for itself ({@link inFreshNetns}).
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';

/** Outcome of a command run inside a namespace. */
export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit status; null when killed by a signal. */
  status: number | null;
  signal: NodeJS.Signals | null;
  /** Pid of the child (`ip netns exec` execs the command, so it is the command's pid too). */
  pid: number | undefined;
}

export interface ExecOptions {
  /** Written to stdin, which is then closed. */
  input?: string;
  /** Kill the command (SIGKILL) after this many ms; default 30 000. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Reject when the command exits non-zero or is killed. */
  check?: boolean;
}

export type PopulationKind = 'tcp' | 'udp' | 'unix' | 'packet' | 'netlink' | 'mptcp' | 'raw';

/** What population.py is asked to build. */
export interface PopulationSpec {
  /** Default: all but 'raw' (this kernel has no raw_diag). */
  kinds?: PopulationKind[];
  /** Extra established TCP pairs on loopback (e.g. 2000); default 0. */
  extraTcpPairs?: number;
  /** Family of those pairs; default 'inet'. */
  extraFamily?: 'inet' | 'inet6';
  /** Directory for filesystem unix sockets; default: a fresh one under /tmp, removed at exit. */
  unixDir?: string;
  /** Kill the population if it has not printed its JSON line by then; default 60 000 ms. */
  timeoutMs?: number;
}

export interface PopAddress {
  address: string;
  port: number;
}

/** One socket the population made, as it described it. */
export interface PopSocket {
  /** Unique name, e.g. 'tcp4-queued-server', 'unix-stream-path-listen'. */
  name: string;
  kind: PopulationKind;
  family: 'inet' | 'inet6' | 'unix' | 'packet' | 'netlink';
  type: 'stream' | 'dgram' | 'seqpacket' | 'raw';
  /** SO_PROTOCOL (6 tcp, 17 udp, 262 mptcp, the ethertype for packet, the netlink protocol, …). */
  protocol: number;
  /** The state it should be in, by the names `ss` filters use. */
  state: string;
  /** Its fd in the population process; null for sockets the process no longer holds (TIME-WAIT, SYN-RECV). */
  fd: number | null;
  /** SO_COOKIE; null when unknown (a SYN-RECV request socket). */
  cookie: bigint | null;
  /** Socket inode; 0 when not attached to a file (TIME-WAIT, SYN-RECV). */
  inode: number;
  local?: PopAddress;
  remote?: PopAddress;
  /** unix: bound name ('@…' for abstract), null when unnamed. */
  path?: string | null;
  peerPath?: string | null;
  /** unix: the inode of the other end. */
  peerInode?: number;
  /** Owner uid when deliberately not the population's. */
  uid?: number;
  /** Queues measured with SIOCINQ/SIOCOUTQ at creation (tcp), or expected. */
  recvQ?: number;
  sendQ?: number;
  /** The state seen in /proc/net/tcp* right after creation. */
  observedState?: string | null;
  /** packet/udp: ifindex bound to. */
  interface?: number;
  /** packet: the ethertype it was opened with. */
  ethProtocol?: number;
  /** netlink: port id, groups and protocol. */
  portid?: number;
  groups?: number;
  netlinkProtocol?: number;
  [more: string]: unknown;
}

export interface ExtraPair {
  clientCookie: bigint;
  serverCookie: bigint;
  clientInode: number;
  serverInode: number;
  clientPort: number;
}

export interface ExtraPairs {
  family: 'inet' | 'inet6';
  address: string;
  port: number;
  listenerCookie: bigint;
  listenerInode: number;
  pairs: ExtraPair[];
}

export interface Refusal {
  kind: string;
  step: string;
  errno: string;
  message: string;
}

export interface Population {
  /** Pid of the python process holding the sockets (also its pid inside /proc). */
  pid: number;
  /** Its command name as /proc/PID/comm (and `ss -p`) shows it. */
  comm: string;
  uid: number;
  /** Pids of helper children (the second holder of 'udp4-shared'). */
  children: number[];
  /** The population's network namespace as /proc/PID/ns/net names it (`net:[4026…]`). */
  netns: string;
  /** Directory of its filesystem unix sockets (removed when it exits, if it made it), or null. */
  unixDir: string | null;
  sockets: PopSocket[];
  /** What the kernel refused (e.g. MPTCP disabled). */
  refused: Refusal[];
  /** Things that did not come out as intended (e.g. a TIME-WAIT that did not appear). */
  warnings: string[];
  extra: ExtraPairs | null;
  /** The socket of that name; throws when there is none. */
  byName(name: string): PopSocket;
  /** Close stdin, wait for the exit (SIGKILL after 5 s). Idempotent. */
  stop(): Promise<void>;
}

export interface Netns {
  /** e.g. 'sd-1234-1'. */
  name: string;
  /** /var/run/netns/NAME */
  path: string;
  /** Run argv inside the namespace (`ip netns exec NAME …`). */
  exec(argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Start population.py inside the namespace and wait for its JSON line. */
  spawnPopulation(spec?: PopulationSpec): Promise<Population>;
  /** Stop populations, kill every process left inside, delete the namespace. Idempotent. */
  destroy(): Promise<void>;
}

const NETNS_DIR = '/var/run/netns';
const NAME_RE = /^sd-(\d+)-(\d+)$/;
const POPULATION_PY = path.join(__dirname, 'population.py');

let counter = 0;
const live = new Set<string>();

/** The python interpreter to use: the system one when present (no pyenv shim in between). */
export function pythonBinary(): string {
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

const ROOT_MESSAGE =
  'sockdiag integration tests need root (network namespaces, SO_COOKIE of every socket, /proc of other processes)';

/**
 * true when the tests can run. When not root: false with a clear message (the caller
 * skips), unless CI=true, where skipping is forbidden and this throws instead.
 */
export function requireRoot(): boolean {
  if (isRoot()) return true;
  if (process.env.CI === 'true') {
    throw new Error(`${ROOT_MESSAGE}; CI=true forbids skipping them, so this fails.`);
  }
  // eslint-disable-next-line no-console
  console.warn(`SKIPPED: ${ROOT_MESSAGE}. Run as root (or with CI=true to make this a failure).`);
  return false;
}

/**
 * `describe` that needs root: skipped with a clear title when not root, and when CI=true
 * replaced by one failing test instead of being skipped.
 */
export function describeRoot(name: string, fn: () => void): void {
  describeIf(isRoot(), { requires: 'root', missing: 'not root', why: ROOT_MESSAGE, remedy: 'Run as root' }, name, fn);
}

const FRESH_NETNS_MESSAGE =
  'these tests run commands in network namespaces of their own, which need root or unprivileged user namespaces (unshare --user --map-root-user --net failed here)';

/**
 * `argv` made to run in a new network namespace of its own, gone when it exits: nothing in
 * it but a loopback device that is down, no socket, no route. As root that is `unshare
 * --net`; otherwise `unshare --user --map-root-user --net`, an unprivileged user namespace
 * in which the command is root of its own network namespace and nothing else. For commands
 * that need no population: what ss sends or refuses, argument checks that reach the kernel.
 */
export function inFreshNetns(argv: readonly string[]): string[] {
  return ['unshare', ...(isRoot() ? [] : ['--user', '--map-root-user']), '--net', '--', ...argv];
}

/** Runs each command in a fresh network namespace of its own ({@link inFreshNetns}). */
export const freshNetns: Pick<Netns, 'exec'> = {
  exec(argv, opts) {
    const [cmd, ...args] = inFreshNetns(argv);
    return runCommand(cmd, args, opts);
  },
};

let freshNetnsWorks: boolean | undefined;

/** Whether {@link inFreshNetns} works here (root, or user namespaces open to this user). */
export function canMakeFreshNetns(): boolean {
  if (freshNetnsWorks === undefined) {
    const [cmd, ...args] = inFreshNetns(['true']);
    freshNetnsWorks = spawnSync(cmd, args, { stdio: 'ignore', timeout: 10_000 }).status === 0;
  }
  return freshNetnsWorks;
}

/**
 * `describe` whose tests run commands through {@link freshNetns} / {@link inFreshNetns}: it
 * runs as root and, without root, wherever unprivileged user namespaces are allowed; else
 * it is skipped like {@link describeRoot} (a failing test when CI=true).
 */
export function describeFreshNetns(name: string, fn: () => void): void {
  describeIf(canMakeFreshNetns(), { requires: 'a private namespace', missing: 'no private namespace', why: FRESH_NETNS_MESSAGE, remedy: 'Run as root or allow user namespaces' }, name, fn);
}

/** What a group of tests needs, and how its absence is told. */
interface Requirement {
  /** The CI=true failing test is named `requires <requires>`. */
  requires: string;
  /** In the title of the skipped group: `[skipped: <missing> — <why>]`. */
  missing: string;
  why: string;
  remedy: string;
}

/** `describe` when `ok`; else skipped with a message, or one failing test when CI=true. */
function describeIf(ok: boolean, need: Requirement, name: string, fn: () => void): void {
  if (ok) {
    describe(name, fn);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      test(`requires ${need.requires}`, () => {
        throw new Error(`${need.why}; CI=true forbids skipping them.`);
      });
    });
  } else {
    // eslint-disable-next-line no-console
    console.warn(`SKIPPED "${name}": ${need.why}. ${need.remedy} (CI=true makes this a failure).`);
    describe.skip(`${name} [skipped: ${need.missing} — ${need.why}]`, fn);
  }
}

/** Runs a command and collects its output (killed with SIGKILL after `timeoutMs`, default 30 s). */
export function runCommand(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      const r: ExecResult = {
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        status,
        signal,
        pid: child.pid,
      };
      if (opts.check && (status !== 0 || timedOut)) {
        reject(
          new Error(
            `${cmd} ${args.join(' ')} ${timedOut ? 'timed out' : `exited ${status ?? signal}`}: ${r.stderr.trim()}`,
          ),
        );
      } else {
        resolve(r);
      }
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

function ipSync(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Whether a process exists (EPERM: it does, but is not ours to signal). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Pids of the processes inside a named namespace. */
export function netnsPids(name: string): number[] {
  const r = ipSync(['netns', 'pids', name]);
  if (r.status !== 0) return [];
  return r.stdout
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
}

/** Names of the existing namespaces made by this helper (`sd-<pid>-<n>`). */
export function listSdNetns(): string[] {
  let names: string[] = [];
  try {
    names = readdirSync(NETNS_DIR);
  } catch {
    names = [];
  }
  return names.filter((n) => NAME_RE.test(n)).sort();
}

function killAndDelete(name: string): void {
  for (let round = 0; round < 50; round++) {
    const pids = netnsPids(name).filter((p) => p !== process.pid);
    if (pids.length === 0) break;
    for (const p of pids) {
      try {
        process.kill(p, round < 10 ? 'SIGTERM' : 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    spawnSync('sleep', ['0.02']);
  }
  const r = ipSync(['netns', 'del', name]);
  if (r.status !== 0 && existsSync(path.join(NETNS_DIR, name))) {
    throw new Error(`ip netns del ${name} failed: ${r.stderr.trim()}`);
  }
}

/**
 * Remove `sd-<pid>-<n>` namespaces left over by earlier runs whose creating process is
 * dead (never those of a live process, e.g. a parallel jest worker). Returns their names.
 */
export function cleanStaleNetns(creatorAlive: (pid: number) => boolean = pidAlive): string[] {
  const removed: string[] = [];
  for (const name of listSdNetns()) {
    const pid = Number(NAME_RE.exec(name)![1]);
    if (pid === process.pid || creatorAlive(pid)) continue;
    killAndDelete(name);
    removed.push(name);
  }
  return removed;
}

let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const name of live) {
      try {
        killAndDelete(name);
      } catch {
        /* best effort */
      }
    }
  });
}

/**
 * `ip netns add NAME`, but with a private TCP hash table of `entries` buckets. The knob
 * (net.ipv4.tcp_child_ehash_entries) is read from the namespace that creates a new one, so
 * it is set in a throwaway `unshare -n` namespace (never on the host), a second `unshare -n`
 * creates ours inside it, and `ip netns attach` pins that from the host.
 */
async function addWithPrivateEhash(name: string, entries: number): Promise<void> {
  const script = `echo ${entries} > /proc/sys/net/ipv4/tcp_child_ehash_entries && exec unshare -n sh -c 'echo ready; exec cat >/dev/null'`;
  const holder = spawn('unshare', ['-n', 'sh', '-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error('unshare helper did not start')), 10_000);
      holder.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      holder.on('exit', (code) => reject(new Error(`unshare helper exited with ${code}`)));
    });
    // sh, unshare and sh all exec, so the helper's pid lives in the new namespace.
    await runCommand('ip', ['netns', 'attach', name, String(holder.pid)], { check: true });
  } finally {
    holder.stdin.end();
    if (holder.exitCode === null) holder.kill('SIGKILL');
  }
}

/** Create a fresh namespace `sd-<pid>-<n>` with lo up (after removing stale ones). */
export async function createNetns(opts: { ehashEntries?: number } = {}): Promise<Netns> {
  if (!isRoot()) throw new Error(ROOT_MESSAGE);
  cleanStaleNetns();
  installExitHook();
  let name = '';
  for (;;) {
    name = `sd-${process.pid}-${++counter}`;
    if (!existsSync(path.join(NETNS_DIR, name))) break;
  }
  if (opts.ehashEntries) await addWithPrivateEhash(name, opts.ehashEntries);
  else await runCommand('ip', ['netns', 'add', name], { check: true });
  live.add(name);
  try {
    await runCommand('ip', ['-n', name, 'link', 'set', 'lo', 'up'], { check: true });
  } catch (e) {
    live.delete(name);
    killAndDelete(name);
    throw e;
  }
  const populations = new Set<Population>();
  let destroyed = false;

  const ns: Netns = {
    name,
    path: path.join(NETNS_DIR, name),
    exec(argv, opts) {
      if (destroyed) return Promise.reject(new Error(`netns ${name} was destroyed`));
      return runCommand('ip', ['netns', 'exec', name, ...argv], opts);
    },
    async spawnPopulation(spec = {}) {
      if (destroyed) throw new Error(`netns ${name} was destroyed`);
      const pop = await startPopulation(name, spec);
      populations.add(pop);
      return pop;
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await Promise.all([...populations].map((p) => p.stop().catch(() => undefined)));
      killAndDelete(name);
      live.delete(name);
    },
  };
  return ns;
}

/**
 * Waits until the namespace holds exactly `count` sockets: the `sockets: used` line of its
 * /proc/net/sockstat, which is what `ss -s` and `sockdiag -s` print as `Total:`. A closed
 * netlink socket is freed only after an RCU grace period, so the sockets of a command that
 * has just exited still count for a while (tens of ms, more under load); comparing two
 * `-s` outputs taken at different moments needs this settled first. Rejects after
 * `timeoutMs` with the last count: a count that never comes back is a socket left open.
 */
export async function waitSocketsInUse(ns: Netns, count: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { stdout } = await ns.exec(['cat', '/proc/net/sockstat'], { check: true });
    const used = Number(/^sockets: used (\d+)$/m.exec(stdout)?.[1]);
    if (used === count) return;
    if (Date.now() > deadline) throw new Error(`netns ${ns.name} still holds ${used} sockets after ${timeoutMs} ms, not ${count}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The sockets of population.py's JSON line (cookies are decimal strings there). */
export type RawPopSocket = Record<string, unknown> & { cookie: string | null };

/** population.py's socket records with their cookies as bigints. */
export function popSockets(raw: readonly RawPopSocket[]): PopSocket[] {
  return raw.map((s) => ({ ...s, cookie: s.cookie === null ? null : BigInt(s.cookie) }) as PopSocket);
}

interface RawPopulation {
  pid: number;
  comm: string;
  children?: number[];
  netns: string;
  unixDir: string | null;
  uid: number;
  sockets: RawPopSocket[];
  refused: Refusal[];
  warnings: string[];
  extra: null | {
    family: 'inet' | 'inet6';
    address: string;
    port: number;
    listenerCookie: string;
    listenerInode: number;
    pairs: [string, string, number, number, number][];
  };
}

function startPopulation(nsName: string, spec: PopulationSpec): Promise<Population> {
  const { timeoutMs = 60_000, ...pySpec } = spec;
  const child: ChildProcessWithoutNullStreams = spawn(
    'ip',
    ['netns', 'exec', nsName, pythonBinary(), POPULATION_PY, JSON.stringify(pySpec)],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (!stopped) {
      stopped = true;
      child.stdin.end();
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      await exited;
      return;
    }
    const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(t);
  };

  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`population.py in ${nsName}: ${why}${err ? `\n${err.trim()}` : ''}`));
    };
    const timer = setTimeout(() => fail(`no JSON line after ${timeoutMs} ms`), timeoutMs);
    child.stdin.on('error', () => undefined);
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString('utf8');
    });
    child.on('error', (e) => fail(e.message));
    child.on('close', (status, signal) => fail(`exited (${status ?? signal}) before printing its JSON line`));
    child.stdout.on('data', (b: Buffer) => {
      if (settled) return;
      out += b.toString('utf8');
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      let raw: RawPopulation;
      try {
        raw = JSON.parse(out.slice(0, nl)) as RawPopulation;
      } catch (e) {
        fail(`bad JSON: ${(e as Error).message}`);
        return;
      }
      settled = true;
      clearTimeout(timer);
      const sockets = popSockets(raw.sockets);
      const byName = new Map(sockets.map((s) => [s.name, s]));
      resolve({
        pid: raw.pid,
        comm: raw.comm,
        uid: raw.uid,
        children: raw.children ?? [],
        netns: raw.netns,
        unixDir: raw.unixDir ?? null,
        sockets,
        refused: raw.refused,
        warnings: raw.warnings,
        extra: raw.extra && {
          family: raw.extra.family,
          address: raw.extra.address,
          port: raw.extra.port,
          listenerCookie: BigInt(raw.extra.listenerCookie),
          listenerInode: raw.extra.listenerInode,
          pairs: raw.extra.pairs.map(([cc, sc, ci, si, cp]) => ({
            clientCookie: BigInt(cc),
            serverCookie: BigInt(sc),
            clientInode: ci,
            serverInode: si,
            clientPort: cp,
          })),
        },
        byName(name: string) {
          const s = byName.get(name);
          if (!s) throw new Error(`population has no socket named ${name}`);
          return s;
        },
        stop,
      });
    });
  });
}

/** A script started by {@link startPython}. */
export interface Helper {
  child: ChildProcessWithoutNullStreams;
  info: Record<string, unknown>;
  stop(): Promise<void>;
}

/**
 * Runs a python script (with `args` as its argv) inside the namespace until stopped;
 * resolves with its first JSON line. A script silent for `timeoutMs` is killed.
 */
export function startPython(ns: Netns | string, script: string, args: readonly string[] = [], timeoutMs = 20_000): Promise<Helper> {
  const name = typeof ns === 'string' ? ns : ns.name;
  const child = spawn('ip', ['netns', 'exec', name, pythonBinary(), '-c', script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const stop = async (): Promise<void> => {
    child.stdin.end();
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`helper: no JSON line after ${timeoutMs} ms ${err}`));
    }, timeoutMs);
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      resolve({ child, info: JSON.parse(out.slice(0, nl)) as Record<string, unknown>, stop });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`helper exited ${code} before its JSON line: ${err}`));
    });
    child.stdin.on('error', () => undefined);
  });
}
