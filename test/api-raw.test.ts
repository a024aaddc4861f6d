/**
 * Raw dumps (`ss -D FILE`): rawDump writes what ss writes, decodeDump reads ours and ss's
 * back into the same sockets as a listing, ss reads ours (TCPDIAG_FILE), and a cut file
 * is a DecodeError.
 */
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { rawDump, decodeDump, RAW_SEQ_TAG, rawSequence } from '../lib/api/raw';
import { listSockets } from '../lib/api/list';
import { DecodeError, SockdiagSystemError } from '../lib/errors';
import { encodeInetMessage } from '../lib/diag/inet';
import { NLMSG, NLM_F } from '../lib/netlink/message';
import type { Socket } from '../lib/diag/socket';
import type { ListOptions } from '../lib/api/options';
import { createNetns, describeRoot, Netns, Population, runCommand } from './helpers/netns';
import { expectSameSockets } from './helpers/same-sockets';

const SS1 = path.join(__dirname, '..', '..', 'shared', 'reference', 'iproute2-data', 'ss1.dump');
const SS1_FALLBACK = '/work/shared/reference/iproute2-data/ss1.dump';
const ss1 = (): Buffer => {
  try {
    return readFileSync(SS1);
  } catch {
    return readFileSync(SS1_FALLBACK);
  }
};

/** The messages of a dump: [offset, length, type] each. */
function messages(b: Buffer): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  for (let off = 0; off + 16 <= b.length; off += (b.readUInt32LE(off) + 3) & ~3) out.push([off, b.readUInt32LE(off), b.readUInt16LE(off + 4)]);
  return out;
}


async function collect(opts: ListOptions): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const d of rawDump(opts)) parts.push(Buffer.from(d));
  return Buffer.concat(parts);
}

describe('decodeDump on bytes', () => {
  test("iproute2's ss1.dump (written by ss -D) decodes: IPv4 then IPv6 TCP sockets", () => {
    const b = ss1();
    const socks = decodeDump(b);
    const msgs = messages(b);
    const data = msgs.filter(([, , t]) => t === 20).length;
    expect(msgs.filter(([, , t]) => t === NLMSG.DONE)).toHaveLength(2);
    expect(socks.length + socks.duplicatesDropped).toBe(data);
    expect(socks.every((s) => s.protocol === 'tcp')).toBe(true);
    const v4 = socks.filter((s) => s.family === 'inet');
    const v6 = socks.filter((s) => s.family === 'inet6');
    expect(v4.length).toBeGreaterThan(0);
    expect(v6.length).toBeGreaterThan(0);
    // The first message: a listener on 0.0.0.0:22 (see the hexdump in ORIGIN.md's file).
    expect(socks[0]).toMatchObject({ family: 'inet', state: 'listening', local: { address: '0.0.0.0', port: 22 } });
    expect(socks.find((s) => s.family === 'inet6' && s.state === 'listening')).toMatchObject({ local: { address: '::', port: 22 } });
    // Every IPv4 socket comes before every IPv6 one, as ss dumps them.
    expect(socks.findIndex((s) => s.family === 'inet6')).toBe(v4.length);
  });

  test('a protocol hint applies only to messages that do not say theirs', () => {
    const udp = decodeDump(ss1(), { protocol: 'udp' });
    expect(udp.every((s) => s.protocol === 'udp')).toBe(true);
    // A legacy TCPDIAG reply type says TCP whatever the hint.
    const legacy = Buffer.from(ss1());
    for (const [off, , t] of messages(legacy)) if (t === 20) legacy.writeUInt16LE(18, off + 4);
    expect(decodeDump(legacy, { protocol: 'udp' }).every((s) => s.protocol === 'tcp')).toBe(true);
    // rawDump's sequence tag says which protocol, whatever the hint.
    const tagged = Buffer.from(ss1());
    for (const [off] of messages(tagged)) tagged.writeUInt32LE(rawSequence('udp'), off + 8);
    expect(decodeDump(tagged, { protocol: 'tcp' }).every((s) => s.protocol === 'udp')).toBe(true);
    expect(rawSequence('udp') >>> 16).toBe(RAW_SEQ_TAG);
    expect(() => decodeDump(ss1(), { protocol: 'unix' as never })).toThrow(TypeError);
    expect(() => decodeDump('x' as never)).toThrow(TypeError);
  });

  test('every cut of ss1.dump is a DecodeError, except right after a NLMSG_DONE (a whole dump)', () => {
    const b = ss1();
    const ends = new Set(messages(b).filter(([, , t]) => t === NLMSG.DONE).map(([off, len]) => off + len));
    let whole = 0;
    for (let cut = 0; cut < b.length; cut++) {
      const part = b.subarray(0, cut);
      if (ends.has(cut)) {
        whole++;
        const v4 = decodeDump(part);
        expect(v4.every((s) => s.family === 'inet')).toBe(true);
        continue;
      }
      expect(() => decodeDump(part)).toThrow(DecodeError);
    }
    expect(whole).toBe(1);
    expect(decodeDump(b).length).toBeGreaterThan(0);
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
    for (const [off, , t] of messages(bytes)) {
      expect(bytes.readUInt32LE(off + 8) >>> 16).toBe(RAW_SEQ_TAG);
      if (t === 20 && bytes[off + 16] === 2) expect([rawSequence('tcp'), rawSequence('udp')]).toContain(bytes.readUInt32LE(off + 8));
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
    const typesOf = (b: Buffer): number[] => messages(b).map(([, , t]) => t);
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
    const done = new Set(messages(bytes).filter(([, , t]) => t === NLMSG.DONE).map(([off, len]) => off + len));
    for (let cut = 1; cut < bytes.length; cut += 97) {
      if (done.has(cut)) continue;
      expect(() => decodeDump(bytes.subarray(0, cut))).toThrow(DecodeError);
    }
    const udp = decodeDump(bytes).filter((s) => s.protocol === 'udp');
    expect(udp.length).toBeGreaterThan(0);
    await expect(collect({ netns: ns.name, processes: true })).rejects.toThrow(TypeError);
  });
});
