/**
 * The `ss` text parser used by the integration tests, on real lines captured on this
 * machine (iproute2 6.1, Linux 6.18) from the test population inside a private netns
 * (test/helpers/capture-ss-fixtures.sh), plus synthetic edge cases.
 */
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import {
  formatG,
  parseInetAddress,
  printMsTimer,
  parseSsLine,
  parseSsOutput,
  SsParseError,
  SsRecord,
  SsTable,
  tokenize,
} from './helpers/ss';

const FIX = path.join(__dirname, 'helpers', 'fixtures', 'ss-6.1.0');
const TABLE_FILES: Record<string, SsTable> = {
  'tcp4.txt': 'tcp4',
  'tcp6.txt': 'tcp6',
  'udp4.txt': 'udp4',
  'udp6.txt': 'udp6',
  'raw4.txt': 'raw4',
  'raw6.txt': 'raw6',
  'mptcp4.txt': 'mptcp4',
  'unix.txt': 'unix',
  'packet.txt': 'packet',
  'netlink.txt': 'netlink',
};

interface FixPopSocket {
  name: string;
  kind: string;
  family: string;
  state: string;
  fd: number | null;
  cookie: string | null;
  inode: number;
  local?: { address: string; port: number };
  remote?: { address: string; port: number };
  path?: string | null;
  peerInode?: number;
  uid?: number;
  portid?: number;
  groups?: number;
  netlinkProtocol?: number;
  ethProtocol?: number;
  holders?: { pid: number; fd: number; command?: string }[];
}
const pop = JSON.parse(readFileSync(path.join(FIX, 'population.json'), 'utf8')) as {
  pid: number;
  comm: string;
  children: number[];
  sockets: FixPopSocket[];
};

function load(table: SsTable): SsRecord[] {
  const file = Object.keys(TABLE_FILES).find((f) => TABLE_FILES[f] === table)!;
  return parseSsOutput(readFileSync(path.join(FIX, file), 'utf8'), table);
}
const all: Record<string, SsRecord[]> = {};
for (const t of Object.values(TABLE_FILES)) all[t] = load(t);
const inetTables = (fam: string): SsTable[] =>
  fam === 'inet' ? ['tcp4', 'udp4', 'mptcp4', 'raw4'] : ['tcp6', 'udp6', 'raw6'];

