/**
 * System errors say what ran out or what is missing: EMFILE/ENFILE name the limit and what
 * to do; a dump the kernel refuses because its filter tests socket marks names CAP_NET_ADMIN.
 */
import { SockdiagSystemError } from '../lib';
import { statusError } from '../lib/netlink/channel';
import { createNetns, describeRoot, Netns } from './helpers/netns';
import { libForChildren } from './helpers/destroy-lib';

describe('system errors say what ran out', () => {
  test('EMFILE and ENFILE name the limit and the way out', () => {
    const emfile = new SockdiagSystemError(-24, 'socket', { operation: 'open' });
    expect(emfile.code).toBe('EMFILE');
    expect(emfile.message).toMatch(/^socket EMFILE \(open\): this process has too many open files: .*ulimit -n/);
    expect(new SockdiagSystemError(23, 'socket').message).toMatch(/ENFILE: the system has too many open files/);
    // A detail given by the caller wins over the generic one.
    expect(new SockdiagSystemError(-24, 'socket', {}, 'specific').message).toBe('socket EMFILE: specific');
  });

  test("a dump refused with EPERM names the mark filter's CAP_NET_ADMIN; other operations keep their words", () => {
    const dump = statusError(-1, { operation: 'dump', family: 'inet', protocol: 'tcp' });
    expect(dump).toMatchObject({ code: 'EPERM', errno: -1, syscall: 'recvmsg', operation: 'dump' });
    expect(dump.message).toMatch(/fwmark.*CAP_NET_ADMIN/);
    expect(statusError(-1, { operation: 'destroy' }).message).not.toMatch(/fwmark/);
    expect(statusError(-1, { operation: 'dump' }, 'the kernel said why').message).toMatch(/the kernel said why$/);
  });
});

describeRoot('EPERM from the kernel on a live namespace', () => {
  let ns: Netns;
  beforeAll(async () => {
    ns = await createNetns();
  });
  afterAll(async () => {
    await ns?.destroy();
  });

  test('as uid 65534 without capabilities, a fwmark filter is EPERM naming CAP_NET_ADMIN; without it the listing works', async () => {
    const lib = libForChildren();
    const script = `
      const { listSockets } = require(${JSON.stringify(`${lib}/dist`)});
      (async () => {
        const plain = await listSockets({ protocols: ['tcp'] });
        let marked;
        try { await listSockets({ protocols: ['tcp'], filter: 'fwmark = 1' }); marked = 'listed'; }
        catch (e) { marked = { name: e.name, code: e.code, errno: e.errno, message: e.message }; }
        process.stdout.write(JSON.stringify({ uid: process.getuid(), plain: plain.length, marked }) + '\\n');
      })();`;
    const r = await ns.exec(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, '-e', script], { timeoutMs: 20_000 });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout.trim()) as { uid: number; plain: number; marked: { code: string; errno: number; message: string } };
    expect(out.uid).toBe(65534);
    expect(out.plain).toBe(0);
    expect(out.marked).toMatchObject({ code: 'EPERM', errno: -1 });
    expect(out.marked.message).toMatch(/fwmark.*CAP_NET_ADMIN/);
  });
});
