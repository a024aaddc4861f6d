import {
  and, or, not, state, exclude, src, dst, dport, sport, dev, fwmark, cgroup, autobound, toFilter, ExprBuilder, FilterBuilder,
} from '../lib/filter/builder';
import { FilterValueError } from '../lib/filter/errors';
import { parseFilter } from '../lib/filter/parse';
import type { Filter } from '../lib/filter/ast';
import type { FilterNameResolver } from '../lib/filter/values';

type Built = ExprBuilder | FilterBuilder;

// Each builder expression next to the ss text it stands for: same AST, and its own text
// parses back to that AST.
const EQUIVALENT: Array<[Built, string]> = [
  [and(state('established'), or(dport.eq(22), sport.eq('ssh'))), 'state established ( dport = :22 or sport = :ssh )'],
  [state('fin-wait-1').where(or(sport.eq('http'), sport.eq('https')), dst('193.233.7/24')), 'state fin-wait-1 ( sport = :http or sport = :https ) dst 193.233.7/24'],
  [src('/tmp/.X11-unix/*', { family: 'unix' }), 'src unix:/tmp/.X11-unix/*'],
  [exclude('listening', 'time-wait').state('all'), 'exclude listening exclude time-wait state all'],
  [state('syn-recv'), 'state syn-rcv'],
  [src('10.0.0.0/8'), 'src 10.0.0.0/8'],
  [dst({ address: '::1', port: 443 }), 'dst [::1]:443'],
  [dst({ address: '2001:db8::/32', port: 'https' }), 'dst [2001:db8::/32]:443'],
  [dst({ address: '10.0.0.0', prefixLen: 8 }), 'dst 10.0.0.0/8'],
  [dst({ family: 'inet6', port: 22 }), 'dst inet6:*:22'],
  [dst({ address: 'localhost' }), 'dst localhost'],
  [dst({}), 'dst *'],
  [src({ family: 'unix', pattern: '@dbus*' }), 'src unix:@dbus*'],
  [src({ family: 'link', protocol: 0x0800, device: 'lo' }), 'src link:ip:lo'],
  [src({ family: 'netlink', protocol: 0, portId: 0 }), 'src netlink:rtnl:kernel'],
  [src({ family: 'vsock', cid: 2, port: 1234 }), 'src vsock:2:1234'],
  [dport.eq(22), 'dport = :22'],
  [dport.ne(22), 'dport != :22'],
  [dport.lt(1024), 'dport < :1024'],
  [dport.le(1024), 'dport <= :1024'],
  [sport.gt(1024), 'sport > :1024'],
  [sport.ge(1024), 'sport >= :1024'],
  [sport('>=', 'http'), 'sport geq :80'],
  [dport.eq('inet6::ssh'), 'dport = inet6::22'],
  [dport.eq(22, { family: 'inet' }), 'dport = inet::22'],
  [dport.eq('*'), 'dport = *'],
  [dport.ne(1024, { family: 'vsock' }), 'dport != vsock:1024'],
  [dev('lo'), 'dev lo'],
  [dev(1), 'dev 1'],
  [dev('0x2'), 'dev 2'],
  [dev.ne('eth0'), 'dev != eth0'],
  [fwmark(0x1, 0x3), 'fwmark = 0x1/0x3'],
  [fwmark(7), 'fwmark 7'],
  [fwmark('0x10/0xf0'), 'fwmark 16/240'],
  [fwmark.ne(1), 'fwmark != 1'],
  [cgroup('/system.slice'), 'cgroup /system.slice'],
  [cgroup.ne('/a b'), 'cgroup != /a\\ b'],
  [autobound(), 'autobound'],
  [not(autobound()), 'not autobound'],
  [autobound().not(), '! autobound'],
  [dport.eq(1).or(dport.eq(2)).and(dport.eq(3)), 'dport = :1 or dport = :2 and dport = :3'],
  [dport.eq(1).or(dport.eq(2).and(dport.eq(3))), 'dport = :1 or ( dport = :2 and dport = :3 )'],
  [and(dport.eq(1), dport.eq(2), dport.eq(3)), 'dport = :1 dport = :2 dport = :3'],
  [or(dport.eq(1), { kind: 'autobound' }), 'dport = :1 or autobound'],
  [and(state('established'), exclude('closed')), 'state established exclude closed'],
];

describe('builder output equals parser output for the same filter', () => {
  test.each(EQUIVALENT.map(([b, text]) => [text, b] as const))('%s', (text, b) => {
    const fromText = parseFilter(text);
    expect(b.toFilter()).toStrictEqual(fromText);
    // toString is ss syntax that parses back to the same AST.
    expect(parseFilter(String(b))).toStrictEqual(fromText);
  });
});

