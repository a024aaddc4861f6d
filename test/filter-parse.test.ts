import fc from 'fast-check';
import type { Filter, FilterExpr, Host, HostFamily, InetHost, PortOp, StateClause, StateWord } from '../lib/filter/ast';
import { FilterSyntaxError, FilterValueError, FilterError, formatFilterError } from '../lib/filter/errors';
import { parseFilter, parseFilterWords } from '../lib/filter/parse';
import { filterToString } from '../lib/filter/print';
import { FilterNameResolver, filesResolver } from '../lib/filter/values';
import { formatIPv6 } from '../lib/diag/inet/address';
import { describeFreshNetns, freshNetns } from './helpers/netns';

// Plain-object helpers, so that expected ASTs stay readable (they build data, nothing more).
const inet = (h: Omit<InetHost, 'family'> & { family?: 'inet' | 'inet6' }): InetHost => ({ family: undefined, ...h });
const host = (side: 'src' | 'dst', h: Host): FilterExpr => ({ kind: 'host', side, host: h });
const port = (side: 'src' | 'dst', op: PortOp, p: number, family?: 'inet' | 'inet6'): FilterExpr =>
  family === undefined ? { kind: 'port', side, op, port: p } : { kind: 'port', side, op, port: p, family };
const dport = (op: PortOp, p: number, family?: 'inet' | 'inet6'): FilterExpr => port('dst', op, p, family);
const sport = (op: PortOp, p: number, family?: 'inet' | 'inet6'): FilterExpr => port('src', op, p, family);
const and = (...items: FilterExpr[]): FilterExpr => ({ kind: 'and', items });
const or = (...items: FilterExpr[]): FilterExpr => ({ kind: 'or', items });
const not = (item: FilterExpr): FilterExpr => ({ kind: 'not', item });
const st = (word: StateWord): StateClause => ({ include: true, word });
const ex = (word: StateWord): StateClause => ({ include: false, word });

interface Valid {
  text: string;
  family?: HostFamily;
  states?: StateClause[];
  expr?: FilterExpr;
  /** false: ss itself cannot accept it here (why in the comment); the cross-check skips it. */
  ss?: false;
}

// Every filter of ss(8): USAGE EXAMPLES and the inline ones.
const MAN_PAGE: Valid[] = [
  // ss -t -a / ss -u -a / ss -a -A 'all,!tcp': no filter at all.
  { text: '', states: [] },
  // ss -o state established '( dport = :ssh or sport = :ssh )'
  { text: 'state established ( dport = :ssh or sport = :ssh )', states: [st('established')], expr: or(dport('=', 22), sport('=', 22)) },
  // ss -x src /tmp/.X11-unix/*
  { text: 'src /tmp/.X11-unix/*', family: 'unix', expr: host('src', { family: 'unix', pattern: '/tmp/.X11-unix/*' }) },
  // ss -o state fin-wait-1 '( sport = :http or sport = :https )' dst 193.233.7/24
  {
    text: 'state fin-wait-1 ( sport = :http or sport = :https ) dst 193.233.7/24',
    states: [st('fin-wait-1')],
    expr: and(or(sport('=', 80), sport('=', 443)), host('dst', inet({ address: '193.233.7.0', prefixLen: 24 }))),
  },
  // "fwmark = 0x01/0x03"
  { text: 'fwmark = 0x01/0x03', expr: { kind: 'fwmark', op: '=', mark: 1, mask: 3 } },
];

