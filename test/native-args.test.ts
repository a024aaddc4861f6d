/**
 * F11: wrong argument types to the raw addon never crash it; each throws exactly a
 * TypeError (wrong type) or RangeError (number out of range), or succeeds where the value
 * is valid. The matrix runs in a child (test/fixtures/native-args.js) in a namespace of
 * its own. A Uint8Array view sends exactly its own bytes (strace, and the kernel).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Channel } from '../lib/netlink/channel';
import { checkEndianness, nativeBinding } from '../lib/netlink/binding';
import { SockdiagError } from '../lib/errors';
import { encodeInetRequest } from '../lib/diag/inet';
import { NLMSG, NLM_F } from '../lib/netlink/message';
import { createNetns, describeFreshNetns, describeRoot, freshNetns, Netns } from './helpers/netns';
import { exitOf, readUntil, readWithin, rawMessages, runChild } from './helpers/native';

interface MatrixRow {
  target: string;
  label: string;
  outcome: string;
  name?: string;
  message?: string;
  code?: string;
  errno?: number;
  syscall?: string;
}

const LABELS = [
  'undefined',
  'null',
  'NaN',
  '-1',
  '2**53',
  '1n',
  "''",
  "'x\\0y'",
  '{}',
  '[]',
  'Symbol()',
  '() => {}',
  'Buffer(0)',
  'Buffer(1 MiB)',
  'Uint8Array view at offset 3',
  'detached ArrayBuffer',
  'Uint8Array over a detached ArrayBuffer',
  'SharedArrayBuffer',
  'Uint8Array over a SharedArrayBuffer',
  'Proxy whose getter throws',
];
const NUMERIC_OPTIONS = ['protocol', 'groups', 'rcvbuf', 'recvSize'];
const OUT_OF_RANGE_NUMBERS = ['NaN', '-1', '2**53'];
// Objects that are neither arrays nor functions: accepted as the options object, as Node's
// own validateObject() does (unknown keys are ignored; the defaults apply).
const PLAIN_ENOUGH_OBJECTS = [
  '{}',
  'Buffer(0)',
  'Buffer(1 MiB)',
  'Uint8Array view at offset 3',
  'detached ArrayBuffer',
  'Uint8Array over a detached ArrayBuffer',
  'SharedArrayBuffer',
  'Uint8Array over a SharedArrayBuffer',
];

/**
 * The decision table. 'ok' = accepted; TypeError for a wrong type (an empty or NUL-bearing
 * path is a wrong value of the right type, which Node also reports as a TypeError);
 * RangeError for a number out of range (NaN included) and for a request shorter than one
 * netlink header; the Proxy's own error propagates unchanged when the options object's
 * getter throws (nothing to wrap: the caller's code threw); 'system EMSGSIZE' when the
 * kernel refuses a 1 MiB datagram (larger than the socket's send buffer).
 */
function expected(target: string, label: string): string {
  if (target === 'options') {
    if (label === 'undefined' || PLAIN_ENOUGH_OBJECTS.includes(label)) return 'ok';
    if (label === 'Proxy whose getter throws') return 'ProxyGetterError';
    return 'TypeError';
  }
  if (target.startsWith('options.')) {
    if (label === 'undefined') return 'ok';
    if (OUT_OF_RANGE_NUMBERS.includes(label)) return 'RangeError';
    return 'TypeError';
  }
  // send(request)
  if (label === 'Buffer(0)') return 'RangeError';
  if (label === 'Buffer(1 MiB)') return 'system EMSGSIZE';
  if (label === 'Uint8Array view at offset 3' || label === 'Uint8Array over a SharedArrayBuffer') return 'ok';
  return 'TypeError';
}

function observed(r: MatrixRow): string {
  if (r.outcome === 'Error' && typeof r.code === 'string' && typeof r.syscall === 'string') return `system ${r.code}`;
  return r.outcome;
}

/** The argument name the message must carry. */
function argumentName(target: string): string {
  return target === 'send' ? '"request"' : `"${target}"`;
}

