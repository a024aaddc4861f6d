/**
 * The `processes` option against `ss -p` and `ss -T` on the same sockets, the /proc walk
 * while processes and threads come and go, and SELinux contexts (`ss -Z`/`-z`).
 *
 * Live parts run in a private namespace holding the test population (one process, and a
 * forked child sharing a UDP socket) and a threaded helper: three threads renamed with
 * prctl (ss -T shows each thread's own name), one of which unshared its fd table and holds
 * a socket no other thread has (ss -p, which reads /proc/PID/fd, does not see that one).
 * SELinux is off on this machine, so the "on" paths of the context lookups run on a
 * made-up /proc tree (fd links, stat, attr/current and a security.selinux xattr).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { listSockets } from '../lib/api/list';
import { scanProcesses, processScanOptions } from '../lib/proc/processes';
import { kernelContext, processContext, selinuxEnabled, SELINUX_UNAVAILABLE } from '../lib/proc/selinux';
import type { Socket } from '../lib/diag/socket';
import { libForChildren } from './helpers/destroy-lib';
import { createNetns, describeRoot, pythonBinary, runCommand, startPython, Netns, Population, type Helper } from './helpers/netns';

const SS_SHELL = 'mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null; exec ss "$@"';

/** inode → sorted `command pid [tid] fd` of its owners, from `ss -H -O -n -a -e -p [-T] -t -u -x`. */
async function ssOwners(ns: Netns, threads: boolean): Promise<Map<number, string[]>> {
  const args = ['-H', '-O', '-n', '-a', '-e', '-p', ...(threads ? ['-T'] : []), '-t', '-u', '-x'];
  const r = await ns.exec(['sh', '-c', SS_SHELL, 'sh', ...args], { check: true });
  const out = new Map<number, string[]>();
  for (const line of r.stdout.split('\n')) {
    if (line.trim() === '') continue;
    const tokens = line.trim().split(/\s+/);
    // inet rows carry ino:N with -e; a unix row's local "port" is its inode.
    const inode = tokens[0].startsWith('u_') ? Number(tokens[5]) : Number(/ ino:(\d+)/.exec(line)?.[1]);
    if (!Number.isInteger(inode)) throw new Error(`no inode in ${line}`);
    const users = /users:\((.*?\))\)/.exec(line)?.[1];
    if (users === undefined) continue;
    const owners: string[] = [];
    const re = /\("((?:[^"\\]|\\.)*)",pid=(\d+),(?:tid=(\d+),)?fd=(\d+)\)/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(users)) !== null) owners.push(owner(m[1], Number(m[2]), m[3] === undefined ? undefined : Number(m[3]), Number(m[4])));
    if (owners.length === 0) throw new Error(`bad users in ${line}`);
    if (inode !== 0) out.set(inode, [...(out.get(inode) ?? []), ...owners].sort());
  }
  return out;
}

const owner = (command: string, pid: number, tid: number | undefined, fd: number): string => `${command} pid=${pid}${tid === undefined ? '' : ` tid=${tid}`} fd=${fd}`;

function libOwners(sockets: readonly Socket[]): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const s of sockets) {
    if (!s.processes || s.inode === 0) continue;
    out.set(s.inode, s.processes.map((p) => owner(p.command, p.pid, p.tid, p.fd)).sort());
  }
  return out;
}

// Three renamed threads; thread 2 unshares its fd table (CLONE_FILES) and opens a socket of its own.
const THREADS_PY = `
import ctypes, json, os, socket, sys, threading
libc = ctypes.CDLL(None, use_errno=True)
keep = []
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(); keep.append(l)
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.bind(('::1', 0)); keep.append(u)
ready = threading.Barrier(4)
private = {}
def worker(i):
    libc.prctl(15, ('sd-thr-%d' % i).encode(), 0, 0, 0)
    if i == 2:
        if libc.unshare(0x400) != 0: raise OSError(ctypes.get_errno(), 'unshare')
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', 0)); keep.append(s)
        private['inode'] = os.fstat(s.fileno()).st_ino
    ready.wait()
    threading.Event().wait()
for i in range(3): threading.Thread(target=worker, args=(i,), daemon=True).start()
ready.wait()
print(json.dumps({'pid': os.getpid(), 'private': private['inode'], 'listen': os.fstat(l.fileno()).st_ino}), flush=True)
sys.stdin.read()
`;