const VALID: Valid[] = [
  // STATE-FILTER: every state, every group, aliases, case, interleaving.
  { text: 'state established state syn-sent state syn-recv state fin-wait-1 state fin-wait-2 state time-wait', states: ['established', 'syn-sent', 'syn-recv', 'fin-wait-1', 'fin-wait-2', 'time-wait'].map((w) => st(w as StateWord)) },
  { text: 'state closed state close-wait state last-ack state listening state closing', states: ['closed', 'close-wait', 'last-ack', 'listening', 'closing'].map((w) => st(w as StateWord)) },
  { text: 'state bound-inactive', states: [st('bound-inactive')], ss: false }, // newer than the iproute2 6.1 here
  { text: 'state all exclude connected state synchronized exclude bucket state big', states: [st('all'), ex('connected'), st('synchronized'), ex('bucket'), st('big')] },
  { text: 'state close state unconnected state syn-rcv state UNKNOWN', states: [st('closed'), st('closed'), st('syn-recv'), st('unknown')] },
  { text: 'excl time-wait exclude LISTENING', states: [ex('time-wait'), ex('listening')] },
  { text: 'exclude listening dport = :22', states: [ex('listening')], expr: dport('=', 22) },
  // Operators and their aliases.
  { text: 'dport = :22 or sport = :22', expr: or(dport('=', 22), sport('=', 22)) },
  { text: 'dport = :22 | sport = :22 || sport = :23', expr: or(dport('=', 22), sport('=', 22), sport('=', 23)) },
  { text: 'dport = :22 and sport = :22', expr: and(dport('=', 22), sport('=', 22)) },
  { text: 'dport = :22 & sport = :22 && sport = :23', expr: and(dport('=', 22), sport('=', 22), sport('=', 23)) },
  { text: 'dport = :22 sport = :22', expr: and(dport('=', 22), sport('=', 22)) },
  { text: 'not dport = :22', expr: not(dport('=', 22)) },
  { text: '! dport = :22', expr: not(dport('=', 22)) },
  { text: 'not not autobound', expr: not(not({ kind: 'autobound' })) },
  { text: 'not ( dport = :1 or dport = :2 )', expr: not(or(dport('=', 1), dport('=', 2))) },
  // ss groups and/or from the left, with equal precedence (its bytecode shows it).
  { text: 'dport = :1 or dport = :2 and dport = :3', expr: and(or(dport('=', 1), dport('=', 2)), dport('=', 3)) },
  { text: 'dport = :1 and dport = :2 or dport = :3', expr: or(and(dport('=', 1), dport('=', 2)), dport('=', 3)) },
  { text: 'dport = :1 or ( dport = :2 and dport = :3 )', expr: or(dport('=', 1), and(dport('=', 2), dport('=', 3))) },
  { text: 'dport = :1 or ( dport = :2 or dport = :3 )', expr: or(dport('=', 1), or(dport('=', 2), dport('=', 3))) },
  { text: '( dport = :1 or dport = :2 ) or dport = :3', expr: or(dport('=', 1), dport('=', 2), dport('=', 3)) },
  { text: '( ( ( autobound ) ) )', expr: { kind: 'autobound' } },
  { text: 'not dport = :1 or dport = :2', expr: or(not(dport('=', 1)), dport('=', 2)) },
  { text: 'dport = :1 ( sport = :2 or sport = :3 )', expr: and(dport('=', 1), or(sport('=', 2), sport('=', 3))) },
  // Port operators, every alias.
  { text: 'dport < :1024', expr: dport('<', 1024) },
  { text: 'dport lt :1024', expr: dport('<', 1024) },
  { text: 'dport <= :1024', expr: dport('<=', 1024) },
  { text: 'dport le :1024', expr: dport('<=', 1024) },
  { text: 'dport leq :1024', expr: dport('<=', 1024) },
  { text: 'sport > :1024', expr: sport('>', 1024) },
  { text: 'sport gt :1024', expr: sport('>', 1024) },
  { text: 'sport >= :1024', expr: sport('>=', 1024) },
  { text: 'sport ge :1024', expr: sport('>=', 1024) },
  { text: 'sport geq :1024', expr: sport('>=', 1024) },
  { text: 'sport == :53', expr: sport('=', 53) },
  { text: 'sport eq :53', expr: sport('=', 53) },
  { text: 'sport :53', expr: sport('=', 53) },
  { text: 'sport != :53', expr: sport('!=', 53) },
  { text: 'sport ne :53', expr: sport('!=', 53) },
  { text: 'sport neq :53', expr: sport('!=', 53) },
  // Port forms.
  { text: 'dport = 22', expr: dport('=', 22) },
  { text: 'dport = :0x16', expr: dport('=', 22) },
  { text: 'dport = :026', expr: dport('=', 22) },
  { text: 'dport = :0', expr: dport('=', 0) },
  { text: 'dport = :65535', expr: dport('=', 65535) },
  { text: 'dport = :www', expr: dport('=', 80) },
  { text: 'dport = :domain', expr: dport('=', 53) },
  { text: 'dport = :bootps', expr: dport('=', 67) },
  { text: 'dport = inet::https', expr: dport('=', 443, 'inet') },
  { text: 'dport = inet6::22', expr: dport('=', 22, 'inet6') },
  { text: 'dport = inet6:22', expr: dport('=', 22, 'inet6') },
  { text: 'dport >= :80', family: 'inet6', expr: dport('>=', 80, 'inet6') },
  { text: 'dport = *', expr: host('dst', inet({})) },
  { text: 'sport != inet:*', expr: not(host('src', inet({ family: 'inet' }))) },
  // dst/src with inet hosts.
  { text: 'dst 10.0.0.1', expr: host('dst', inet({ address: '10.0.0.1' })) },
  { text: 'dst = 10.0.0.1', expr: host('dst', inet({ address: '10.0.0.1' })) },
  { text: 'dst == 10.0.0.1', expr: host('dst', inet({ address: '10.0.0.1' })) },
  { text: 'src eq 10.0.0.1', expr: host('src', inet({ address: '10.0.0.1' })) },
  { text: 'src 10.0.0.0/8', expr: host('src', inet({ address: '10.0.0.0', prefixLen: 8 })) },
  { text: 'src 10.0.0.0/255.255.0.0', expr: host('src', inet({ address: '10.0.0.0', prefixLen: 16 })) },
  { text: 'src 10.1.2.3:22', expr: host('src', inet({ address: '10.1.2.3', port: 22 })) },
  { text: 'src 10.1.2.3/32:ssh', expr: host('src', inet({ address: '10.1.2.3', prefixLen: 32, port: 22 })) },
  { text: 'src 0x7f.1', expr: host('src', inet({ address: '127.1.0.0' })) },
  { text: 'src 127', expr: host('src', inet({ address: '127.0.0.0' })) },
  { text: 'dst 0.0.0.0/0', expr: host('dst', inet({ address: '0.0.0.0', prefixLen: 0 })) },
  { text: 'dst *', expr: host('dst', inet({})) },
  { text: 'dst *:443', expr: host('dst', inet({ port: 443 })) },
  { text: 'dst :443', expr: host('dst', inet({ port: 443 })) },
  { text: 'dst 10.0.0.1:*', expr: host('dst', inet({ address: '10.0.0.1' })) },
  { text: 'dst any', expr: host('dst', inet({})) },
  { text: 'dst [::1]', expr: host('dst', inet({ address: '::1' })) },
  { text: 'dst [::1]:443', expr: host('dst', inet({ address: '::1', port: 443 })) },
  { text: 'dst [2001:DB8:0:0::1/64]:https', expr: host('dst', inet({ address: '2001:db8::1', prefixLen: 64, port: 443 })) },
  { text: 'dst [::ffff:10.0.0.1]', expr: host('dst', inet({ address: '::ffff:10.0.0.1' })) },
  { text: 'dst [*]:22', expr: host('dst', inet({ port: 22 })) },
  { text: 'dst fe80::/10', expr: host('dst', inet({ address: 'fe80::', prefixLen: 10 })) },
  { text: 'dst ::1:22', expr: host('dst', inet({ address: '::1', port: 22 })) },
  { text: 'dst inet:10.0.0.1', expr: host('dst', inet({ family: 'inet', address: '10.0.0.1' })) },
  { text: 'dst inet6:[::1]', expr: host('dst', inet({ family: 'inet6', address: '::1' })) },
  { text: 'dst inet6:*:22', expr: host('dst', inet({ family: 'inet6', port: 22 })) },
  { text: 'dst localhost', expr: host('dst', inet({ address: '127.0.0.1' })) },
  { text: 'dst localhost:ssh', expr: host('dst', inet({ address: '127.0.0.1', port: 22 })) },
  { text: 'dst 10.0.0.1', family: 'inet', expr: host('dst', inet({ family: 'inet', address: '10.0.0.1' })) },
  // unix: globs, kept as text, with or without the family given by the options.
  { text: 'src unix:/run/*.sock', expr: host('src', { family: 'unix', pattern: '/run/*.sock' }) },
  { text: 'dst unix:@abstract*', expr: host('dst', { family: 'unix', pattern: '@abstract*' }) },
  { text: 'src unix:/tmp/a\\ b', expr: host('src', { family: 'unix', pattern: '/tmp/a b' }) },
  { text: 'src unix:/a:b', expr: host('src', { family: 'unix', pattern: '/a:b' }) },
  { text: 'src *', family: 'unix', expr: host('src', { family: 'unix', pattern: '*' }) },
  // link: protocol names (any case) or numbers, device names or indexes.
  { text: 'src link:ip', expr: host('src', { family: 'link', protocol: 0x0800 }) },
  { text: 'src link:IPv6:lo', expr: host('src', { family: 'link', protocol: 0x86dd, device: 'lo' }) },
  { text: 'src link:arp:1', expr: host('src', { family: 'link', protocol: 0x0806, device: 1 }) },
  { text: 'src link:all:*', expr: host('src', { family: 'link', protocol: 0x0003 }) },
  { text: 'src link:0x88cc', expr: host('src', { family: 'link', protocol: 0x88cc }) },
  { text: 'src link:*:lo', expr: host('src', { family: 'link', device: 'lo' }) },
  { text: 'src ip:lo', family: 'link', expr: host('src', { family: 'link', protocol: 0x0800, device: 'lo' }) },
  // netlink: protocol names (nl_protos), numbers, port ids, `kernel`.
  { text: 'src netlink:rtnl', expr: host('src', { family: 'netlink', protocol: 0 }) },
  { text: 'src netlink:tcpdiag:kernel', expr: host('src', { family: 'netlink', protocol: 4, portId: 0 }) },
  { text: 'src netlink:genl:1234', expr: host('src', { family: 'netlink', protocol: 16, portId: 1234 }) },
  { text: 'dst netlink:*:4321', expr: host('dst', { family: 'netlink', portId: 4321 }) },
  { text: 'src netlink:9', expr: host('src', { family: 'netlink', protocol: 9 }) },
  { text: 'src audit', family: 'netlink', expr: host('src', { family: 'netlink', protocol: 9 }) },
  // vsock: CID and port numbers.
  { text: 'src vsock:2:1234', expr: host('src', { family: 'vsock', cid: 2, port: 1234 }) },
  { text: 'src vsock:*:1234', expr: host('src', { family: 'vsock', port: 1234 }) },
  { text: 'dst vsock:3', expr: host('dst', { family: 'vsock', cid: 3 }) },
  { text: 'sport = :1024', family: 'vsock', expr: host('src', { family: 'vsock', port: 1024 }) },
  // dev, fwmark, cgroup, autobound.
  { text: 'dev lo', expr: { kind: 'dev', op: '=', device: 'lo' } },
  { text: 'dev = 1', expr: { kind: 'dev', op: '=', device: 1 } },
  { text: 'dev != lo', expr: { kind: 'dev', op: '!=', device: 'lo' } },
  { text: 'dev ne 0x1', expr: { kind: 'dev', op: '!=', device: 1 } },
  { text: 'dev eth0', expr: { kind: 'dev', op: '=', device: 'eth0' }, ss: false }, // ss needs the device to exist
  { text: 'fwmark 7', expr: { kind: 'fwmark', op: '=', mark: 7, mask: 0xffffffff } },
  { text: 'fwmark != 0x10/0xf0', expr: { kind: 'fwmark', op: '!=', mark: 0x10, mask: 0xf0 } },
  { text: 'fwmark == 4294967295', expr: { kind: 'fwmark', op: '=', mark: 0xffffffff, mask: 0xffffffff } },
  { text: 'cgroup /', expr: { kind: 'cgroup', op: '=', path: '/' } },
  { text: 'cgroup != /', expr: { kind: 'cgroup', op: '!=', path: '/' } },
  { text: 'cgroup = /system.slice/a\\ b.service', expr: { kind: 'cgroup', op: '=', path: '/system.slice/a b.service' }, ss: false }, // ss needs the cgroup to exist
  { text: 'autobound', expr: { kind: 'autobound' } },
  { text: 'not autobound and dev lo', expr: and(not({ kind: 'autobound' }), { kind: 'dev', op: '=', device: 'lo' }) },
  // Blanks: tabs, newlines and runs of spaces separate words too.
  { text: '  state\tlistening\n  sport   =\t:22  ', states: [st('listening')], expr: sport('=', 22) },
];