describeFreshNetns('F11: wrong arguments to the raw addon, in a child in a namespace of its own', () => {
  test('the whole matrix (options, each option, send) × 20 values, in a child: exact error classes, no crash, exit 0', async () => {
    const r = await runChild<{ results: MatrixRow[]; fdsBefore: number; fdsAfter: number }>(freshNetns, 'native-args.js', [], { nodeArgs: ['--expose-gc'] });
    expect(exitOf(r)).toEqual({ status: 0, signal: null });
    const rows = r.json?.results;
    expect(rows).toBeDefined();
    const targets = ['options', ...NUMERIC_OPTIONS.map((k) => `options.${k}`), 'options.netns', 'send'];
    expect(rows!.length).toBe(targets.length * LABELS.length + 1);
    const mismatches: string[] = [];
    for (const target of targets) {
      for (const label of LABELS) {
        const row = rows!.find((x) => x.target === target && x.label === label);
        if (!row) {
          mismatches.push(`${target} × ${label}: missing`);
          continue;
        }
        const want = expected(target, label);
        const got = observed(row);
        if (got !== want) mismatches.push(`${target} × ${label}: expected ${want}, got ${got} (${row.message})`);
        else if ((got === 'TypeError' || got === 'RangeError') && !row.message?.includes(argumentName(target))) {
          mismatches.push(`${target} × ${label}: message does not name ${argumentName(target)}: ${row.message}`);
        } else if (got === 'system EMSGSIZE' && (row.errno !== -90 || row.syscall !== 'sendmsg')) {
          mismatches.push(`${target} × ${label}: EMSGSIZE without errno -90 / syscall sendmsg`);
        } else if (got === 'ProxyGetterError' && row.message !== 'proxy getter') {
          mismatches.push(`${target} × ${label}: not the getter's own error: ${row.message}`);
        }
      }
    }
    const noArg = rows!.find((x) => x.target === 'send' && x.label === '(no argument)');
    if (noArg?.outcome !== 'TypeError') mismatches.push(`send() with no argument: ${noArg?.outcome}`);
    expect(mismatches).toEqual([]);
    // No fd left behind by a failed or closed construction.
    expect(r.json!.fdsAfter).toBe(r.json!.fdsBefore);
  });

  test('strace: send() of a Uint8Array view at offset 3 writes exactly its 20 bytes', async () => {
    const strace = spawnSync('strace', ['-V'], { encoding: 'utf8' });
    if (strace.status !== 0) {
      if (process.env.CI === 'true') throw new Error('strace is missing; CI=true forbids skipping this test');
      // eslint-disable-next-line no-console
      console.warn('SKIPPED: strace is not installed');
      return;
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'sockdiag-strace-'));
    try {
      const out = path.join(dir, 'trace');
      const r = await runChild<{ sent: string }>(freshNetns, 'native-send-view.js', [], {
        prefix: ['strace', '-f', '-qq', '-e', 'trace=sendto', '-e', 'write=all', '-xx', '-o', out],
      });
      expect(exitOf(r)).toEqual({ status: 0, signal: null });
      const lines = readFileSync(out, 'utf8').split('\n');
      const calls: { line: string; hex: string }[] = [];
      for (let i = 0; i < lines.length; i++) {
        if (!/sendto\(/.test(lines[i]) || !lines[i].includes('AF_NETLINK')) continue;
        let hex = '';
        for (let j = i + 1; j < lines.length; j++) {
          const m = /\| [0-9a-f]{5} {2}((?:[0-9a-f]{2} {1,2})+)/.exec(lines[j]);
          if (!m) break;
          hex += m[1].replace(/\s+/g, '');
        }
        calls.push({ line: lines[i], hex });
      }
      expect(calls).toHaveLength(1);
      expect(calls[0].line).toMatch(/, 20, 0, \{sa_family=AF_NETLINK, nl_pid=0, nl_groups=0+\}, 12\) = 20$/);
      expect(calls[0].hex).toBe('14000000010001005aa55aa500000000aabbccdd');
      expect(calls[0].hex).toBe(r.json!.sent);
      expect(calls[0].hex).not.toContain('ee');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

});

describeRoot('F11: what the kernel receives from a view', () => {
  let ns: Netns;
  beforeAll(async () => {
    ns = await createNetns();
  });
  afterAll(async () => {
    await ns?.destroy();
  });

  test('the kernel sees only the view: bytes before it would void the request, bytes after it are a request the kernel refuses', async () => {
    const ch = Channel.open({ netns: ns.name });
    try {
      const seq = ch.nextSeq();
      const badSeq = ch.nextSeq();
      const good = encodeInetRequest({ family: 2, protocol: 6, states: 0xffffffff });
      good.writeUInt32LE(seq, 8);
      const bad = encodeInetRequest({ family: 200, protocol: 6, states: 0xffffffff });
      bad.writeUInt16LE(NLM_F.REQUEST | NLM_F.ACK, 6);
      bad.writeUInt32LE(badSeq, 8);
      const ab = new ArrayBuffer(3 + good.length + bad.length);
      const all = new Uint8Array(ab);
      all.fill(0xff, 0, 3);
      all.set(good, 3);
      all.set(bad, 3 + good.length);

      ch.send(new Uint8Array(ab, 3, good.length));
      const { messages } = await readUntil(ch, (m) => m.seq === seq && m.type === NLMSG.DONE);
      expect(messages[messages.length - 1].status).toBe(0);
      const after = await readWithin(ch, 200);
      const later = after !== 'timeout' && after !== null ? rawMessages(after) : [];
      expect([...messages, ...later].filter((m) => m.type === NLMSG.ERROR || m.seq === badSeq)).toEqual([]);

      // Control: sending the region that includes the trailing request gets its EINVAL.
      ch.send(new Uint8Array(ab, 3, good.length + bad.length));
      const control = await readUntil(ch, (m) => m.seq === badSeq);
      expect(control.messages[control.messages.length - 1]).toMatchObject({ type: NLMSG.ERROR, status: -22 });
    } finally {
      ch.close();
    }
  });
});

describe('loading the addon', () => {
  test('the tables assume a little-endian host: a big-endian one is a clear SockdiagError before the addon loads', () => {
    expect(() => checkEndianness('LE')).not.toThrow();
    let thrown: unknown;
    try {
      checkEndianness('BE');
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(SockdiagError);
    expect(thrown).toMatchObject({ code: 'ERR_SOCKDIAG_UNSUPPORTED_PLATFORM' });
    expect((thrown as Error).message).toMatch(/little-endian.*big-endian/);
    // This host passes, with its own endianness as the default.
    expect(() => checkEndianness()).not.toThrow();
    expect(typeof nativeBinding().Channel).toBe('function');
  });
});
