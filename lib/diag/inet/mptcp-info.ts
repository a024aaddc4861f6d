/**
 * `struct mptcp_info` (INET_DIAG_INFO for MPTCP sockets), decoded by length: the 6.1
 * headers end at `mptcpi_csum_enabled` (48 bytes with padding); later kernels append counters.
 * @module
 */
import { defineStruct, StructValue } from '../../netlink/struct';

/** The `struct mptcp_info` table. */
export const mptcpInfo = defineStruct('mptcp_info', 48, [
  { name: 'subflows', orig: 'mptcpi_subflows', type: 'u8', offset: 0 },
  { name: 'addAddrSignal', orig: 'mptcpi_add_addr_signal', type: 'u8', offset: 1 },
  { name: 'addAddrAccepted', orig: 'mptcpi_add_addr_accepted', type: 'u8', offset: 2 },
  { name: 'subflowsMax', orig: 'mptcpi_subflows_max', type: 'u8', offset: 3 },
  { name: 'addAddrSignalMax', orig: 'mptcpi_add_addr_signal_max', type: 'u8', offset: 4 },
  { name: 'addAddrAcceptedMax', orig: 'mptcpi_add_addr_accepted_max', type: 'u8', offset: 5 },
  { name: 'flags', orig: 'mptcpi_flags', type: 'u32', offset: 8 },
  { name: 'token', orig: 'mptcpi_token', type: 'u32', offset: 12 },
  { name: 'writeSeq', orig: 'mptcpi_write_seq', type: 'u64', offset: 16 },
  { name: 'sndUna', orig: 'mptcpi_snd_una', type: 'u64', offset: 24 },
  { name: 'rcvNxt', orig: 'mptcpi_rcv_nxt', type: 'u64', offset: 32 },
  { name: 'localAddrUsed', orig: 'mptcpi_local_addr_used', type: 'u8', offset: 40 },
  { name: 'localAddrMax', orig: 'mptcpi_local_addr_max', type: 'u8', offset: 41 },
  { name: 'csumEnabled', orig: 'mptcpi_csum_enabled', type: 'u8', offset: 42 },
  { name: 'retransmits', orig: 'mptcpi_retransmits', type: 'u32', offset: 44, since: '6.5' },
  { name: 'bytesRetrans', orig: 'mptcpi_bytes_retrans', type: 'u64', offset: 48, since: '6.5' },
  { name: 'bytesSent', orig: 'mptcpi_bytes_sent', type: 'u64', offset: 56, since: '6.5' },
  { name: 'bytesReceived', orig: 'mptcpi_bytes_received', type: 'u64', offset: 64, since: '6.5' },
  { name: 'bytesAcked', orig: 'mptcpi_bytes_acked', type: 'u64', offset: 72, since: '6.5' },
  { name: 'subflowsTotal', orig: 'mptcpi_subflows_total', type: 'u8', offset: 80, since: '6.8' },
  { name: 'endpLaminarMax', orig: 'mptcpi_endp_laminar_max', type: 'u8', offset: 81, since: '6.18' },
  { name: 'endpFullmeshMax', orig: 'mptcpi_endp_fullmesh_max', type: 'u8', offset: 82, since: '6.18' },
  { name: 'lastDataSentMs', orig: 'mptcpi_last_data_sent', type: 'u32', offset: 84, since: '6.10' },
  { name: 'lastDataRecvMs', orig: 'mptcpi_last_data_recv', type: 'u32', offset: 88, since: '6.10' },
  { name: 'lastAckRecvMs', orig: 'mptcpi_last_ack_recv', type: 'u32', offset: 92, since: '6.10' },
] as const, { growable: true });

/** MPTCP connection-level details (`ss -Mi`); fields may be undefined on older kernels. */
export type MptcpInfo = StructValue<typeof mptcpInfo>;

/** `mptcpi_flags` bits. */
export const MPTCP_INFO_FLAG = { FALLBACK: 1, REMOTE_KEY_RECEIVED: 2 } as const;
