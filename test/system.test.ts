import { interfaceIndexes, readInterfaceIndexes, encodeLinkRequest, ifinfomsg, linkAttributes, RTM } from '../lib/system/links';
import { encodeMessage } from '../lib/netlink/fixed-message';
import { NLM_F, NLMSG_HDRLEN } from '../lib/netlink/message';
import { DecodeError } from '../lib/errors';
import { scriptedChannel, done } from './helpers/fake-kernel';
import { cgroupIdOf } from '../lib/system/cgroups';
import { cgroup2Mount } from '../lib/system/mounts';
import { statSync, readdirSync, existsSync } from 'node:fs';
import * as path from 'node:path';
import { createNetns, describeRoot, Netns } from './helpers/netns';

describe('link dump, on a fake kernel', () => {
  // A link message as the kernel sends it: ifinfomsg, then attributes (an unknown one first).
  const link = (seq: number, pid: number, index: number, name: string | undefined): Buffer =>
    encodeMessage({ type: RTM.NEWLINK, flags: NLM_F.MULTI, seq, pid }, ifinfomsg, { family: 0, type: 772, index, flags: 0x49 }, linkAttributes, {
      ...(name === undefined ? {} : { name }),
      unknown: [{ type: 4, bytes: Buffer.from([0, 0, 1, 0]) }],
    });

  test('the request is RTM_GETLINK with a zeroed ifinfomsg; replies map names to indexes', async () => {
    const ch = scriptedChannel((_req, seq) => [[{ bytes: Buffer.concat([link(seq, 0, 1, 'lo'), link(seq, 0, 7, 'veth-a'), link(seq, 0, 9, undefined)]) }], [{ bytes: done(seq, 0) }]]);
    const got = await readInterfaceIndexes(ch);
    expect([...got]).toEqual([['lo', 1], ['veth-a', 7]]);
    const [req] = ch.sent;
    expect(req.length).toBe(NLMSG_HDRLEN + ifinfomsg.size);
    expect(req.readUInt16LE(4)).toBe(RTM.GETLINK);
    expect(req.readUInt16LE(6)).toBe(NLM_F.REQUEST | NLM_F.DUMP);
    expect(req.subarray(NLMSG_HDRLEN).equals(Buffer.alloc(ifinfomsg.size))).toBe(true);
    expect(encodeLinkRequest().length).toBe(req.length);
  });

  test('a link message cut inside its ifinfomsg is a DecodeError', async () => {
    const short = link(0, 0, 3, 'x').subarray(0, NLMSG_HDRLEN + 8);
    short.writeUInt32LE(short.length, 0);
    const ch = scriptedChannel((_req, seq) => {
      short.writeUInt32LE(seq, 8);
      return [[{ bytes: Buffer.from(short) }], [{ bytes: done(seq, 0) }]];
    });
    await expect(readInterfaceIndexes(ch)).rejects.toThrow(DecodeError);
  });
});

describeRoot('device names a filter resolves in the target namespace', () => {
  let ns: Netns;
  beforeAll(async () => {
    ns = await createNetns();
    await ns.exec(['ip', 'link', 'add', 'sdtest0', 'type', 'veth', 'peer', 'name', 'sdtest1'], { check: true });
  });
  afterAll(() => ns?.destroy());

  test('device names map to the indexes of the namespace being listed', async () => {
    const links = await interfaceIndexes(ns.name);
    expect(links.get('lo')).toBe(1);
    const shown = await ns.exec(['cat', '/sys/class/net/sdtest0/ifindex'], { check: true });
    expect(links.get('sdtest0')).toBe(Number(shown.stdout.trim()));
    expect([...links.keys()].sort()).toEqual(['lo', 'sdtest0', 'sdtest1']);
  });
});

// File system only: no root needed.
describe('cgroup names a filter resolves', () => {
  test('a cgroup path resolves as ss resolves it: as a file system path first, then under the cgroup2 mount', () => {
    const ino = (p: string): bigint => statSync(p, { bigint: true }).ino;
    // `/` is the root file system (what ss's name_to_handle_at sees first), not the root cgroup.
    expect(cgroupIdOf('/')).toBe(ino('/'));
    const mount = cgroup2Mount();
    expect(mount).toBeDefined();
    expect(cgroupIdOf(mount!)).toBe(ino(mount!));
    // A name that is no file system path is a cgroup under the mount.
    const child = readdirSync(mount!, { withFileTypes: true }).find((d) => d.isDirectory() && !existsSync(`/${d.name}`));
    if (child) expect(cgroupIdOf(`/${child.name}`)).toBe(ino(path.join(mount!, child.name)));
    expect(cgroupIdOf('/no/such/cgroup/here')).toBeUndefined();
  });
});