describe('captured corpus', () => {
  test('every fixture file is there and every line parses with nothing left over', () => {
    const files = readdirSync(FIX);
    for (const f of Object.keys(TABLE_FILES)) expect(files).toContain(f);
    let n = 0;
    for (const [f, t] of Object.entries(TABLE_FILES)) {
      const text = readFileSync(path.join(FIX, f), 'utf8');
      const lines = text.split('\n').filter((l) => l.trim());
      const recs = parseSsOutput(text, t);
      expect(recs).toHaveLength(lines.length);
      for (const r of recs) {
        expect({ line: r.line, unknown: r.unknown }).toEqual({ line: r.line, unknown: [] });
        expect(r.table).toBe(t);
      }
      n += recs.length;
    }
    expect(n).toBeGreaterThan(80);
  });

  test('the population covers every state and table the integration test relies on', () => {
    const states = new Set(all.tcp4!.concat(all.tcp6!).map((r) => r.stateText));
    for (const s of ['LISTEN', 'ESTAB', 'TIME-WAIT', 'CLOSE-WAIT', 'FIN-WAIT-2', 'SYN-RECV', 'SYN-SENT']) {
      expect(states).toContain(s);
    }
    expect(new Set(all.unix!.map((r) => r.netid))).toEqual(new Set(['u_str', 'u_dgr', 'u_seq']));
    expect(new Set(all.packet!.map((r) => r.netid))).toEqual(new Set(['p_raw', 'p_dgr']));
    expect(all.mptcp4!.length).toBeGreaterThanOrEqual(3);
    expect(all.netlink!.length).toBeGreaterThanOrEqual(5);
  });

  test('-e gives a cookie and an inode to every tcp, udp, mptcp and packet row', () => {
    for (const t of ['tcp4', 'tcp6', 'udp4', 'udp6', 'mptcp4', 'packet'] as const) {
      for (const r of all[t]!) {
        expect(typeof r.cookie).toBe('bigint');
        expect(typeof r.ino).toBe('number');
        expect(r.skmem === undefined).toBe(r.stateText === 'TIME-WAIT' || r.stateText === 'SYN-RECV');
      }
    }
    // no duplicate cookies within a family's tables
    const cookies = ['tcp4', 'tcp6', 'udp4', 'udp6', 'mptcp4', 'packet'].flatMap((t) => all[t]!.map((r) => r.cookie!));
    expect(new Set(cookies).size).toBe(cookies.length);
  });

  test('every socket the population printed is in the ss output, with its addresses, state, inode, uid and owner', () => {
    const checked = new Set<string>();
    for (const s of pop.sockets) {
      if (s.kind === 'tcp' || s.kind === 'udp' || s.kind === 'mptcp' || s.kind === 'raw') {
        const tables = inetTables(s.family).filter((t) => t.startsWith(s.kind));
        const recs = tables.flatMap((t) => all[t]!);
        let r: SsRecord | undefined;
        if (s.kind === 'raw') {
          r = recs.find((x) => x.local.port === s.local!.port && x.local.address === s.local!.address);
        } else if (s.cookie === null) {
          r = recs.find(
            (x) =>
              x.local.port === s.local!.port &&
              x.peer.port === s.remote!.port &&
              x.state === s.state &&
              x.local.address === s.local!.address,
          );
        } else {
          r = recs.find((x) => x.cookie === BigInt(s.cookie!));
        }
        expect({ name: s.name, found: r !== undefined }).toEqual({ name: s.name, found: true });
        expect({ name: s.name, local: r!.local.address, lport: r!.local.port, peer: r!.peer.address, pport: r!.peer.port, state: r!.state }).toEqual({
          name: s.name,
          local: s.local!.address,
          lport: s.local!.port,
          peer: s.remote!.address,
          pport: s.remote!.port,
          state: s.state,
        });
        if (s.kind !== 'raw') {
          expect({ name: s.name, ino: r!.ino, uid: r!.uid }).toEqual({ name: s.name, ino: s.inode, uid: s.uid });
        }
        if (s.fd !== null) {
          const want = (s.holders ?? [{ pid: pop.pid, fd: s.fd }]).map((h) => ({
            command: h.command ?? pop.comm,
            pid: h.pid,
            fd: h.fd,
          }));
          const byPid = (a: { pid: number }, b: { pid: number }): number => a.pid - b.pid;
          expect({ name: s.name, users: [...r!.users!].sort(byPid) }).toEqual({ name: s.name, users: want.sort(byPid) });
        } else {
          expect(r!.users).toBeUndefined();
        }
        checked.add(s.name);
      } else if (s.kind === 'unix') {
        const r = all.unix!.find((x) => x.unix!.inode === s.inode);
        expect({ name: s.name, found: r !== undefined }).toEqual({ name: s.name, found: true });
        expect({ name: s.name, path: r!.unix!.path, state: r!.state }).toEqual({
          name: s.name,
          path: s.path ?? undefined,
          state: s.state,
        });
        if (s.peerInode !== undefined) expect(r!.unix!.peerInode).toBe(s.peerInode);
        expect(r!.users).toEqual([{ command: pop.comm, pid: pop.pid, fd: s.fd }]);
        checked.add(s.name);
      } else if (s.kind === 'packet') {
        const r = all.packet!.find((x) => x.cookie === BigInt(s.cookie!));
        expect(r).toBeDefined();
        expect(r!.packet!.protocol).toBe(s.ethProtocol);
        expect(r!.packet!.iface).toBe((s as { interface?: number }).interface === 1 ? 'lo' : '*');
        expect(r!.ino).toBe(s.inode);
        checked.add(s.name);
      } else if (s.kind === 'netlink') {
        const r = all.netlink!.find((x) => x.netlink!.protocol === s.netlinkProtocol && x.netlink!.portid === s.portid);
        expect(r).toBeDefined();
        expect(r!.netlink!.groups).toBe(s.groups);
        checked.add(s.name);
      }
    }
    expect(checked.size).toBe(pop.sockets.length);
  });

  test('a multi-line listing with a header parses to the same sockets as the one-line tables', () => {
    const recs = parseSsOutput(readFileSync(path.join(FIX, 'tcp-multiline-with-header.txt'), 'utf8'), 'tcp4');
    const want = all.tcp4!.concat(all.tcp6!).map((r) => `${r.state} ${r.local.port} ${r.peer.port}`);
    const got = recs.map((r) => `${r.state} ${r.local.port} ${r.peer.port}`);
    expect(got.sort()).toEqual(want.sort());
    for (const r of recs) expect(r.unknown).toEqual([]);
    expect(recs.filter((r) => r.tcpInfo?.cong === 'bbr').length).toBeGreaterThan(10);
  });
});

