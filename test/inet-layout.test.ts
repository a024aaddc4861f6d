import { readFileSync } from 'node:fs';
/** The inet tables against the C headers: gcc's offsetof/sizeof must match every row. */
import { StructSpec, defineStruct } from '../lib/netlink/struct';
import {
  inetDiagSockid, inetDiagReqV2, inetDiagReq, inetDiagMsg, inetDiagMeminfo, tcpvegasInfo, tcpDctcpInfo, tcpBbrInfo, tcpDiagMd5sig, inetDiagAttributes, INET_DIAG_EXT,
  inetDiagBcOp, inetDiagHostcond, inetDiagMarkcond, sockaddrStorage, sockaddrIn, sockaddrIn6,
} from '../lib/diag/inet';
import { tcpInfo } from '../lib/diag/inet/tcp-info';
import { mptcpInfo } from '../lib/diag/inet/mptcp-info';
import { expectCLayout, headerEnum } from './helpers/decoder-harness';

/** The rows C can check: no bit fields, no fields newer than the 6.1 headers, none spanning two members. */
function checkable(spec: StructSpec, skip: readonly string[] = []): StructSpec {
  return defineStruct(spec.name, spec.size, spec.fields.filter((f) => !f.bits && !f.since && !skip.includes(f.name)), { growable: spec.growable });
}

test('inet structures match linux/inet_diag.h, tcp.h and mptcp.h', () => {
  const layout = expectCLayout(['linux/inet_diag.h', 'linux/tcp.h', 'linux/mptcp.h'], [
    [inetDiagSockid, 'inet_diag_sockid'],
    [inetDiagReqV2, 'inet_diag_req_v2'],
    [inetDiagReq, 'inet_diag_req'],
    [inetDiagMsg, 'inet_diag_msg'],
    [inetDiagMeminfo, 'inet_diag_meminfo'],
    [tcpvegasInfo, 'tcpvegas_info'],
    [tcpDctcpInfo, 'tcp_dctcp_info'],
    // bbr_bw_lo and bbr_bw_hi are read as one u64.
    [checkable(tcpBbrInfo, ['bwBytesPerSec']), 'tcp_bbr_info'],
    [tcpDiagMd5sig, 'tcp_diag_md5sig'],
    [checkable(tcpInfo), 'tcp_info'],
    [checkable(mptcpInfo), 'mptcp_info'],
    // The filter program's op and operands (the bytecode compiler writes through these).
    [inetDiagBcOp, 'inet_diag_bc_op'],
    // addr[] is a flexible array member, which C cannot take the sizeof of: checked below.
    [checkable(inetDiagHostcond, ['addr']), 'inet_diag_hostcond'],
    [inetDiagMarkcond, 'inet_diag_markcond'],
  ]);
  expect(layout).toContain('tcp_info.tcpi_snd_wnd 228 4');
  expect(layout).toContain('inet_diag_msg.idiag_inode 68 4');
  expect(layout).toContain('inet_diag_hostcond.port 4 4');
});

test('the socket addresses of INET_DIAG_LOCALS/PEERS match netinet/in.h', () => {
  expectCLayout(['sys/socket.h', 'netinet/in.h'], [
    [sockaddrStorage, 'sockaddr_storage'],
    [sockaddrIn, 'sockaddr_in'],
    [sockaddrIn6, 'sockaddr_in6'],
  ]);
});

test("inet_diag_hostcond's address array starts at its end", () => {
  const addr = inetDiagHostcond.fields.find((f) => f.orig === 'addr')!;
  const layout = expectCLayout(['linux/inet_diag.h'], [[defineStruct('inet_diag_hostcond', inetDiagHostcond.size, [{ name: 'addrAt', orig: 'addr[0]', type: 'u32', offset: addr.offset }], { growable: true }), 'inet_diag_hostcond']]);
  expect(layout).toBe('inet_diag_hostcond 8\ninet_diag_hostcond.addr[0] 8 4\n');
});

test('one attribute row per INET_DIAG_* constant, and idiag_ext bits for the first eight', () => {
  const text = readFileSync('/usr/include/linux/inet_diag.h', 'utf8');
  // The enum that starts with INET_DIAG_NONE (the file has others before it).
  const header = headerEnum(text.slice(text.indexOf('INET_DIAG_NONE') - 10), 'INET_DIAG_');
  expect(header[0]).toEqual(['INET_DIAG_NONE', 0]);
  const rows = [...inetDiagAttributes.rows].sort((a, b) => a.type - b.type).map((r) => [r.orig, r.type]);
  expect(rows).toEqual(header.slice(1));
  expect(rows).toHaveLength(22);
  expect(Object.values(INET_DIAG_EXT)).toEqual([1, 2, 4, 8, 16, 32, 64, 128]);
});