const ALL_VALID = [...MAN_PAGE, ...VALID];

interface Invalid {
  text: string;
  kind: 'syntax' | 'value';
  position: number;
  token: string;
  family?: HostFamily;
  /**
   * What ss 6.1 exits with: 255 syntax, 1 bad value, 0 where ss accepts what we refuse (our
   * deliberate strictness: out-of-range ports ss silently never matches, …).
   */
  ss: 0 | 1 | 255;
}

const INVALID: Invalid[] = [
  // Parentheses.
  { text: '(', kind: 'syntax', position: 1, token: '', ss: 255 },
  { text: '( dport = :22', kind: 'syntax', position: 13, token: '', ss: 255 },
  { text: 'dport = :22 )', kind: 'syntax', position: 12, token: ')', ss: 255 },
  { text: '( )', kind: 'syntax', position: 2, token: ')', ss: 255 },
  { text: '( ( dst 1.2.3.4 )', kind: 'syntax', position: 17, token: '', ss: 255 },
  { text: 'dst 1.2.3.4 ) (', kind: 'syntax', position: 12, token: ')', ss: 255 },
  { text: '! ( )', kind: 'syntax', position: 4, token: ')', ss: 255 },
  { text: '(dport = :22)', kind: 'syntax', position: 0, token: '(dport', ss: 1 },
  // Unknown words (ss tries them as host names, hence its 1).
  { text: 'foo', kind: 'syntax', position: 0, token: 'foo', ss: 1 },
  { text: 'dport = :22 foo', kind: 'syntax', position: 12, token: 'foo', ss: 1 },
  { text: 'DPORT = :22', kind: 'syntax', position: 0, token: 'DPORT', ss: 1 },
  { text: 'dport = :22 AND sport = :1', kind: 'syntax', position: 12, token: 'AND', ss: 1 },
  { text: 'dport = :22 state established', kind: 'syntax', position: 12, token: 'state', ss: 1 },
  { text: 'dport :22 :23', kind: 'syntax', position: 10, token: ':23', ss: 255 },
  // Missing operands, trailing or doubled operators.
  { text: 'dport = :22 and', kind: 'syntax', position: 15, token: '', ss: 255 },
  { text: 'dst 1.2.3.4 |', kind: 'syntax', position: 13, token: '', ss: 255 },
  { text: 'or dport = :22', kind: 'syntax', position: 0, token: 'or', ss: 255 },
  { text: '&& dst 1.2.3.4', kind: 'syntax', position: 0, token: '&&', ss: 255 },
  { text: 'dport = :22 or or sport = :1', kind: 'syntax', position: 15, token: 'or', ss: 255 },
  { text: 'not', kind: 'syntax', position: 3, token: '', ss: 255 },
  { text: 'dst', kind: 'syntax', position: 3, token: '', ss: 255 },
  { text: 'dst =', kind: 'syntax', position: 5, token: '', ss: 255 },
  { text: 'dst != 1.2.3.4', kind: 'syntax', position: 4, token: '!=', ss: 255 },
  { text: 'dst > 1.2.3.4', kind: 'syntax', position: 4, token: '>', ss: 255 },
  { text: 'dport =', kind: 'syntax', position: 7, token: '', ss: 255 },
  { text: 'dport eq', kind: 'syntax', position: 8, token: '', ss: 255 },
  { text: 'dport = = :22', kind: 'syntax', position: 8, token: '=', ss: 255 },
  { text: 'dev', kind: 'syntax', position: 3, token: '', ss: 255 },
  { text: 'dev < 1', kind: 'syntax', position: 4, token: '<', ss: 255 },
  { text: 'fwmark >= 1', kind: 'syntax', position: 7, token: '>=', ss: 255 },
  { text: 'cgroup', kind: 'syntax', position: 6, token: '', ss: 255 },
  { text: 'autobound = 1', kind: 'syntax', position: 10, token: '=', ss: 255 },
  // State words.
  { text: 'state', kind: 'syntax', position: 5, token: '', ss: 255 },
  { text: 'exclude', kind: 'syntax', position: 7, token: '', ss: 255 },
  { text: 'state bogus', kind: 'syntax', position: 6, token: 'bogus', ss: 255 },
  { text: 'state new-syn-recv', kind: 'syntax', position: 6, token: 'new-syn-recv', ss: 255 },
  { text: 'state listen', kind: 'syntax', position: 6, token: 'listen', ss: 255 },
  // Addresses and prefixes (positions point into the word, at the bad part).
  { text: 'dst 1.2.3.4.5', kind: 'value', position: 4, token: '1.2.3.4.5', ss: 1 },
  { text: 'dst 999.1.1.1', kind: 'value', position: 4, token: '999.1.1.1', ss: 1 },
  { text: 'dst [::g]', kind: 'value', position: 5, token: '[::g]', ss: 1 },
  { text: 'dst [::1', kind: 'value', position: 4, token: '[::1', ss: 1 },
  { text: 'dst [::1]x', kind: 'value', position: 9, token: '[::1]x', ss: 1 },
  { text: 'dst *foo', kind: 'value', position: 5, token: '*foo', ss: 1 },
  { text: 'dst 10.0.0.0/33', kind: 'value', position: 13, token: '10.0.0.0/33', ss: 1 },
  { text: 'dst [::1/129]', kind: 'value', position: 9, token: '[::1/129]', ss: 1 },
  { text: 'dst 10.0.0.0/255.0.255.0', kind: 'value', position: 13, token: '10.0.0.0/255.0.255.0', ss: 1 },
  { text: 'dst inet6:1.2.3.4', kind: 'value', position: 10, token: 'inet6:1.2.3.4', ss: 1 },
  { text: 'dst inet:[::1]', kind: 'value', position: 10, token: 'inet:[::1]', ss: 1 },
  { text: 'dst [::1]', family: 'inet', kind: 'value', position: 5, token: '[::1]', ss: 1 },
  { text: 'dst nosuchhost.invalid', kind: 'value', position: 4, token: 'nosuchhost.invalid', ss: 1 },
  { text: 'dst localhost/8', kind: 'value', position: 4, token: 'localhost/8', ss: 1 },
  // Ports.
  { text: 'dport = :70000', kind: 'value', position: 9, token: ':70000', ss: 0 },
  { text: 'dport = :-1', kind: 'value', position: 9, token: ':-1', ss: 0 },
  { text: 'dst 10.0.0.1:99999', kind: 'value', position: 13, token: '10.0.0.1:99999', ss: 0 },
  { text: 'sport = :nosuchservice', kind: 'value', position: 9, token: ':nosuchservice', ss: 1 },
  { text: 'dport < *', kind: 'value', position: 8, token: '*', ss: 0 },
  // Other families.
  { text: 'dst link:nosuchproto', kind: 'value', position: 9, token: 'link:nosuchproto', ss: 1 },
  { text: 'dst link:0x10000', kind: 'value', position: 9, token: 'link:0x10000', ss: 1 },
  { text: 'dst netlink:nosuch', kind: 'value', position: 12, token: 'netlink:nosuch', ss: 1 },
  { text: 'dst netlink:256', kind: 'value', position: 12, token: 'netlink:256', ss: 1 },
  { text: 'dst vsock:x', kind: 'value', position: 10, token: 'vsock:x', ss: 1 },
  { text: 'dst vsock:3:', kind: 'value', position: 12, token: 'vsock:3:', ss: 1 },
  // Devices and marks.
  { text: 'dev a/b', kind: 'value', position: 4, token: 'a/b', ss: 1 },
  { text: 'dev thisnameistoolong0', kind: 'value', position: 4, token: 'thisnameistoolong0', ss: 1 },
  { text: 'fwmark = zzz', kind: 'value', position: 9, token: 'zzz', ss: 1 },
  { text: 'fwmark = 0x1/', kind: 'value', position: 13, token: '0x1/', ss: 1 },
  { text: 'fwmark = 1/2junk', kind: 'value', position: 11, token: '1/2junk', ss: 0 },
];