describe('tcp lines', () => {
  test('a listener', () => {
    const r = parseSsLine(
      'LISTEN     0      128    127.0.0.1:35239   0.0.0.0:*     users:(("python3",pid=16013,fd=7)) uid:65534 ino:513891 sk:41db2 cgroup:/ <-> skmem:(r0,rb131072,t0,tb16384,f0,w0,o0,bl0,d0) bbr cwnd:10           ',
      'tcp4',
    );
    expect(r).toMatchObject({
      netid: 'tcp',
      family: 'inet',
      stateText: 'LISTEN',
      state: 'listening',
      recvQ: 0,
      sendQ: 128,
      local: { address: '127.0.0.1', port: 35239 },
      peer: { address: '0.0.0.0', port: 0, text: '0.0.0.0' },
      users: [{ command: 'python3', pid: 16013, fd: 7 }],
      uid: 65534,
      ino: 513891,
      cookie: 0x41db2n,
      cgroup: '/',
      shutdown: 0,
      skmem: { r: 0, rb: 131072, t: 0, tb: 16384, f: 0, w: 0, o: 0, bl: 0, d: 0 },
      tcpInfo: { cong: 'bbr', cwnd: 10 },
      unknown: [],
    });
    expect(r.timer).toBeUndefined();
  });

  test('an established connection with queued data, a persist timer and every -i item', () => {
    const r = parseSsLine(
      'ESTAB      1000   127613 127.0.0.1:33453 127.0.0.1:46160 users:(("python3",pid=16013,fd=16)) timer:(persist,1.076ms,0) ino:513899 sk:41dba cgroup:/ <-> skmem:(r1832,rb131072,t0,tb131072,f4059,w129277,o0,bl0,d0) ts sack bbr wscale:1,10 rto:208 backoff:3 rtt:4.606/9.182 ato:40 mss:47413 pmtu:65535 rcvmss:1000 advmss:65483 cwnd:16 bytes_sent:174988 bytes_retrans:47413 bytes_acked:127575 bytes_received:1000 segs_out:10 segs_in:8 data_segs_out:6 data_segs_in:1 bbr:(bw:8821004848bps,mrtt:0.003,pacing_gain:2.88672,cwnd_gain:2.88672) send 1317599653bps lastsnd:2092 lastrcv:2348 lastack:588 pacing_rate 2495704597624bps delivery_rate 7740897952bps delivered:7 busy:2348ms rwnd_limited:2348ms(100.0%) retrans:0/1 dsack_dups:1 rcv_space:65483 rcv_ssthresh:70173 notsent:127613 minrtt:0.003',
      'tcp4',
    );
    expect(r.recvQ).toBe(1000);
    expect(r.sendQ).toBe(127613);
    expect(r.timer).toEqual({ name: 'persist', expires: '1.076ms', retrans: 0 });
    expect(r.skmem).toEqual({ r: 1832, rb: 131072, t: 0, tb: 131072, f: 4059, w: 129277, o: 0, bl: 0, d: 0 });
    const { raw, ...info } = r.tcpInfo!;
    expect(info).toEqual({
      ts: true,
      sack: true,
      cong: 'bbr',
      snd_wscale: 1,
      rcv_wscale: 10,
      rto: 208,
      backoff: 3,
      rtt: 4.606,
      rttvar: 9.182,
      ato: 40,
      mss: 47413,
      pmtu: 65535,
      rcvmss: 1000,
      advmss: 65483,
      cwnd: 16,
      bytes_sent: 174988n,
      bytes_retrans: 47413n,
      bytes_acked: 127575n,
      bytes_received: 1000n,
      segs_out: 10,
      segs_in: 8,
      data_segs_out: 6,
      data_segs_in: 1,
      bbr: { bw: 8821004848, mrtt: 0.003, pacing_gain: 2.88672, cwnd_gain: 2.88672 },
      send: 1317599653,
      lastsnd: 2092,
      lastrcv: 2348,
      lastack: 588,
      pacing_rate: 2495704597624,
      delivery_rate: 7740897952,
      delivered: 7,
      busy: 2348,
      rwnd_limited: 2348,
      retrans: 0,
      retrans_total: 1,
      dsack_dups: 1,
      rcv_space: 65483,
      rcv_ssthresh: 70173,
      notsent: 127613,
      minrtt: 0.003,
    });
    expect(raw.rtt).toBe('4.606/9.182');
    expect(raw.rwnd_limited).toBe('2348ms(100.0%)');
    expect(raw.pacing_rate).toBe('2495704597624bps');
  });

  test('the receiving side: app_limited, rcv_rtt', () => {
    const r = parseSsLine(
      'ESTAB      127575 0      127.0.0.1:46160 127.0.0.1:33453 users:(("python3",pid=16013,fd=15)) ino:513898 sk:41db9 cgroup:/ <-> skmem:(r130903,rb131072,t0,tb3939840,f4265,w0,o0,bl0,d4) ts sack bbr wscale:10,1 rto:204 rtt:0.003/0.002 ato:80 mss:35328 pmtu:65535 rcvmss:47413 advmss:65483 cwnd:11 bytes_sent:1000 bytes_acked:1001 bytes_received:127575 segs_out:8 segs_in:11 data_segs_out:1 data_segs_in:6 bbr:(bw:35328000000bps,mrtt:0.003,pacing_gain:2.88672,cwnd_gain:2.88672) send 1036288000000bps lastsnd:2348 lastrcv:2092 lastack:2092 pacing_rate 2495171132000bps delivery_rate 35328000000bps delivered:2 app_limited rcv_rtt:0.05 rcv_space:65495 rcv_ssthresh:94826 minrtt:0.003 snd_wnd:70656',
      'tcp4',
    );
    expect(r.tcpInfo).toMatchObject({ app_limited: true, rcv_rtt: 0.05, snd_wnd: 70656, rtt: 0.003, rttvar: 0.002 });
    expect(r.skmem!.d).toBe(4);
  });

  test('TIME-WAIT and SYN-RECV rows: a timer, ino 0, a cookie, nothing else', () => {
    const tw = parseSsLine('TIME-WAIT  0      0      127.0.0.1:46176 127.0.0.1:33453 timer:(timewait,58sec,0) ino:0 sk:41dbd', 'tcp4');
    expect(tw).toMatchObject({
      state: 'time-wait',
      timer: { name: 'timewait', expires: '58sec', retrans: 0 },
      ino: 0,
      cookie: 0x41dbdn,
    });
    expect(tw.users).toBeUndefined();
    expect(tw.skmem).toBeUndefined();
    expect(tw.tcpInfo).toBeUndefined();
    const sr = parseSsLine(
      'SYN-RECV 0      0      [::ffff:127.0.0.1]:41313 [::ffff:127.0.0.1]:58008 timer:(on,3.580ms,0) ino:0 sk:41df4',
      'tcp6',
    );
    expect(sr).toMatchObject({
      state: 'syn-recv',
      family: 'inet6',
      local: { address: '::ffff:127.0.0.1', port: 41313 },
      peer: { address: '::ffff:127.0.0.1', port: 58008 },
      timer: { name: 'on', expires: '3.580ms', retrans: 0 },
      cookie: 0x41df4n,
    });
  });

  test('SYN-SENT with retransmits and lost', () => {
    const r = parseSsLine(
      'SYN-SENT   0      1      127.0.0.1:42264 127.0.0.1:46379 users:(("python3",pid=16013,fd=27)) timer:(on,124ms,1) ino:513913 sk:41dc6 cgroup:/ <-> skmem:(r0,rb131072,t0,tb16384,f3264,w832,o0,bl0,d0) bbr rto:1000 mss:524 pmtu:65535 rcvmss:88 advmss:65495 cwnd:1 segs_out:2 bbr:(bw:0bps,mrtt:0) lastsnd:1946284 lastrcv:1946284 lastack:1946284 app_limited unacked:1 retrans:1/1 lost:1 rcv_ssthresh:65495',
      'tcp4',
    );
    expect(r).toMatchObject({
      state: 'syn-sent',
      sendQ: 1,
      timer: { name: 'on', expires: '124ms', retrans: 1 },
      tcpInfo: { cong: 'bbr', rto: 1000, unacked: 1, retrans: 1, retrans_total: 1, lost: 1, bbr: { bw: 0, mrtt: 0 } },
    });
  });

  test('shutdown arrows', () => {
    const base = 'CLOSE-WAIT 1      0      127.0.0.1:33453 127.0.0.1:46186 ino:513906 sk:41dbf cgroup:/ ';
    expect(parseSsLine(`${base}-->`, 'tcp4').shutdown).toBe(1);
    expect(parseSsLine(`${base}<--`, 'tcp4').shutdown).toBe(2);
    expect(parseSsLine(`${base}---`, 'tcp4').shutdown).toBe(3);
    expect(parseSsLine(`${base}<->`, 'tcp4').shutdown).toBe(0);
    expect(parseSsLine(base, 'tcp4').shutdown).toBeUndefined();
  });

  test('an MPTCP subflow: tcp-ulp-mptcp and its items', () => {
    const r = parseSsLine(
      'ESTAB      0      0      127.0.0.1:53618 127.0.0.1:34061 users:(("python3",pid=16013,fd=68)) ino:513957 sk:2e73b cgroup:/ <-> skmem:(r0,rb131072,t0,tb3939840,f0,w0,o0,bl0,d0) ts sack bbr wscale:10,10 rto:204 rtt:0.036/0.02 mss:32768 pmtu:65535 rcvmss:536 advmss:65483 cwnd:11 bytes_sent:200 bytes_acked:201 segs_out:3 segs_in:2 data_segs_out:1 bbr:(bw:21845328120bps,mrtt:0.012,pacing_gain:2.88672,cwnd_gain:2.88672) send 80099555556bps lastsnd:1852 lastrcv:1852 lastack:1852 pacing_rate 187137836008bps delivery_rate 21845333328bps delivered:2 app_limited rcv_space:65495 rcv_ssthresh:65495 minrtt:0.012 snd_wnd:65536 tcp-ulp-mptcp flags:Mmec token:0000(id:0)/a65763bf(id:0) seq:a0c11bc775871419 sfseq:1 ssnoff:356b17ed maplen:0',
      'tcp4',
    );
    expect(r.tcpInfo!.ulp).toBe('mptcp');
    expect(r.tcpInfo!.ulpInfo).toEqual({
      flags: 'Mmec',
      token: '0000(id:0)/a65763bf(id:0)',
      seq: 'a0c11bc775871419',
      sfseq: '1',
      ssnoff: '356b17ed',
      maplen: '0',
    });
    expect(r.tcpInfo!.snd_wnd).toBe(65536);
    expect(r.unknown).toEqual([]);
    const l = parseSsLine(
      'LISTEN     0      16     127.0.0.1:34061   0.0.0.0:*     users:(("python3",pid=16013,fd=67)) ino:513955 sk:2e738 cgroup:/ <-> skmem:(r0,rb131072,t0,tb16384,f0,w0,o0,bl0,d0) bbr cwnd:10 tcp-ulp-mptcp',
      'tcp4',
    );
    expect(l.tcpInfo).toMatchObject({ cong: 'bbr', cwnd: 10, ulp: 'mptcp', ulpInfo: {} });
  });

  test('inet6: `*` is the dual-stack wildcard, [::] the v6only one, v6only from -e', () => {
    const a = parseSsLine(
      'LISTEN   0      128                     *:41313                  *:*     users:(("python3",pid=16013,fd=23)) ino:513909 sk:41dc2 cgroup:/ v6only:0 <-> skmem:(r0,rb131072,t0,tb16384,f0,w0,o0,bl0,d1) bbr cwnd:10',
      'tcp6',
    );
    expect(a).toMatchObject({ local: { text: '*', address: '::', port: 41313 }, peer: { address: '::', port: 0 }, v6only: false });
    const b = parseSsLine(
      'LISTEN   0      128                 [::1]:33479               [::]:*     users:(("python3",pid=16013,fd=5)) ino:513889 sk:41db0 cgroup:/ v6only:1 <-> skmem:(r0,rb131072,t0,tb16384,f0,w0,o0,bl0,d0) bbr cwnd:10',
      'tcp6',
    );
    expect(b).toMatchObject({ local: { text: '::1', address: '::1', port: 33479 }, peer: { text: '::', address: '::', port: 0 }, v6only: true });
  });
});