// Forks children that open a socket, live a few ms and exit, and starts threads that do the same, until stdin closes.
const CHURN_PY = `
import ctypes, json, os, random, select, socket, sys, threading, time
libc = ctypes.CDLL(None)
def thread_once():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', 0))
    time.sleep(random.random() * 0.004); s.close()
print(json.dumps({'pid': os.getpid()}), flush=True)
n = 0
while not select.select([sys.stdin], [], [], 0)[0]:
    pid = os.fork()
    if pid == 0:
        libc.prctl(15, b'sd-churn', 0, 0, 0)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', 0))
        t = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        time.sleep(random.random() * 0.005)
        os._exit(0)
    threading.Thread(target=thread_once, daemon=True).start()
    n += 1
    if n % 8 == 0:
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0: break
            except ChildProcessError: break
    time.sleep(0.001)
`;

describe('processScanOptions: the listing option', () => {
  test('maps the processes option onto scan options', () => {
    expect(processScanOptions(undefined)).toBeUndefined();
    expect(processScanOptions(false)).toBeUndefined();
    expect(processScanOptions(true)).toEqual({});
    expect(processScanOptions({ threads: true })).toEqual({ threads: true, contexts: false });
    expect(processScanOptions({ contexts: true })).toEqual({ threads: false, contexts: true });
    expect(() => processScanOptions(7 as unknown as boolean)).toThrow(TypeError);
  });
});

