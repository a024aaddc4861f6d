/**
 * Raw dumps (`ss -D FILE`): rawDump writes what ss writes, decodeDump reads ours and ss's
 * back into the same sockets as a listing, ss reads ours (TCPDIAG_FILE), and a cut file
 * is a DecodeError. The byte-level tests read the files recorded in test/fixtures/dumps
 * (an `ss -D` file and a legacy TCPDIAG_GETSOCK reply); the live ones need root.
 */
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { rawDump, decodeDump, RAW_SEQ_TAG, rawSequence } from '../lib/api/raw';
import { listSockets } from '../lib/api/list';
import { DecodeError, SockdiagSystemError } from '../lib/errors';
import { encodeInetMessage } from '../lib/diag/inet';
import { SOCK_DIAG_BY_FAMILY, TCPDIAG_GETSOCK } from '../lib/diag/constants';
import { NLMSG, NLM_F } from '../lib/netlink/message';
import type { Socket } from '../lib/diag/socket';
import type { ListOptions } from '../lib/api/options';
import { createNetns, describeRoot, Netns, Population, runCommand } from './helpers/netns';
import { expectSameSockets } from './helpers/same-sockets';
import { dumpMessages, expectRecorded, SS_DUMP, TCPDIAG_DUMP } from './helpers/dump-fixtures';

async function collect(opts: ListOptions): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const d of rawDump(opts)) parts.push(Buffer.from(d));
  return Buffer.concat(parts);
}