describe('udp, raw and mptcp lines', () => {
  test('a udp socket bound to a device (%lo) and one held by two processes', () => {
    const d = parseSsLine(
      'UNCONN 0      0      0.0.0.0%lo:58588   0.0.0.0:*     users:(("python3",pid=16013,fd=31)) ino:513917 sk:41dca cgroup:/ <-> skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d0)',
      'udp4',
    );
    expect(d.local).toEqual({ text: '0.0.0.0', address: '0.0.0.0', port: 58588, iface: 'lo' });
    expect(d.state).toBe('closed');
    expect(d.tcpInfo).toBeUndefined();
    const s = parseSsLine(
      'UNCONN 0      0       127.0.0.1:52399   0.0.0.0:*     users:(("sd-pop child",pid=16026,fd=200),("python3",pid=16013,fd=72)) ino:513962 sk:41df3 cgroup:/ <-> skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d0)',
      'udp4',
    );
    expect(s.users).toEqual([
      { command: 'sd-pop child', pid: 16026, fd: 200 },
      { command: 'python3', pid: 16013, fd: 72 },
    ]);
  });

  test('udp queue in bytes of memory; connected udp is ESTAB', () => {
    const q = parseSsLine(
      'UNCONN 2496   0       127.0.0.1:33446   0.0.0.0:*     users:(("python3",pid=16013,fd=35)) ino:513922 sk:41dce cgroup:/ <-> skmem:(r2496,rb212992,t0,tb212992,f1600,w0,o0,bl0,d0)',
      'udp4',
    );
    expect(q.recvQ).toBe(2496);
    expect(q.skmem!.r).toBe(2496);
    const c = parseSsLine(
      'ESTAB  0      0      [::1]:44592 [::1]:41213 users:(("python3",pid=16013,fd=34)) ino:513921 sk:41dcd cgroup:/ <-> skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d0)',
      'udp6',
    );
    expect(c).toMatchObject({ state: 'established', local: { address: '::1', port: 44592 }, peer: { address: '::1', port: 41213 } });
  });

  test('raw rows from /proc (no -e data): the port is the protocol', () => {
    expect(parseSsLine('UNCONN 0      0      127.0.0.1:1 0.0.0.0:* users:(("python3",pid=16013,fd=70))', 'raw4')).toMatchObject({
      protocol: 'raw',
      local: { address: '127.0.0.1', port: 1 },
      users: [{ pid: 16013, fd: 70 }],
    });
    const r6 = parseSsLine('UNCONN 0      0      *:58 *:* users:(("python3",pid=16013,fd=71))', 'raw6');
    expect(r6.local).toEqual({ text: '*', address: '::', port: 58 });
    expect(r6.cookie).toBeUndefined();
  });

  test('an MPTCP connection (ss -M): the mptcp_info items', () => {
    const r = parseSsLine(
      'ESTAB  1032   0      127.0.0.1:34061 127.0.0.1:53618 users:(("python3",pid=16013,fd=69)) ino:513959 sk:41df0 cgroup:/ <-> skmem:(r1032,rb131072,t0,tb3943936,f0,w0,o0,bl0,d0) subflows_max:2 remote_key token:5aed0214 write_seq:a0c11bc775871419 snd_una:a0c11bc775871419 rcv_nxt:c124a8656f664995',
      'mptcp4',
    );
    expect(r).toMatchObject({ protocol: 'mptcp', netid: 'mptcp', recvQ: 1032, cookie: 0x41df0n, ino: 513959 });
    expect(r.mptcp).toEqual({
      subflows_max: '2',
      remote_key: 'true',
      token: '5aed0214',
      write_seq: 'a0c11bc775871419',
      snd_una: 'a0c11bc775871419',
      rcv_nxt: 'c124a8656f664995',
    });
    expect(r.tcpInfo).toBeUndefined();
  });
});