describe('parseFilter: the man page', () => {
  test.each(MAN_PAGE.map((v) => [v.text, v] as const))('%j', (_t, v) => {
    const expected: Filter = v.expr === undefined ? { states: v.states ?? [] } : { states: v.states ?? [], expr: v.expr };
    expect(parseFilter(v.text, v.family === undefined ? {} : { family: v.family })).toStrictEqual(expected);
  });

  test('the argv form of the man page examples gives the same ASTs', () => {
    expect(parseFilterWords(['state', 'established', '( dport = :ssh or sport = :ssh )'])).toStrictEqual(parseFilter(MAN_PAGE[1].text));
    expect(parseFilterWords(['state', 'fin-wait-1', '( sport = :http or sport = :https )', 'dst', '193.233.7/24'])).toStrictEqual(parseFilter(MAN_PAGE[3].text));
    expect(parseFilterWords(['src', '/tmp/.X11-unix/*'], { family: 'unix' })).toStrictEqual(parseFilter(MAN_PAGE[2].text, { family: 'unix' }));
    expect(parseFilterWords([])).toStrictEqual({ states: [] });
  });
});

describe('parseFilter: every predicate, operator alias and host form', () => {
  test(`the corpus is large enough (${VALID.length} filters)`, () => {
    expect(VALID.length).toBeGreaterThanOrEqual(60);
  });
  test.each(VALID.map((v) => [v.text, v] as const))('%j', (_t, v) => {
    const expected: Filter = v.expr === undefined ? { states: v.states ?? [] } : { states: v.states ?? [], expr: v.expr };
    const got = parseFilter(v.text, v.family === undefined ? {} : { family: v.family });
    expect(got).toStrictEqual(expected);
    // And it prints to text that reads back the same.
    expect(parseFilter(filterToString(got), v.family === undefined ? {} : { family: v.family })).toStrictEqual(got);
  });
});