describe('decodeDump on recorded bytes (test/fixtures/dumps)', () => {
  const ssFile = readFileSync(SS_DUMP);
  const legacyFile = readFileSync(TCPDIAG_DUMP);

  test('a file written by ss -D decodes: its IPv4 dump then its IPv6 dump, every socket the population recorded', () => {
    const socks = decodeDump(ssFile);
    const msgs = dumpMessages(ssFile);
    expect(msgs.filter((m) => m.type === NLMSG.DONE)).toHaveLength(2);
    expect(socks.length + socks.duplicatesDropped).toBe(msgs.filter((m) => m.type === SOCK_DIAG_BY_FAMILY).length);
    expect(socks.every((s) => s.protocol === 'tcp')).toBe(true);
    // Every IPv4 socket comes before every IPv6 one, as ss dumps them; the kernel walks listeners first.
    const v4 = socks.filter((s) => s.family === 'inet');
    expect(v4.length).toBeGreaterThan(0);
    expect(socks.length).toBeGreaterThan(v4.length);
    expect(socks.findIndex((s) => s.family === 'inet6')).toBe(v4.length);
    expect([socks[0].state, socks[v4.length].state]).toEqual(['listening', 'listening']);
    expectRecorded(socks);
  });

  test('a legacy TCPDIAG_GETSOCK reply for AF_UNSPEC decodes: both families in one dump, the same sockets as ss\'s file', () => {
    const msgs = dumpMessages(legacyFile);
    expect(msgs.map((m) => m.type)).toEqual([...Array<number>(msgs.length - 1).fill(TCPDIAG_GETSOCK), NLMSG.DONE]);
    const socks = decodeDump(legacyFile);
    expect(socks).toHaveLength(msgs.length - 1);
    expect(new Set(socks.map((s) => s.family))).toEqual(new Set(['inet', 'inet6']));
    expectRecorded(socks);
    // Recorded one after the other: the same sockets, cookie for cookie.
    const keys = (list: readonly Socket[]): string[] => list.map((s) => `${s.cookie} ${s.state}`).sort();
    expect(keys(socks)).toEqual(keys(decodeDump(ssFile)));
  });

  test('a protocol hint applies only to messages that do not say theirs', () => {
    const udp = decodeDump(ssFile, { protocol: 'udp' });
    expect(udp.every((s) => s.protocol === 'udp')).toBe(true);
    // A legacy TCPDIAG reply type says TCP whatever the hint.
    const legacy = decodeDump(legacyFile, { protocol: 'udp' });
    expect(legacy.length).toBeGreaterThan(20);
    expect(legacy.every((s) => s.protocol === 'tcp')).toBe(true);
    // rawDump's sequence tag says which protocol, whatever the hint.
    const tagged = Buffer.from(ssFile);
    for (const { off } of dumpMessages(tagged)) tagged.writeUInt32LE(rawSequence('udp'), off + 8);
    expect(decodeDump(tagged, { protocol: 'tcp' }).every((s) => s.protocol === 'udp')).toBe(true);
    expect(rawSequence('udp') >>> 16).toBe(RAW_SEQ_TAG);
    expect(() => decodeDump(ssFile, { protocol: 'unix' as never })).toThrow(TypeError);
    expect(() => decodeDump('x' as never)).toThrow(TypeError);
  });

  test('every cut of either file is a DecodeError, except right after a NLMSG_DONE (a whole dump)', () => {
    for (const [b, dumps] of [[ssFile, 2], [legacyFile, 1]] as const) {
      const ends = new Set(dumpMessages(b).filter((m) => m.type === NLMSG.DONE).map((m) => m.off + m.len));
      expect(ends.size).toBe(dumps);
      let whole = 0;
      for (let cut = 0; cut < b.length; cut++) {
        const part = b.subarray(0, cut);
        if (ends.has(cut)) {
          whole++;
          // ss's file cut after its first dump: the IPv4 sockets.
          expect(decodeDump(part).every((s) => s.family === 'inet')).toBe(true);
          continue;
        }
        expect(() => decodeDump(part)).toThrow(DecodeError);
      }
      expect(whole).toBe(dumps - 1);
    }
  });

  test('an error recorded in the dump is thrown as the system error; foreign message types are a DecodeError', () => {
    const done = Buffer.alloc(20);
    done.writeUInt32LE(20, 0);
    done.writeUInt16LE(NLMSG.DONE, 4);
    done.writeInt32LE(-2, 16);
    expect(() => decodeDump(done)).toThrow(SockdiagSystemError);
    expect(() => decodeDump(done)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    const odd = encodeInetMessage({ msg: { family: 2, state: 1 } });
    odd.writeUInt16LE(16, 4); // RTM_NEWLINK
    done.writeInt32LE(0, 16);
    expect(() => decodeDump(Buffer.concat([odd, done]))).toThrow(DecodeError);
    // Duplicates by cookie are dropped and counted, as a listing does.
    const one = encodeInetMessage({ msg: { family: 2, state: 10, cookie: 7n }, flags: NLM_F.MULTI });
    const list = decodeDump(Buffer.concat([one, one, done]));
    expect(list).toHaveLength(1);
    expect(list.duplicatesDropped).toBe(1);
  });
});

describeRoot('raw dumps on live sockets', () => {
  let ns: Netns;
  let pop: Population;
  let dir: string;
  const ssIn = (args: string[], env?: NodeJS.ProcessEnv): Promise<string> =>
    runCommand('ip', ['netns', 'exec', ns.name, 'ss', ...args], { check: true, env: { ...process.env, ...env } }).then((r) => r.stdout);
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sd-raw-'));
    ns = await createNetns();
    pop = await ns.spawnPopulation({ kinds: ['tcp', 'udp', 'unix', 'packet', 'netlink'], extraTcpPairs: 200 });
  }, 120_000);
  afterAll(async () => {
    await pop?.stop();
    await ns?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a dump we write decodes back to the sockets a listing gives (every kind, by cookie)', async () => {
    const protocols = ['tcp', 'udp', 'unix', 'packet', 'netlink'] as const;
    const bytes = await collect({ netns: ns.name, protocols: [...protocols] });
    const listed = await listSockets({ netns: ns.name, protocols: [...protocols] });
    const decoded = decodeDump(bytes);
    // Our own sock_diag sockets come and go with each call.
    const ours = (s: Socket): boolean => s.protocol === 'netlink' && s.netlinkProtocol === 4;
    expect(expectSameSockets(decoded.filter((s) => !ours(s)), listed.filter((s) => !ours(s)), pop)).toBeGreaterThan(400);
    expect(new Set(decoded.map((s) => s.protocol))).toEqual(new Set(protocols));
    // Every message carries the tag of the protocol it answers.
    for (const { off, type } of dumpMessages(bytes)) {
      expect(bytes.readUInt32LE(off + 8) >>> 16).toBe(RAW_SEQ_TAG);
      if (type === SOCK_DIAG_BY_FAMILY && bytes[off + 16] === 2) expect([rawSequence('tcp'), rawSequence('udp')]).toContain(bytes.readUInt32LE(off + 8));
    }
  });

  test('a file written by ss -D decodes to the same sockets as our listing', async () => {
    const file = path.join(dir, 'ss.dump');
    await ssIn(['-tanim', '--tos', '-D', file]);
    const fromSs = decodeDump(readFileSync(file));
    const listed = await listSockets({ netns: ns.name, protocols: ['tcp'], extensions: ['meminfo', 'skmeminfo', 'info', 'vegas', 'cong', 'tos', 'tclass'] });
    expect(expectSameSockets(fromSs, listed, pop)).toBeGreaterThan(400);
    expect(fromSs.some((s) => s.family === 'inet6')).toBe(true);
  });

  test('ss reads our file (TCPDIAG_FILE): the same text as ss -tan -4 live and as its own -D file', async () => {
    const ours = path.join(dir, 'ours.dump');
    const theirs = path.join(dir, 'theirs.dump');
    writeFileSync(ours, await collect({ netns: ns.name, protocols: ['tcp'], extensions: 'none' }));
    await ssIn(['-tan', '-D', theirs]);
    const live = await ssIn(['-tan', '-4']);
    const fromOurs = await ssIn(['-tan'], { TCPDIAG_FILE: ours });
    const fromTheirs = await ssIn(['-tan'], { TCPDIAG_FILE: theirs });
    // ss reads up to the first NLMSG_DONE: the IPv4 dump of either file.
    expect(fromOurs).toBe(live);
    expect(fromOurs).toBe(fromTheirs);
    expect(fromOurs.split('\n').length).toBeGreaterThan(400);
    // Byte layout: the same message types in the same order as ss's file.
    const typesOf = (b: Buffer): number[] => dumpMessages(b).map((m) => m.type);
    expect(typesOf(readFileSync(ours))).toEqual(typesOf(readFileSync(theirs)));
  });

  test('a filter the kernel cannot fully run is applied to the raw bytes too', async () => {
    const port = pop.extra!.port;
    // unix dumps have no kernel filter: the expression is checked on each message here.
    const filter = `sport = :${port} or src unix:@sd-pop-*`;
    const stream = rawDump({ netns: ns.name, protocols: ['tcp', 'unix'], filter });
    const parts: Buffer[] = [];
    for await (const d of stream) parts.push(Buffer.from(d));
    const decoded = decodeDump(Buffer.concat(parts));
    const listed = await listSockets({ netns: ns.name, protocols: ['tcp', 'unix'], filter });
    expect(decoded.map((s) => s.cookie).sort()).toEqual(listed.map((s) => s.cookie).sort());
    expect(decoded.filter((s) => s.protocol === 'tcp').length).toBeGreaterThan(100);
    expect(decoded.filter((s) => s.protocol === 'unix').length).toBeGreaterThan(0);
    expect(stream.stats.filteredOut).toBeGreaterThan(0);
  });

  test('a cut file of ours is a DecodeError; processes cannot be recorded', async () => {
    const bytes = await collect({ netns: ns.name, protocols: ['udp', 'tcp'] });
    const done = new Set(dumpMessages(bytes).filter((m) => m.type === NLMSG.DONE).map((m) => m.off + m.len));
    for (let cut = 1; cut < bytes.length; cut += 97) {
      if (done.has(cut)) continue;
      expect(() => decodeDump(bytes.subarray(0, cut))).toThrow(DecodeError);
    }
    const udp = decodeDump(bytes).filter((s) => s.protocol === 'udp');
    expect(udp.length).toBeGreaterThan(0);
    await expect(collect({ netns: ns.name, processes: true })).rejects.toThrow(TypeError);
  });
});