describe('unix lines', () => {
  test('a listener with a path, the VFS inode and its pending peer', () => {
    const r = parseSsLine(
      'u_str LISTEN 1      16        /tmp/sd-pop-16013-st8e2w01/stream.sock 513924 * 0      users:(("python3",pid=16013,fd=37)) skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d0) <-> ino:2146697 dev:0/65024 peers: 513927',
      'unix',
    );
    expect(r).toMatchObject({
      netid: 'u_str',
      family: 'unix',
      state: 'listening',
      recvQ: 1,
      sendQ: 16,
      ino: 513924,
      unix: {
        path: '/tmp/sd-pop-16013-st8e2w01/stream.sock',
        inode: 513924,
        peerInode: 0,
        vfs: { ino: 2146697, dev: '0/65024' },
        peers: [513927],
      },
      users: [{ command: 'python3', pid: 16013, fd: 37 }],
      shutdown: 0,
    });
    expect(r.cookie).toBeUndefined();
  });

  test('abstract, unnamed, and a listener with no pending peer', () => {
    const a = parseSsLine(
      'u_seq ESTAB  0      0                      @sd-pop-16013-p-seqpacket 513939 * 513938 users:(("python3",pid=16013,fd=52)) skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d0) <->',
      'unix',
    );
    expect(a.unix).toEqual({ path: '@sd-pop-16013-p-seqpacket', inode: 513939, peerInode: 513938 });
    const u = parseSsLine(
      'u_dgr ESTAB  0      1536                                           * 513943 * 513942 users:(("python3",pid=16013,fd=56)) skmem:(r0,rb212992,t1536,tb212992,f0,w0,o0,bl0,d0) <->',
      'unix',
    );
    expect(u).toMatchObject({ netid: 'u_dgr', sendQ: 1536, unix: { inode: 513943, peerInode: 513942 } });
    expect(u.unix!.path).toBeUndefined();
    const l = parseSsLine(
      'u_str LISTEN 0      16                        @sd-pop-16013-p-stream 513928 * 0      users:(("python3",pid=16013,fd=41)) skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d0) <-> peers:',
      'unix',
    );
    expect(l.unix!.peers).toEqual([]);
    expect(l.unknown).toEqual([]);
  });

  test('a path with spaces', () => {
    const r = parseSsLine('u_str LISTEN 0      5      /tmp/a b/c 2 d.sock 4242 * 0 users:(("x",pid=1,fd=3))', 'unix');
    expect(r.unix).toEqual({ path: '/tmp/a b/c 2 d.sock', inode: 4242, peerInode: 0 });
    expect(r.users).toEqual([{ command: 'x', pid: 1, fd: 3 }]);
  });
});