describe('parseFilter: malformed filters', () => {
  test(`the corpus is large enough (${INVALID.length} filters)`, () => {
    expect(INVALID.length).toBeGreaterThanOrEqual(40);
  });
  test.each(INVALID.map((v) => [v.text, v] as const))('%j', (_t, v) => {
    let caught: unknown;
    try {
      parseFilter(v.text, v.family === undefined ? {} : { family: v.family });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(v.kind === 'syntax' ? FilterSyntaxError : FilterValueError);
    const err = caught as FilterError;
    expect({ position: err.position, token: err.token, input: err.input }).toEqual({ position: v.position, token: v.token, input: v.text });
    expect(err.code).toBe(v.kind === 'syntax' ? 'ERR_SOCKDIAG_FILTER_SYNTAX' : 'ERR_SOCKDIAG_FILTER_VALUE');
    expect(err.exitStatus).toBe(v.kind === 'syntax' ? 255 : 1);
    if (err instanceof FilterSyntaxError) expect(err.expected.length).toBeGreaterThan(0);
  });
});

describe('errors', () => {
  test('formatFilterError shows the text, a caret under the position, then the message', () => {
    let err: FilterError | undefined;
    try {
      parseFilter('state established ( dport = :ssh or sport = :70000 )');
    } catch (e) {
      err = e as FilterError;
    }
    expect(formatFilterError(err as FilterError)).toBe(
      [
        'state established ( dport = :ssh or sport = :70000 )',
        '                                             ^~~~~',
        "FilterValueError: bad value ':70000' at 45: port 70000 is out of range (0-65535)",
      ].join('\n'),
    );
  });

  test('a syntax error names what was expected, and the error classes are distinct', () => {
    let err: FilterSyntaxError | undefined;
    try {
      parseFilter('( dport = :22');
    } catch (e) {
      err = e as FilterSyntaxError;
    }
    expect(err).toBeInstanceOf(FilterSyntaxError);
    expect(err).not.toBeInstanceOf(FilterValueError);
    expect(err?.expected).toBe("')' to close the '(' at 0");
    expect(formatFilterError(err as FilterError).split('\n').slice(0, 2)).toEqual(['( dport = :22', '             ^']);
  });

  test('hints for the usual mistakes', () => {
    expect(() => parseFilter('(dport = :22)')).toThrow("'(' and ')' must be separate words");
    expect(() => parseFilter('autobound state listening')).toThrow('state filters go before the expression');
    expect(() => parseFilter('dst != 1.2.3.4')).toThrow("only '=' can come between dst and the host");
  });
});

describe('parseFilterWords (the argv form)', () => {
  test('positions refer to the words joined with single spaces', () => {
    let err: FilterError | undefined;
    try {
      parseFilterWords(['state', 'established', '( dport = :ssh', 'or sport = :99999 )']);
    } catch (e) {
      err = e as FilterError;
    }
    expect(err).toBeInstanceOf(FilterValueError);
    expect(err?.input).toBe('state established ( dport = :ssh or sport = :99999 )');
    expect(err?.position).toBe(err?.input.indexOf('99999'));
  });

  test('state words count only as whole words before the expression, as in ss', () => {
    expect(parseFilterWords(['exclude', 'listening', 'state', 'LISTENING'])).toStrictEqual({ states: [ex('listening'), st('listening')] });
    expect(() => parseFilterWords(['state established'])).toThrow(FilterSyntaxError);
    expect(() => parseFilterWords(['state', 'established dport'])).toThrow(FilterSyntaxError);
    expect(() => parseFilterWords(['state'])).toThrow(expect.objectContaining({ position: 5, token: '' }));
  });

  test('a backslash escapes within one word only', () => {
    expect(parseFilterWords(['src', 'unix:/a\\ b'])).toStrictEqual({ states: [], expr: host('src', { family: 'unix', pattern: '/a b' }) });
    expect(parseFilterWords(['src', 'unix:/a\\\\'])).toStrictEqual({ states: [], expr: host('src', { family: 'unix', pattern: '/a\\' }) });
  });
});

describe('name resolution', () => {
  const fake: FilterNameResolver = {
    hostAddresses: (name, family) => (name === 'dual' ? ['192.0.2.1', '2001:db8::1'].filter((a) => family === undefined || (family === 'inet6') === a.includes(':')) : []),
    servicePorts: (name) => (name === 'split' ? { tcp: 1, udp: 2 } : name === 'udponly' ? { udp: 7 } : {}),
    netlinkProtocol: (name) => (name === 'mine' ? 31 : undefined),
  };

  test('a host name with several addresses is an or of host conditions (IPv4 first), restricted by the family', () => {
    expect(parseFilter('dst dual:80', { resolver: fake }).expr).toStrictEqual(
      or(host('dst', inet({ address: '192.0.2.1', port: 80 })), host('dst', inet({ address: '2001:db8::1', port: 80 }))),
    );
    expect(parseFilter('dst inet6:dual', { resolver: fake }).expr).toStrictEqual(host('dst', inet({ family: 'inet6', address: '2001:db8::1' })));
  });

  test('a service name with different tcp and udp ports is ambiguous; a udp-only one is fine', () => {
    expect(() => parseFilter('dport = :split', { resolver: fake })).toThrow(/ambiguous/);
    expect(parseFilter('dport = :udponly', { resolver: fake }).expr).toStrictEqual(dport('=', 7));
  });

  test('the files resolver reads the files it is given, and nl_protos names override the built-in ones', () => {
    const dir = require('node:fs').mkdtempSync(require('node:path').join(require('node:os').tmpdir(), 'sdfilter-'));
    const fs = require('node:fs') as typeof import('node:fs');
    fs.writeFileSync(`${dir}/hosts`, '# comment\n10.9.8.7 Alpha alpha.example\n::2 alpha\n10.9.8.7 alpha\n');
    fs.writeFileSync(`${dir}/services`, 'foo 1234/tcp bar\nfoo 1235/udp\nbaz 99/udp\n');
    fs.writeFileSync(`${dir}/nl_protos`, '4 sockdiag\n30 thirty\n');
    const r = filesResolver({ hosts: `${dir}/hosts`, services: `${dir}/services`, nlProtos: [`${dir}/nl_protos`] });
    expect(r.hostAddresses('ALPHA', undefined)).toEqual(['10.9.8.7', '::2']);
    expect(r.hostAddresses('alpha', 'inet6')).toEqual(['::2']);
    expect(r.servicePorts('bar')).toEqual({ tcp: 1234 });
    expect(r.servicePorts('foo')).toEqual({ tcp: 1234, udp: 1235 });
    expect(r.netlinkProtocol('sockdiag')).toBe(4);
    expect(r.netlinkProtocol('tcpdiag')).toBeUndefined();
    expect(r.netlinkProtocol('rtnl')).toBe(0);
    expect(r.netlinkProtocol('thirty')).toBe(30);
    expect(parseFilter('src netlink:mine', { resolver: fake }).expr).toStrictEqual(host('src', { family: 'netlink', protocol: 31 }));
    fs.rmSync(dir, { recursive: true });
  });
});

// ---------------------------------------------------------------------------------------
// Random ASTs → text → AST.

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const portNum = fc.integer({ min: 0, max: 65535 });
const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });
const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join('.'));
const v6 = fc.array(fc.oneof(fc.constant(0), fc.nat(0xffff)), { minLength: 8, maxLength: 8 }).map((w) => {
  const b = Buffer.alloc(16);
  w.forEach((x, i) => b.writeUInt16BE(x, 2 * i));
  return formatIPv6(b, 0);
});
const ifname = fc.oneof(fc.constantFrom('lo', 'eth0', 'and', 'or', 'not', 'dst', 'state', 'veth-a_1'), fc.stringMatching(/^[a-z_][a-z0-9_-]{0,14}$/));
const text = fc.string({ minLength: 1, unit: fc.oneof(fc.constantFrom(' ', '\\', '\t', '\n', '(', ')', '*', ':'), fc.string({ minLength: 1, maxLength: 1, unit: 'binary' })) });

function withDefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as Array<keyof T>) if (o[k] === undefined) delete o[k];
  return o;
}

const inetHost: fc.Arbitrary<Host> = fc.oneof(
  fc.record({ family: fc.constantFrom(undefined, 'inet' as const), address: opt(v4), p: opt(fc.nat(32)), port: opt(portNum) }),
  fc.record({ family: fc.constantFrom(undefined, 'inet6' as const), address: opt(v6), p: opt(fc.nat(128)), port: opt(portNum) }),
).map(({ family, address, p, port }) => ({ family, ...withDefined({ address, prefixLen: address === undefined ? undefined : p, port }) }));
const otherHost: fc.Arbitrary<Host> = fc.oneof(
  text.map((pattern) => ({ family: 'unix' as const, pattern })),
  fc.record({ protocol: opt(fc.nat(0xffff)), device: opt(fc.oneof(u32, ifname)) }).map((h) => ({ family: 'link' as const, ...withDefined(h) })),
  fc.record({ protocol: opt(fc.nat(255)), portId: opt(u32) }).map((h) => ({ family: 'netlink' as const, ...withDefined(h) })),
  fc.record({ cid: opt(u32), port: opt(u32) }).map((h) => ({ family: 'vsock' as const, ...withDefined(h) })),
);
const side = fc.constantFrom('src' as const, 'dst' as const);
const eqOp = fc.constantFrom('=' as const, '!=' as const);
const leaf: fc.Arbitrary<FilterExpr> = fc.oneof(
  fc.record({ side, host: fc.oneof(inetHost, otherHost) }).map((r) => ({ kind: 'host' as const, ...r })),
  fc.record({ side, op: fc.constantFrom<PortOp>('<', '<=', '=', '!=', '>=', '>'), port: portNum, family: opt(fc.constantFrom('inet' as const, 'inet6' as const)) }).map((r) => ({ kind: 'port' as const, ...withDefined(r) })),
  fc.record({ op: eqOp, device: fc.oneof(u32, ifname) }).map((r) => ({ kind: 'dev' as const, ...r })),
  fc.record({ op: eqOp, mark: u32, mask: u32 }).map((r) => ({ kind: 'fwmark' as const, ...r })),
  fc.record({ op: eqOp, path: text.filter((p) => !p.includes('\0')) }).map((r) => ({ kind: 'cgroup' as const, ...r })),
  fc.constant({ kind: 'autobound' as const }),
);
const { expr: exprArb } = fc.letrec<{ expr: FilterExpr }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    tie('expr').map((item) => ({ kind: 'not' as const, item })),
    fc.record({ kind: fc.constantFrom('and' as const, 'or' as const), items: fc.array(tie('expr'), { minLength: 2, maxLength: 4 }) })
      // The parser's shape: a run of one operator is one node, so the first item never has the node's own operator.
      .filter((n) => n.items[0].kind !== n.kind),
  ),
}));
const stateWords: StateWord[] = ['unknown', 'established', 'syn-sent', 'syn-recv', 'fin-wait-1', 'fin-wait-2', 'time-wait', 'closed', 'close-wait', 'last-ack', 'listening', 'closing', 'bound-inactive', 'all', 'connected', 'synchronized', 'bucket', 'big'];
const filterArb: fc.Arbitrary<Filter> = fc
  .record({ states: fc.array(fc.record({ include: fc.boolean(), word: fc.constantFrom(...stateWords) }), { maxLength: 3 }), expr: opt(exprArb) })
  .map(({ states, expr }) => (expr === undefined ? { states } : { states, expr }));

