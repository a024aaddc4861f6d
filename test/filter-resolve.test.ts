import { interfaceIndexes, cgroupIdOf } from '../lib/filter/resolve';
import { statSync } from 'node:fs';
import { createNetns, describeRoot, Netns } from './helpers/netns';

describeRoot('names a filter resolves in the target system', () => {
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

  test('a cgroup path maps to its cgroup v2 id (the directory inode); a missing one to undefined', () => {
    expect(cgroupIdOf('/')).toBe(statSync('/sys/fs/cgroup', { bigint: true }).ino);
    expect(cgroupIdOf('/no/such/cgroup/here')).toBeUndefined();
  });
});