describe('packet and netlink lines', () => {
  test('packet: ETH_P_ALL on lo, a numeric ethertype on any device, protocol 0', () => {
    const a = parseSsLine(
      'p_raw UNCONN 8732   0           *:lo * users:(("python3",pid=16013,fd=61)) ino:513949 sk:41de8 ver:0 cpy_thresh:0 flags( running ) skmem:(r8732,rb8192,t0,tb212992,f0,w0,o0,bl0,d40)',
      'packet',
    );
    expect(a).toMatchObject({
      netid: 'p_raw',
      state: 'closed',
      recvQ: 8732,
      ino: 513949,
      cookie: 0x41de8n,
      packet: { protocol: 3, iface: 'lo', ver: 0, cpyThresh: 0, flags: ['running'] },
      skmem: { d: 40 },
    });
    const d = parseSsLine(
      'p_dgr UNCONN 8528   0      [2048]:*  * users:(("python3",pid=16013,fd=62)) ino:513950 sk:41de9 ver:0 cpy_thresh:0 flags( running ) skmem:(r8528,rb8192,t0,tb212992,f0,w0,o0,bl0,d5)',
      'packet',
    );
    expect(d.packet).toMatchObject({ protocol: 0x800, iface: '*' });
    const z = parseSsLine(
      'p_raw UNCONN 0      0         [0]:*  * users:(("python3",pid=16013,fd=63)) ino:513951 sk:41dea ver:0 cpy_thresh:0 flags( 0 ) skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d0)',
      'packet',
    );
    expect(z.packet).toMatchObject({ protocol: 0, iface: '*', flags: [] });
  });

  test('netlink: protocol:portid, groups from -e, skmem after a tab', () => {
    const r = parseSsLine(
      'UNCONN 0      0       0:16013 * sk=0 cb=0 groups=0x00000011\t skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d0)',
      'netlink',
    );
    expect(r).toMatchObject({
      netid: 'nl',
      family: 'netlink',
      state: 'closed',
      netlink: { protocol: 0, portid: 16013, groups: 0x11 },
      skmem: { rb: 212992 },
    });
    expect(r.cookie).toBeUndefined();
    expect(r.unknown).toEqual([]);
    const k = parseSsLine('UNCONN 832    0       4:0     * sk=0 cb=0 groups=0x00000000\t skmem:(r832,rb212992,t0,tb212992,f0,w0,o0,bl0,d0)', 'netlink');
    expect(k).toMatchObject({ recvQ: 832, netlink: { protocol: 4, portid: 0, groups: 0 } });
    const star = parseSsLine('UNCONN 0      0      16:* * sk=0 cb=0 groups=0x00000000', 'netlink');
    expect(star.netlink!.portid).toBe(-1);
    const neg = parseSsLine('UNCONN 0      0      16:-1234567 0:0 sk=0 cb=0 groups=0x00000000', 'netlink');
    expect(neg.netlink).toEqual({ protocol: 16, portid: -1234567, groups: 0, peerGroup: 0, peerPortid: 0 });
  });
});