describe('filterToString', () => {
  test('random ASTs print to text that parses back to the same AST', () => {
    fc.assert(
      fc.property(filterArb, (generated) => {
        const f = structuredClone(generated); // plain prototypes, for toStrictEqual
        expect(parseFilter(filterToString(f))).toStrictEqual(f);
      }),
      { numRuns: Number(process.env.FILTER_PROPERTY_RUNS ?? 2000) },
    );
  });

  test('canonical operators, parentheses only where the readings could differ', () => {
    expect(filterToString(parseFilter('exclude listening dport eq :22 || sport ge 1024 && ! dst 10.0.0.0/8'))).toBe(
      'exclude listening ( dport = :22 or sport >= :1024 ) and not dst 10.0.0.0/8',
    );
    expect(filterToString(parseFilter('dport = :1 and dport = :2 or dport = :3'))).toBe('( dport = :1 and dport = :2 ) or dport = :3');
    expect(filterToString(parseFilter('dport = :1 or ( dport = :2 or dport = :3 )'))).toBe('dport = :1 or ( dport = :2 or dport = :3 )');
    expect(filterToString(parseFilter('not ( autobound and dev lo )'))).toBe('not ( autobound and dev = lo )');
    expect(filterToString(parseFilter('dst [::1/64]:22 src unix:/x\\ y fwmark 1/3 dev \\and'))).toBe(
      'dst [::1/64]:22 and src unix:/x\\ y and fwmark = 0x1/0x3 and dev = \\and',
    );
  });
});