describe('the walk on a made-up /proc tree: commands, threads, SELinux contexts', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(path.join(tmpdir(), 'sockdiag-proc-'));
    // pid 100 holds socket 4242 at fd 3 and 4343 at fd 7; thread 101 has its own name.
    // pid 200 holds 4242 too (a shared socket) and a non-socket fd.
    const task = (dir: string, comm: string, label: string, fds: Record<string, string>): void => {
      mkdirSync(path.join(dir, 'fd'), { recursive: true });
      mkdirSync(path.join(dir, 'attr'), { recursive: true });
      writeFileSync(path.join(dir, 'stat'), `1 (${comm}) S 0 0 0\n`);
      writeFileSync(path.join(dir, 'attr', 'current'), `${label}\0`);
      for (const [fd, target] of Object.entries(fds)) {
        symlinkSync(target, path.join(dir, 'fd', fd));
        if (target.startsWith('socket:')) {
          // The link resolves (relative to fd/) to a file that carries the socket's label.
          const file = path.join(dir, 'fd', target);
          writeFileSync(file, '');
          setXattr(file, 'security.selinux', `system_u:object_r:sock_${fd}_t:s0\0`);
        }
      }
    };
    for (const dir of [path.join(root, '100'), path.join(root, '100', 'task', '100')]) {
      task(dir, 'odd) name', 'system_u:system_r:app_t:s0', { '3': 'socket:[4242]', '7': 'socket:[4343]' });
    }
    task(path.join(root, '100', 'task', '101'), 'worker', 'system_u:system_r:worker_t:s0', { '3': 'socket:[4242]', '7': 'socket:[4343]' });
    for (const dir of [path.join(root, '200'), path.join(root, '200', 'task', '200')]) {
      task(dir, 'other', 'system_u:system_r:other_t:s0', { '0': '/dev/null', '5': 'socket:[4242]' });
    }
    mkdirSync(path.join(root, 'self'));
    mkdirSync(path.join(root, 'sys', 'initial_contexts'), { recursive: true });
    writeFileSync(path.join(root, 'sys', 'initial_contexts', 'kernel'), 'system_u:system_r:kernel_t:s0\0');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const sorted = <T>(xs: T[] | undefined): T[] => [...(xs ?? [])].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

  test('owners by inode with the command between the first ( and the last )', async () => {
    const map = await scanProcesses({ procRoot: root });
    expect(map.size).toBe(3);
    expect(sorted(map.lookup(4242))).toEqual([
      { pid: 100, command: 'odd) name', fd: 3 },
      { pid: 200, command: 'other', fd: 5 },
    ]);
    expect(map.lookup(4343)).toEqual([{ pid: 100, command: 'odd) name', fd: 7 }]);
    expect(map.lookup(1)).toBeUndefined();
  });

  test('threads: one row per thread, named after the thread, as ss -T', async () => {
    const map = await scanProcesses({ procRoot: root, threads: true });
    expect(sorted(map.lookup(4343))).toEqual([
      { pid: 100, tid: 100, command: 'odd) name', fd: 7 },
      { pid: 100, tid: 101, command: 'worker', fd: 7 },
    ]);
  });

  test('contexts with SELinux on: attr/current of the task and the security.selinux label of the socket', async () => {
    const map = await scanProcesses({ procRoot: root, threads: true, contexts: true, selinux: true });
    expect(sorted(map.lookup(4242))).toEqual([
      { pid: 100, tid: 100, command: 'odd) name', fd: 3, processContext: 'system_u:system_r:app_t:s0', socketContext: 'system_u:object_r:sock_3_t:s0' },
      { pid: 100, tid: 101, command: 'worker', fd: 3, processContext: 'system_u:system_r:worker_t:s0', socketContext: 'system_u:object_r:sock_3_t:s0' },
      { pid: 200, tid: 200, command: 'other', fd: 5, processContext: 'system_u:system_r:other_t:s0', socketContext: 'system_u:object_r:sock_5_t:s0' },
    ]);
    expect(await processContext(200, { procRoot: root, selinux: true })).toBe('system_u:system_r:other_t:s0');
    expect(await processContext(999, { procRoot: root, selinux: true })).toBe(SELINUX_UNAVAILABLE);
    expect(await kernelContext({ selinux: true, selinuxfs: path.join(root, 'sys') })).toBe('system_u:system_r:kernel_t:s0');
  });

  test('contexts with SELinux off: every context is "unavailable", nothing else changes', async () => {
    const map = await scanProcesses({ procRoot: root, contexts: true, selinux: false });
    expect(map.lookup(4343)).toEqual([{ pid: 100, command: 'odd) name', fd: 7, processContext: SELINUX_UNAVAILABLE, socketContext: SELINUX_UNAVAILABLE }]);
    expect(await processContext(200, { procRoot: root, selinux: false })).toBe(SELINUX_UNAVAILABLE);
    expect(await kernelContext({ selinux: false, selinuxfs: path.join(root, 'sys') })).toBe(SELINUX_UNAVAILABLE);
  });

  test('a missing proc root is a system error; bad pids are TypeErrors', async () => {
    await expect(scanProcesses({ procRoot: path.join(root, 'nope') })).rejects.toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'opendir' });
    await expect(processContext(0)).rejects.toThrow(TypeError);
    await expect(processContext(1.5)).rejects.toThrow(TypeError);
  });

  test("method: 'bpf' cannot do threads, contexts or another procRoot; an unknown method is a TypeError", async () => {
    await expect(scanProcesses({ method: 'bpf', threads: true })).rejects.toThrow(TypeError);
    await expect(scanProcesses({ method: 'bpf', contexts: true })).rejects.toThrow(TypeError);
    await expect(scanProcesses({ method: 'bpf', procRoot: root })).rejects.toThrow(TypeError);
    await expect(scanProcesses({ method: 'fast' as 'bpf' })).rejects.toThrow(TypeError);
    // The made-up tree is read by the /proc walk even with the default method.
    expect((await scanProcesses({ procRoot: root })).size).toBeGreaterThan(0);
  });
});