describe('synthetic edge cases', () => {
  test('inet addresses: brackets, zone, interface suffix, wildcards', () => {
    expect(parseInetAddress('[fe80::1]%lo:22', 'inet6')).toEqual({ text: 'fe80::1', address: 'fe80::1', port: 22, iface: 'lo' });
    expect(parseInetAddress('127.0.0.1%eth0:80', 'inet')).toEqual({ text: '127.0.0.1', address: '127.0.0.1', port: 80, iface: 'eth0' });
    expect(parseInetAddress('*%lo:53', 'inet6')).toEqual({ text: '*', address: '::', port: 53, iface: 'lo' });
    expect(parseInetAddress('0.0.0.0:*', 'inet')).toEqual({ text: '0.0.0.0', address: '0.0.0.0', port: 0 });
    expect(parseInetAddress('[::ffff:10.0.0.1]:65535', 'inet6').address).toBe('::ffff:10.0.0.1');
    expect(() => parseInetAddress('[::1:80', 'inet6')).toThrow(SsParseError);
    expect(() => parseInetAddress('127.0.0.1:http', 'inet')).toThrow(SsParseError);
    expect(() => parseInetAddress('nocolon', 'inet')).toThrow(SsParseError);
  });

  test('the netid column is optional; a netid, if present, is kept', () => {
    const r = parseSsLine('tcp   ESTAB 0 0 10.0.0.1:1 10.0.0.2:2', 'tcp4');
    expect(r).toMatchObject({ netid: 'tcp', state: 'established', local: { port: 1 }, peer: { port: 2 } });
  });

  test('users whose command has spaces, commas and parentheses', () => {
    const r = parseSsLine('ESTAB 0 0 10.0.0.1:1 10.0.0.2:2 users:(("a, b (c)",pid=5,fd=6),("z",pid=7,fd=8))', 'tcp4');
    expect(r.users).toEqual([
      { command: 'a, b (c)', pid: 5, fd: 6 },
      { command: 'z', pid: 7, fd: 8 },
    ]);
  });

  test('rates with a max, dctcp, ecn flags, an unknown cong name, unknown items kept', () => {
    const r = parseSsLine(
      'ESTAB 0 0 10.0.0.1:1 10.0.0.2:2 ts sack ecn ecnseen fastopen dctcp wscale:7,7 rto:3000 pacing_rate 100Kbps/2Mbps dctcp:(ce_state:1,alpha:2,ab_ecn:3,ab_tot:4) sndbuf_limited:5ms(1.0%) reordering:4 reord_seen:2 rcv_ooopack:9 fackets:3 qack:2 bidir newfield:12 sacked:4',
      'tcp4',
    );
    expect(r.tcpInfo).toMatchObject({
      ts: true,
      sack: true,
      ecn: true,
      ecnseen: true,
      fastopen: true,
      bidir: true,
      cong: 'dctcp',
      snd_wscale: 7,
      rcv_wscale: 7,
      rto: 3000,
      pacing_rate: 100000,
      pacing_rate_max: 2000000,
      dctcp: { ce_state: 1, alpha: 2, ab_ecn: 3, ab_tot: 4 },
      sndbuf_limited: 5,
      reordering: 4,
      reord_seen: 2,
      rcv_ooopack: 9,
      fackets: 3,
      qack: 2,
      sacked: 4,
    });
    expect(r.tcpInfo!.raw.newfield).toBe('12');
    const k = parseSsLine('ESTAB 0 0 10.0.0.1:1 10.0.0.2:2 send 1.31Gbps delivery_rate 976kbps pacing_rate 2.5Tbps', 'tcp4');
    expect(k.tcpInfo).toMatchObject({ send: 1.31e9, delivery_rate: 976000, pacing_rate: 2.5e12 });
    expect(() => parseSsLine('ESTAB 0 0 10.0.0.1:1 10.0.0.2:2 send fastbps', 'tcp4')).toThrow(/rate/);
    const f = parseSsLine('ESTAB 0 0 10.0.0.1:1 10.0.0.2:2 dctcp:fallback_mode', 'tcp4');
    expect(f.tcpInfo!.dctcp).toEqual({ fallback_mode: true });
    const u = parseSsLine('UNCONN 0 0 10.0.0.1:1 0.0.0.0:* mystery', 'udp4');
    expect(u.unknown).toEqual(['mystery']);
  });

  test('malformed lines are SsParseError, never a silent wrong record', () => {
    expect(() => parseSsLine('BOGUS 0 0 1.2.3.4:1 1.2.3.4:2', 'tcp4')).toThrow(SsParseError);
    expect(() => parseSsLine('ESTAB x 0 1.2.3.4:1 1.2.3.4:2', 'tcp4')).toThrow(/Recv-Q/);
    expect(() => parseSsLine('ESTAB 0 0 1.2.3.4:1', 'tcp4')).toThrow(SsParseError);
    expect(() => parseSsLine('ESTAB 0 0 1.2.3.4:1 1.2.3.4:2 skmem:(r0,rb1)', 'tcp4')).toThrow(/skmem/);
    expect(() => parseSsLine('ESTAB 0 0 1.2.3.4:1 1.2.3.4:2 users:(garbage)', 'tcp4')).toThrow(/users/);
    expect(() => parseSsLine('ESTAB 0 0 1.2.3.4:1 1.2.3.4:2 timer:(on,1ms)', 'tcp4')).toThrow(/timer/);
    expect(() => parseSsLine('ESTAB 0 0 1.2.3.4:1 1.2.3.4:2 sk:xyz', 'tcp4')).toThrow(/sk/);
    expect(() => parseSsLine('u_str ESTAB 0 0 /x', 'unix')).toThrow(SsParseError);
    expect(() => parseSsLine('UNCONN 0 0 rtnl:foo/1 *', 'netlink')).toThrow(/use -n/);
    expect(() => parseSsLine('p_raw UNCONN 0 0 [ipx]:lo *', 'packet')).toThrow(SsParseError);
    expect(() => parseSsLine('', 'tcp4')).toThrow(SsParseError);
  });

  test('tokenize keeps parentheses and quotes together', () => {
    expect(tokenize(' a:(b c) "d e" f( g ) h ')).toEqual(['a:(b c)', '"d e"', 'f( g )', 'h']);
    expect(tokenize('users:(("x y",pid=1,fd=2)) z')).toEqual(['users:(("x y",pid=1,fd=2))', 'z']);
  });
});

describe('formatG (C %g, as ss prints rtt/rto)', () => {
  test.each([
    [0, '0'],
    [200, '200'],
    [0.015, '0.015'],
    [4.606, '4.606'],
    [0.02, '0.02'],
    [2.88671875, '2.88672'],
    [123456, '123456'],
    [1234567, '1.23457e+06'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [65.536, '65.536'],
    [1000, '1000'],
  ])('%p → %p', (x, s) => {
    expect(formatG(x)).toBe(s);
  });
});

describe('printMsTimer (ss print_ms_timer)', () => {
  test.each([
    [0, ''],
    [208, '208ms'],
    [1208, '1.208ms'],
    [1076, '1.076ms'],
    [9999, '9.999ms'],
    [10500, '10sec'],
    [58000, '58sec'],
    [60000, '1min'],
    [61500, '1min1sec'],
    [599000, '9min59sec'],
    [3540000, '59min'],
    [3599999, '59min'],
  ])('%p → %p', (ms, s) => {
    expect(printMsTimer(ms)).toBe(s);
  });
});
