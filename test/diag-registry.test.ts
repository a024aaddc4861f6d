import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { ALL_PROTOCOLS, SOCKET_KINDS, isProtocolName, kindOfFamily, kindOfRawTag, plansFor, socketKind, type PlanInput } from '../lib/diag/registry';
import { AF, IPPROTO, STATE_NUMBERS, type ProtocolName } from '../lib/diag/constants';
import { INET_PROTOCOLS } from '../lib/diag/inet';
import { encodeUnixMessage } from '../lib/diag/unix';
import { encodePacketMessage } from '../lib/diag/packet';
import { compileFilter } from '../lib/filter/bytecode';
import { parseFilter } from '../lib/filter/parse';

const ROOT = path.join(__dirname, '..');

const input = (over: Partial<PlanInput> = {}): PlanInput => ({ states: 1 << STATE_NUMBERS.established, inetFamilies: [AF.INET, AF.INET6], extensions: undefined, filtered: false, ...over });

describe('the socket-kind registry', () => {
  test('one row per protocol name, in listing order, with unique raw tags', () => {
    expect(ALL_PROTOCOLS).toEqual(['tcp', 'udp', 'udplite', 'raw', 'mptcp', 'sctp', 'dccp', 'unix', 'packet', 'netlink', 'vsock', 'tipc', 'xdp']);
    expect(new Set(SOCKET_KINDS.map((k) => k.rawTag)).size).toBe(SOCKET_KINDS.length);
    for (const k of SOCKET_KINDS) {
      expect(socketKind(k.protocol)).toBe(k);
      expect(kindOfRawTag(k.rawTag)).toBe(k);
    }
    expect(() => socketKind('bogus' as ProtocolName)).toThrow(TypeError);
    expect(isProtocolName('tcp')).toBe(true);
    expect(isProtocolName('inet')).toBe(false);
  });

  test('inet rows carry the IPPROTO numbers of the inet module; the others their AF', () => {
    for (const [name, n] of Object.entries(INET_PROTOCOLS)) {
      const k = socketKind(name as ProtocolName);
      expect([k.family, k.ipproto, k.rawTag, k.af]).toEqual(['inet', n, n, [AF.INET, AF.INET6]]);
    }
    expect(kindOfFamily(AF.UNIX)?.protocol).toBe('unix');
    expect(kindOfFamily(AF.XDP)?.protocol).toBe('xdp');
    expect(kindOfFamily(AF.INET)).toBeUndefined();
    expect(kindOfRawTag(0x8000 | AF.TIPC)?.protocol).toBe('tipc');
    expect(kindOfRawTag(IPPROTO.MPTCP)?.protocol).toBe('mptcp');
  });

  test('ss tables: unix, packet and vsock are split by socket type; udplite has none', () => {
    expect(socketKind('unix').ssTables.map((t) => [t.name, t.type, t.netid])).toEqual([
      ['unix_stream', 'stream', 'u_str'], ['unix_dgram', 'dgram', 'u_dgr'], ['unix_seqpacket', 'seqpacket', 'u_seq'],
    ]);
    expect(socketKind('udplite').ssTables).toEqual([]);
    const names = SOCKET_KINDS.flatMap((k) => k.ssTables.map((t) => t.name));
    expect(new Set(names).size).toBe(16);
  });

  test('plans: inet per family (or one TCP dump for both), stateless kinds only for the closed state', () => {
    const udp = plansFor('udp', input());
    expect(udp.map((p) => [p.context.family, p.request[16], p.request[17], p.exact])).toEqual([['inet', AF.INET, IPPROTO.UDP, true], ['inet6', AF.INET6, IPPROTO.UDP, true]]);
    expect(plansFor('tcp', input({ mixedFamilies: 'always' })).map((p) => [p.context.family, p.mixedFamilies])).toEqual([['inet+inet6', true]]);
    expect(plansFor('tcp', input({ mixedFamilies: 'filtered' }))).toHaveLength(2);
    const expr = parseFilter('dport = :22').expr!;
    const filtered = plansFor('tcp', input({ filtered: true, compiled: (family) => compileFilter(expr, { family }) }));
    expect(filtered.every((p) => p.exact && p.request.length > 72)).toBe(true);
    expect(plansFor('packet', input())).toEqual([]);
    const closed = input({ states: 1 << STATE_NUMBERS.closed, filtered: true });
    const [packet] = plansFor('packet', closed);
    expect([packet.context, packet.exact, packet.request[16]]).toEqual([{ operation: 'dump', family: 'packet', protocol: 'packet' }, false, AF.PACKET]);
    const [unix] = plansFor('unix', input());
    expect([unix.request[16], unix.exact]).toEqual([AF.UNIX, true]);
  });

  test('a kind decodes its own replies', () => {
    const u = encodeUnixMessage({ type: 'stream', state: 'listening', inode: 77, cookie: 5n });
    expect(socketKind('unix').codec().decode(u, 0, u.length)).toMatchObject({ protocol: 'unix', inode: 77, state: 'listening' });
    const p = encodePacketMessage({ type: 'raw', packetProtocol: 3, inode: 78, cookie: 6n });
    expect(kindOfFamily(AF.PACKET)!.codec().decode(p, 0, p.length)).toMatchObject({ protocol: 'packet', inode: 78 });
  });

  test('families other than inet load on first use', () => {
    // In a fresh process (the compiled library): planning TCP loads no other family's module.
    const script = `
      const r = require('./dist/diag/registry');
      const loaded = () => Object.keys(require.cache).filter((f) => /[\\\\/]diag[\\\\/](unix|packet|netlink|vsock|tipc|xdp)[\\\\/]/.test(f)).length;
      r.plansFor('tcp', { states: 2, inetFamilies: [2], extensions: undefined, filtered: false });
      const before = loaded();
      r.plansFor('unix', { states: 2, inetFamilies: [2], extensions: undefined, filtered: false });
      console.log(before, loaded() > 0);`;
    expect(execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' }).trim()).toBe('0 true');
  });
});