/** Owners in a scan whose parent is the churner (read from /proc/PID/stat while they live). */
function churnOwners(map: Awaited<ReturnType<typeof scanProcesses>>, churner: number): Array<{ pid: number; command: string }> {
  const out: Array<{ pid: number; command: string }> = [];
  for (const [, owners] of map.entries()) {
    for (const o of owners) {
      if (o.command !== 'sd-churn') continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${o.pid}/stat`, 'latin1');
      } catch {
        out.push(o); // gone already: the name alone says it was a child
        continue;
      }
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === churner) out.push(o);
    }
  }
  return out;
}

/** setxattr(2) through python (Node has none); the made-up tree lives in /tmp. */
function setXattr(file: string, name: string, value: string): void {
  const script = 'import os,sys; os.setxattr(sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3]))';
  const r = spawnSync(pythonBinary(), ['-c', script, file, name, Buffer.from(value, 'latin1').toString('hex')]);
  if (r.status !== 0) throw new Error(`setxattr ${file}: ${r.stderr.toString()}`);
}

describeRoot('processes in a namespace with a population', () => {
  let ns: Netns;
  let pop: Population;
  beforeAll(async () => {
    ns = await createNetns();
    pop = await ns.spawnPopulation({ kinds: ['tcp', 'udp', 'unix'] });
  }, 60_000);
  afterAll(async () => {
    await pop?.stop();
    await ns?.destroy();
  });

  describe('equal to ss -p and ss -T on the same sockets', () => {
    let threaded: Helper;
    beforeAll(async () => {
      threaded = await startPython(ns, THREADS_PY);
    }, 120_000);
    afterAll(async () => {
      await threaded?.stop();
    });

    test('processes: true = ss -tuaxp (pid, command, fd of every owner, shared sockets too)', async () => {
      const ss = await ssOwners(ns, false);
      const ours = libOwners(await listSockets({ netns: ns.name, protocols: ['tcp', 'udp', 'unix'], processes: true, extensions: 'none' }));
      expect(ours).toEqual(ss);
      // The population's shared socket has both holders; the thread-private socket is not seen without -T.
      const shared = pop.byName('udp4-shared');
      expect(ours.get(shared.inode)).toEqual([owner('python3', pop.pid, undefined, shared.fd!), owner('sd-pop child', pop.children[0], undefined, 200)].sort());
      expect(ours.has(threaded.info.private as number)).toBe(false);
      expect(ours.size).toBeGreaterThan(50);
    });

    test('processes: { threads: true } = ss -tuaxpT (a row per thread, thread names, a thread-private fd table)', async () => {
      const ss = await ssOwners(ns, true);
      const ours = libOwners(await listSockets({ netns: ns.name, protocols: ['tcp', 'udp', 'unix'], processes: { threads: true }, extensions: 'none' }));
      expect(ours).toEqual(ss);
      const pid = threaded.info.pid as number;
      // The listener is in every table (thread 2's is a copy made by unshare); the private socket only in thread 2's.
      const listen = ours.get(threaded.info.listen as number)!;
      expect(listen.map((o) => o.split(' ')[0]).sort()).toEqual(['python3', 'sd-thr-0', 'sd-thr-1', 'sd-thr-2']);
      expect(ours.get(threaded.info.private as number)).toEqual([expect.stringMatching(new RegExp(`^sd-thr-2 pid=${pid} tid=\\d+ fd=\\d+$`))]);
    });

    test('the BPF walk (used as root) finds exactly the owners the /proc walk finds, in the same order', async () => {
      const bpf = await scanProcesses({ method: 'bpf' });
      const proc = await scanProcesses({ method: 'proc' });
      const socks = await listSockets({ netns: ns.name, protocols: ['tcp', 'udp', 'unix'], extensions: 'none' });
      const inodes = socks.map((s) => s.inode).filter((i) => i !== 0);
      expect(inodes.length).toBeGreaterThan(50);
      const owners = (m: typeof bpf): unknown[] => inodes.map((i) => m.lookup(i) ?? null);
      expect(owners(bpf)).toEqual(owners(proc));
      // The forked child shares a socket: two owners, in pid order as /proc lists them.
      expect(bpf.lookup(pop.byName('udp4-shared').inode)).toEqual([
        { pid: pop.pid, command: 'python3', fd: pop.byName('udp4-shared').fd },
        { pid: pop.children[0], command: 'sd-pop child', fd: 200 },
      ]);
      // A thread's private fd table is not the process's (/proc/PID/fd shows the leader's).
      expect(bpf.lookup(threaded.info.private as number)).toBeUndefined();
    });

    test("without privileges (uid 65534, no capabilities) method 'auto' falls back to /proc; method bpf is EPERM", async () => {
      const lib = libForChildren();
      const script = `
        const { scanProcesses } = require(process.argv[1] + '/dist/proc/processes');
        (async () => {
          await scanProcesses({ method: 'auto' }); // a first scan may walk /proc without trying BPF
          const auto = await scanProcesses({ method: 'auto' });
          let bpf;
          try { await scanProcesses({ method: 'bpf' }); bpf = 'ok'; } catch (e) { bpf = { code: e.code, syscall: e.syscall }; }
          console.log(JSON.stringify({ uid: process.getuid(), own: auto.lookup(Number(process.argv[2])) ?? null, bpf }));
        })();`;
      const listen = pop.byName('tcp4-listen');
      const r = await ns.exec(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, '-e', script, lib, String(listen.inode)], { timeoutMs: 20_000 });
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
      const out = JSON.parse(r.stdout.trim()) as { uid: number; own: unknown; bpf: unknown };
      expect(out.uid).toBe(65534);
      // Another user's fds are not readable without privileges: the population's socket has no owner.
      expect(out.own).toBeNull();
      expect(out.bpf).toEqual({ code: 'EPERM', syscall: 'bpf(BPF_PROG_LOAD)' });
    });

    test("a BPF program is loaded only when asked: no bpf() call for the default method or processes: true, some for method 'bpf' and 'auto' (strace)", async () => {
      const lib = libForChildren();
      const script = `
        const { scanProcesses } = require(process.argv[1] + '/dist/proc/processes');
        const { listSockets } = require(process.argv[1] + '/dist/api/list');
        (async () => {
          const method = process.argv[2];
          for (let i = 0; i < 2; i++) {
            if (method === 'listing') await listSockets({ protocols: ['tcp'], processes: true, extensions: 'none' });
            else await scanProcesses(method === 'default' ? {} : { method });
          }
          console.log(JSON.stringify({ required: Object.keys(require.cache).some((f) => f.endsWith('bpf-owners.js')) }));
        })();`;
      const dir = mkdtempSync(path.join(tmpdir(), 'sockdiag-strace-'));
      const traced = async (method: string): Promise<{ bpfCalls: string[]; required: boolean }> => {
        const trace = path.join(dir, method);
        const r = await ns.exec(['strace', '-f', '-qq', '-e', 'trace=bpf', '-o', trace, process.execPath, '-e', script, lib, method], { timeoutMs: 30_000 });
        expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
        const bpfCalls = readFileSync(trace, 'utf8').split('\n').filter((l) => /\bbpf\(/.test(l));
        return { bpfCalls, required: (JSON.parse(r.stdout.trim()) as { required: boolean }).required };
      };
      try {
        expect(await traced('default')).toEqual({ bpfCalls: [], required: false });
        expect(await traced('listing')).toEqual({ bpfCalls: [], required: false });
        const bpf = await traced('bpf');
        expect(bpf.required).toBe(true);
        expect(bpf.bpfCalls.some((l) => l.includes('BPF_PROG_LOAD'))).toBe(true);
        // 'auto' as root uses the iterator from a process's second scan on.
        const auto = await traced('auto');
        expect(auto.required).toBe(true);
        expect(auto.bpfCalls.some((l) => l.includes('BPF_PROG_LOAD'))).toBe(true);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 60_000);

    test('contexts where SELinux is off: ss -Z refuses, sockdiag says "unavailable" for every owner', async () => {
      const z = await runCommand('ss', ['-Z', '-H', '-n']);
      expect(selinuxEnabled()).toBe(false);
      expect(z.status).toBe(1);
      expect(z.stderr).toBe('ss: SELinux is not enabled.\n');
      const map = await scanProcesses({ contexts: true });
      const shared = map.lookup(pop.byName('udp4-shared').inode)!;
      expect(shared).toHaveLength(2);
      for (const o of shared) expect(o).toMatchObject({ processContext: SELINUX_UNAVAILABLE, socketContext: SELINUX_UNAVAILABLE });
      expect(await processContext(pop.pid)).toBe(SELINUX_UNAVAILABLE);
      // Even where SELinux is assumed on, a socket without a label (sockfs here) reads as unavailable.
      const forced = await scanProcesses({ contexts: true, selinux: true });
      expect(forced.lookup(pop.byName('tcp4-listen').inode)).toEqual([
        expect.objectContaining({ pid: pop.pid, command: 'python3', socketContext: SELINUX_UNAVAILABLE }),
      ]);
    });
  });

  describe('processes that come and go during the walk', () => {
    let churn: Helper;
    beforeAll(async () => {
      churn = await startPython(ns, CHURN_PY);
    }, 120_000);
    afterAll(async () => {
      await churn?.stop();
    });

    test('no error, stable owners always found, churning owners named right or not at all', async () => {
      const stable = pop.sockets.filter((s) => s.fd !== null && s.inode !== 0 && s.name !== 'udp4-shared');
      let churnSeen = 0;
      const problems: string[] = [];
      const t0 = Date.now();
      let runs = 0;
      while (Date.now() - t0 < 3000 || runs < 4) {
        const threads = runs % 2 === 1;
        const socks = await listSockets({ netns: ns.name, protocols: ['udp', 'unix', 'tcp'], processes: threads ? { threads: true } : true, extensions: 'none' });
        runs++;
        const byInode = new Map(socks.map((s) => [s.inode, s]));
        for (const p of stable) {
          const got = byInode.get(p.inode)?.processes?.filter((o) => o.pid === pop.pid);
          const want = threads ? [{ pid: pop.pid, tid: pop.pid, command: 'python3', fd: p.fd }] : [{ pid: pop.pid, command: 'python3', fd: p.fd }];
          if (!isDeepStrictEqual(got, want)) problems.push(`run ${runs}: ${p.name}: ${JSON.stringify(got)}`);
        }
        // The walk alone, which sees the short-lived children more often than a listing does
        // (a child's socket must also be in the dump): named after themselves, never another process.
        const bare = await scanProcesses(threads ? { threads: true } : {});
        for (const { pid, command } of churnOwners(bare, churn.info.pid as number)) {
          churnSeen++;
          if (command !== 'sd-churn' && command !== 'python3') problems.push(`bare walk: churn child ${pid} named ${JSON.stringify(command)}`);
        }
        for (const s of socks) {
          for (const o of s.processes ?? []) {
            if (o.pid === pop.pid || o.pid === pop.children[0]) continue;
            if (o.pid === churn.info.pid) {
              // A thread of the churner: its main command (or the thread's own name with -T).
              if (o.command !== 'python3' && o.command !== '') problems.push(`churner socket named ${o.command}`);
            } else {
              churnSeen++;
              if (o.command !== 'sd-churn' && o.command !== '' && o.command !== 'python3') problems.push(`churn child ${o.pid} named ${JSON.stringify(o.command)}`);
            }
          }
        }
      }
      expect(problems.slice(0, 10)).toEqual([]);
      // The churn did run during the walks (its sockets were seen with owners).
      expect(churnSeen).toBeGreaterThan(0);
      expect(runs).toBeGreaterThanOrEqual(4);
    }, 120_000);

    test('the bare scan while the churn goes on: walks with and without threads for 2 s, none fails', async () => {
      const t0 = Date.now();
      for (let i = 0; Date.now() - t0 < 2000 || i < 4; i++) {
        const map = await scanProcesses({ threads: i % 2 === 0 });
        expect(map.lookup(pop.byName('tcp4-listen').inode)?.[0]).toMatchObject({ pid: pop.pid, fd: pop.byName('tcp4-listen').fd });
      }
    }, 120_000);
  });
});