// ---------------------------------------------------------------------------------------
// What the real ss accepts (parse only; each run in a namespace of its own, output discarded).

const FAMILY_FLAGS: Record<HostFamily, string[]> = {
  inet: ['-4'],
  inet6: ['-6'],
  unix: ['-x'],
  link: ['-0'],
  netlink: ['-f', 'netlink'],
  vsock: ['--vsock'],
};

/** ss's argv for a filter: state words as words of their own, the expression as one word. */
function ssArgv(text: string, family: HostFamily | undefined): string[] {
  const m = /^\s*((?:(?:state|exclude|excl)\s+\S+\s*)*)([\s\S]*)$/.exec(text) as RegExpExecArray;
  const stateWordsArgv = m[1].split(/\s+/).filter((w) => w !== '');
  return ['ss', '-Hn', ...(family ? FAMILY_FLAGS[family] : []), ...stateWordsArgv, ...(m[2].trim() === '' ? [] : [m[2]])];
}

describeFreshNetns('the real ss agrees on what is a filter', () => {
  async function ssStatus(text: string, family?: HostFamily): Promise<number | null> {
    const r = await freshNetns.exec(ssArgv(text, family), { timeoutMs: 20000 });
    return r.status;
  }

  test('every filter the corpus calls valid is accepted by ss (exit 0)', async () => {
    const rejected: string[] = [];
    for (const v of ALL_VALID) {
      if (v.ss === false) continue;
      const status = await ssStatus(v.text, v.family);
      if (status !== 0) rejected.push(`${JSON.stringify(v.text)} → ${status}`);
    }
    expect(rejected).toEqual([]);
  });

  test('every malformed filter gets the exit status recorded for ss (255 syntax, 1 value, 0 where we are stricter)', async () => {
    const differ: string[] = [];
    for (const v of INVALID) {
      const status = await ssStatus(v.text, v.family);
      if (status !== v.ss) differ.push(`${JSON.stringify(v.text)} → ${status}, recorded ${v.ss}`);
    }
    expect(differ).toEqual([]);
  });
});
