/**
 * rtnetlink link messages: the tables against linux/rtnetlink.h and if_link.h, the decoder on
 * built bytes, and a live RTM_GETLINK dump in a private namespace.
 */
import { readFileSync } from 'node:fs';
import { ifinfomsg, linkAttributes, encodeLinkDumpRequest, decodeLinkMessage, RTM, NETLINK_ROUTE } from '../lib/netlink/link';
import { encodeMessage } from '../lib/netlink/fixed-message';
import { Channel, runDump, type DumpStats } from '../lib/netlink/channel';
import { DecodeError } from '../lib/errors';
import { expectCLayout, headerEnum } from './helpers/decoder-harness';
import { createNetns, describeRoot, type Netns } from './helpers/netns';

/** An RTM_NEWLINK reply as the kernel sends one (header, ifinfomsg, attributes). */
function link(index: number, attrs: Record<string, unknown>, type: number = RTM.NEWLINK): Buffer {
  return encodeMessage({ type }, ifinfomsg, { family: 0, type: 772, index, flags: 0x49 }, linkAttributes, attrs);
}

test('struct ifinfomsg and IFLA_IFNAME match the uapi headers', () => {
  expectCLayout(['linux/rtnetlink.h'], [[ifinfomsg, 'ifinfomsg']]);
  const text = readFileSync('/usr/include/linux/if_link.h', 'utf8');
  const ifla = new Map(headerEnum(text.slice(text.indexOf('IFLA_UNSPEC') - 10), 'IFLA_'));
  for (const row of linkAttributes.rows) expect([row.orig, ifla.get(row.orig)]).toEqual([row.orig, row.type]);
  const rt = readFileSync('/usr/include/linux/rtnetlink.h', 'utf8');
  expect(rt).toMatch(/RTM_NEWLINK\s*=\s*16,/);
  expect(RTM.GETLINK).toBe(RTM.NEWLINK + 2); // RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK
});

test('the dump request is a header and an all-zero ifinfomsg', () => {
  const b = encodeLinkDumpRequest();
  expect(b.toString('hex')).toBe(
    '20000000' + // nlmsg_len 32
      '1200' + // nlmsg_type RTM_GETLINK
      '0103' + // NLM_F_REQUEST | NLM_F_DUMP
      '00000000' + '00000000' + // seq, pid
      '00'.repeat(16), // struct ifinfomsg
  );
});

test('a link message gives its index and name; other types and nameless links give nothing', () => {
  const b = link(7, { ifname: 'veth0', unknown: [{ type: 4, bytes: Buffer.from([0xdc, 5, 0, 0]) }] });
  expect(decodeLinkMessage(b, 0, b.length)).toEqual({ index: 7, name: 'veth0' });
  // Found after other attributes too, in a batch at an offset.
  const other = link(9, { unknown: [{ type: 4, bytes: Buffer.alloc(4) }, { type: 3, bytes: Buffer.from('eth1\0', 'latin1') }] });
  const batch = Buffer.concat([b, other]);
  expect(decodeLinkMessage(batch, b.length, other.length)).toEqual({ index: 9, name: 'eth1' });
  expect(decodeLinkMessage(link(3, {}), 0, link(3, {}).length)).toBeUndefined();
  const del = link(7, { ifname: 'x' }, 17);
  expect(decodeLinkMessage(del, 0, del.length)).toBeUndefined();
});

test('malformed link messages are DecodeErrors with the offset', () => {
  const b = link(7, { ifname: 'veth0' });
  expect(() => decodeLinkMessage(b, 0, 16 + 8)).toThrow(DecodeError);
  const bad = Buffer.from(b);
  bad.writeUInt16LE(40, 32); // IFLA_IFNAME's nla_len past the end
  let err: unknown;
  try {
    decodeLinkMessage(bad, 0, bad.length);
  } catch (e) {
    err = e;
  }
  expect(err).toMatchObject({ offset: 32, structName: 'ifla' });
});

describeRoot('a live RTM_GETLINK dump', () => {
  let ns: Netns;
  beforeAll(async () => {
    ns = await createNetns();
    await ns.exec(['ip', 'link', 'add', 'sdlink0', 'type', 'veth', 'peer', 'name', 'sdlink1'], { check: true });
  });
  afterAll(() => ns?.destroy());

  test('names every link of the namespace with its index', async () => {
    const channel = Channel.open({ protocol: NETLINK_ROUTE, netns: ns.name });
    const links = new Map<string, number>();
    try {
      const stats: DumpStats = { messages: 0, interrupted: false, foreignDropped: 0 };
      for await (const batch of runDump(channel, encodeLinkDumpRequest(), decodeLinkMessage, { operation: 'link dump' }, stats)) {
        for (const l of batch) links.set(l.name, l.index);
      }
    } finally {
      channel.close();
    }
    const index = async (dev: string): Promise<number> => Number((await ns.exec(['cat', `/sys/class/net/${dev}/ifindex`], { check: true })).stdout.trim());
    expect(links).toEqual(new Map([['lo', 1], ['sdlink0', await index('sdlink0')], ['sdlink1', await index('sdlink1')]]));
  });
});