describe('builder shapes', () => {
  test('expressions alone give an ExprBuilder, with states a FilterBuilder', () => {
    expect(and(dport.eq(1), sport.eq(2))).toBeInstanceOf(ExprBuilder);
    expect(and(state('listening'), sport.eq(2))).toBeInstanceOf(FilterBuilder);
    expect(state('listening').where()).toStrictEqual(state('listening'));
    expect(() => and()).toThrow(TypeError);
  });

  test('builders are immutable', () => {
    const a = dport.eq(1);
    const b = a.or(dport.eq(2));
    expect(a.toFilter()).toStrictEqual(parseFilter('dport = :1'));
    expect(b.toFilter()).toStrictEqual(parseFilter('dport = :1 or dport = :2'));
    const s = state('established');
    s.exclude('closed');
    expect(s.toFilter()).toStrictEqual({ states: [{ include: true, word: 'established' }] });
  });

  test('toFilter accepts builders, raw expressions and filters', () => {
    const f: Filter = parseFilter('state listening');
    expect(toFilter(f)).toBe(f);
    expect(toFilter({ kind: 'autobound' })).toStrictEqual({ states: [], expr: { kind: 'autobound' } });
    expect(toFilter(dev('lo'))).toStrictEqual(parseFilter('dev lo'));
  });

  test('toString prints ss syntax', () => {
    expect(String(and(state('established'), or(dport.eq(22), sport.eq('ssh'))))).toBe('state established dport = :22 or sport = :22');
    expect(String(and(or(dport.eq(1), dport.eq(2)), src('10.0.0.0/8')))).toBe('( dport = :1 or dport = :2 ) and src 10.0.0.0/8');
    expect(String(dst({ address: '::1', port: 443 }))).toBe('dst [::1]:443');
  });

  test('a host name with several addresses becomes an or, as the parser makes it', () => {
    const resolver: FilterNameResolver = {
      hostAddresses: () => ['192.0.2.1', '2001:db8::1'],
      servicePorts: () => ({}),
      netlinkProtocol: () => undefined,
    };
    expect(dst('dual', { resolver }).toFilter()).toStrictEqual(parseFilter('dst dual', { resolver }));
    expect(dst('dual', { resolver }).expr.kind).toBe('or');
  });
});

describe('builder values are checked by the parser rules', () => {
  const bad: Array<[string, () => unknown]> = [
    ['port 70000', () => dport.eq(70000)],
    ['port -1', () => sport.lt(-1)],
    ['port 1.5', () => dport.eq(1.5)],
    ['unknown service', () => dport.eq('nosuchservice')],
    ['any port with <', () => dport.lt('*')],
    ['address 1.2.3.4.5', () => src('1.2.3.4.5')],
    ['address 999.1.1.1 in an object', () => dst({ address: '999.1.1.1' })],
    ['bad IPv6', () => dst({ address: '::g' })],
    ['prefix /33', () => dst({ address: '10.0.0.0', prefixLen: 33 })],
    ['prefix /129', () => dst('[::1/129]')],
    ['prefix without address', () => dst({ prefixLen: 8 })],
    ['host port 65536', () => dst({ address: '10.0.0.1', port: 65536 })],
    ['unknown host name', () => dst('nosuchhost.invalid')],
    ['inet6 family with an IPv4 address', () => dst({ family: 'inet6', address: '10.0.0.1' })],
    ['link protocol name', () => src({ family: 'link', protocol: 0x10000 })],
    ['netlink protocol 256', () => src({ family: 'netlink', protocol: 256 })],
    ['vsock port -1', () => src({ family: 'vsock', port: -1 })],
    ['device name with a slash', () => dev('a/b')],
    ['device index -1', () => dev(-1)],
    ['mark above 32 bits', () => fwmark(2 ** 32)],
    ['mask above 32 bits', () => fwmark(1, 2 ** 32)],
    ['mark text', () => fwmark('zzz')],
    ['empty cgroup', () => cgroup('')],
  ];
  test.each(bad)('%s → FilterValueError', (_name, fn) => {
    expect(fn).toThrow(FilterValueError);
  });

  test('state names: aliases and case are read as the parser reads them; unknown ones and new-syn-recv are refused', () => {
    expect(state('LISTENING' as 'listening').toFilter()).toStrictEqual(parseFilter('state listening'));
    expect(() => state('bogus' as 'listening')).toThrow(FilterValueError);
    expect(() => state('new-syn-recv')).toThrow(FilterValueError);
  });

  test('the error names the value', () => {
    expect(() => dport.eq(70000)).toThrow(expect.objectContaining({ token: '70000', input: '70000', code: 'ERR_SOCKDIAG_FILTER_VALUE' }));
  });
});
