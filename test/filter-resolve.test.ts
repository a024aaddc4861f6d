import { interfaceIndexes, cgroupIdOf } from '../lib/filter/resolve';
import { cgroup2Mount } from '../lib/proc/mounts';
import { statSync, readdirSync, existsSync } from 'node:fs';
import * as path from 'node:path';
import { createNetns, describeRoot, Netns } from './helpers/netns';

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
