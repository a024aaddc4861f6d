/**
 * `struct tcp_info` (INET_DIAG_INFO for TCP). The kernel appends fields over time:
 * the 6.1 headers end at `tcpi_snd_wnd` (232 bytes); 6.18 sends 280. Decoding is by
 * length, so older and newer kernels both work; bytes past the last known field are `tail`.
 * @module
 */
import { defineStruct, StructValue } from '../../netlink/struct';

/** The `struct tcp_info` table. Times are in the units their names say. */
export const tcpInfo = defineStruct('tcp_info', 232, [
  { name: 'state', orig: 'tcpi_state', type: 'u8', offset: 0 },
  { name: 'caState', orig: 'tcpi_ca_state', type: 'u8', offset: 1 },
  { name: 'retransmits', orig: 'tcpi_retransmits', type: 'u8', offset: 2 },
  { name: 'probes', orig: 'tcpi_probes', type: 'u8', offset: 3 },
  { name: 'backoff', orig: 'tcpi_backoff', type: 'u8', offset: 4 },
  { name: 'options', orig: 'tcpi_options', type: 'u8', offset: 5 },
  { name: 'sndWscale', orig: 'tcpi_snd_wscale', type: 'u8', offset: 6, bits: [0, 4] },
  { name: 'rcvWscale', orig: 'tcpi_rcv_wscale', type: 'u8', offset: 6, bits: [4, 4] },
  { name: 'deliveryRateAppLimited', orig: 'tcpi_delivery_rate_app_limited', type: 'u8', offset: 7, bits: [0, 1] },
  { name: 'fastopenClientFail', orig: 'tcpi_fastopen_client_fail', type: 'u8', offset: 7, bits: [1, 2] },
  { name: 'rtoUs', orig: 'tcpi_rto', type: 'u32', offset: 8 },
  { name: 'atoUs', orig: 'tcpi_ato', type: 'u32', offset: 12 },
  { name: 'sndMss', orig: 'tcpi_snd_mss', type: 'u32', offset: 16 },
  { name: 'rcvMss', orig: 'tcpi_rcv_mss', type: 'u32', offset: 20 },
  { name: 'unacked', orig: 'tcpi_unacked', type: 'u32', offset: 24 },
  { name: 'sacked', orig: 'tcpi_sacked', type: 'u32', offset: 28 },
  { name: 'lost', orig: 'tcpi_lost', type: 'u32', offset: 32 },
  { name: 'retrans', orig: 'tcpi_retrans', type: 'u32', offset: 36 },
  { name: 'fackets', orig: 'tcpi_fackets', type: 'u32', offset: 40 },
  { name: 'lastDataSentMs', orig: 'tcpi_last_data_sent', type: 'u32', offset: 44 },
  { name: 'lastAckSentMs', orig: 'tcpi_last_ack_sent', type: 'u32', offset: 48 },
  { name: 'lastDataRecvMs', orig: 'tcpi_last_data_recv', type: 'u32', offset: 52 },
  { name: 'lastAckRecvMs', orig: 'tcpi_last_ack_recv', type: 'u32', offset: 56 },
  { name: 'pmtu', orig: 'tcpi_pmtu', type: 'u32', offset: 60 },
  { name: 'rcvSsthresh', orig: 'tcpi_rcv_ssthresh', type: 'u32', offset: 64 },
  { name: 'rttUs', orig: 'tcpi_rtt', type: 'u32', offset: 68 },
  { name: 'rttvarUs', orig: 'tcpi_rttvar', type: 'u32', offset: 72 },
  { name: 'sndSsthresh', orig: 'tcpi_snd_ssthresh', type: 'u32', offset: 76 },
  { name: 'sndCwnd', orig: 'tcpi_snd_cwnd', type: 'u32', offset: 80 },
  { name: 'advmss', orig: 'tcpi_advmss', type: 'u32', offset: 84 },
  { name: 'reordering', orig: 'tcpi_reordering', type: 'u32', offset: 88 },
  { name: 'rcvRttUs', orig: 'tcpi_rcv_rtt', type: 'u32', offset: 92 },
  { name: 'rcvSpace', orig: 'tcpi_rcv_space', type: 'u32', offset: 96 },
  { name: 'totalRetrans', orig: 'tcpi_total_retrans', type: 'u32', offset: 100 },
  { name: 'pacingRateBytesPerSec', orig: 'tcpi_pacing_rate', type: 'u64', offset: 104 },
  { name: 'maxPacingRateBytesPerSec', orig: 'tcpi_max_pacing_rate', type: 'u64', offset: 112 },
  { name: 'bytesAcked', orig: 'tcpi_bytes_acked', type: 'u64', offset: 120 },
  { name: 'bytesReceived', orig: 'tcpi_bytes_received', type: 'u64', offset: 128 },
  { name: 'segsOut', orig: 'tcpi_segs_out', type: 'u32', offset: 136 },
  { name: 'segsIn', orig: 'tcpi_segs_in', type: 'u32', offset: 140 },
  { name: 'notsentBytes', orig: 'tcpi_notsent_bytes', type: 'u32', offset: 144 },
  { name: 'minRttUs', orig: 'tcpi_min_rtt', type: 'u32', offset: 148 },
  { name: 'dataSegsIn', orig: 'tcpi_data_segs_in', type: 'u32', offset: 152 },
  { name: 'dataSegsOut', orig: 'tcpi_data_segs_out', type: 'u32', offset: 156 },
  { name: 'deliveryRateBytesPerSec', orig: 'tcpi_delivery_rate', type: 'u64', offset: 160 },
  { name: 'busyTimeUs', orig: 'tcpi_busy_time', type: 'u64', offset: 168 },
  { name: 'rwndLimitedUs', orig: 'tcpi_rwnd_limited', type: 'u64', offset: 176 },
  { name: 'sndbufLimitedUs', orig: 'tcpi_sndbuf_limited', type: 'u64', offset: 184 },
  { name: 'delivered', orig: 'tcpi_delivered', type: 'u32', offset: 192 },
  { name: 'deliveredCe', orig: 'tcpi_delivered_ce', type: 'u32', offset: 196 },
  { name: 'bytesSent', orig: 'tcpi_bytes_sent', type: 'u64', offset: 200 },
  { name: 'bytesRetrans', orig: 'tcpi_bytes_retrans', type: 'u64', offset: 208 },
  { name: 'dsackDups', orig: 'tcpi_dsack_dups', type: 'u32', offset: 216 },
  { name: 'reordSeen', orig: 'tcpi_reord_seen', type: 'u32', offset: 220 },
  { name: 'rcvOoopack', orig: 'tcpi_rcv_ooopack', type: 'u32', offset: 224 },
  { name: 'sndWnd', orig: 'tcpi_snd_wnd', type: 'u32', offset: 228 },
  // Appended after the 6.1 headers:
  { name: 'rcvWnd', orig: 'tcpi_rcv_wnd', type: 'u32', offset: 232, since: '6.2' },
  { name: 'rehash', orig: 'tcpi_rehash', type: 'u32', offset: 236, since: '6.2' },
  { name: 'totalRto', orig: 'tcpi_total_rto', type: 'u16', offset: 240, since: '6.7' },
  { name: 'totalRtoRecoveries', orig: 'tcpi_total_rto_recoveries', type: 'u16', offset: 242, since: '6.7' },
  { name: 'totalRtoTimeMs', orig: 'tcpi_total_rto_time', type: 'u32', offset: 244, since: '6.7' },
  { name: 'receivedCe', orig: 'tcpi_received_ce', type: 'u32', offset: 248, since: '6.18' },
  { name: 'deliveredE1Bytes', orig: 'tcpi_delivered_e1_bytes', type: 'u32', offset: 252, since: '6.18' },
  { name: 'deliveredE0Bytes', orig: 'tcpi_delivered_e0_bytes', type: 'u32', offset: 256, since: '6.18' },
  { name: 'deliveredCeBytes', orig: 'tcpi_delivered_ce_bytes', type: 'u32', offset: 260, since: '6.18' },
  { name: 'receivedE1Bytes', orig: 'tcpi_received_e1_bytes', type: 'u32', offset: 264, since: '6.18' },
  { name: 'receivedE0Bytes', orig: 'tcpi_received_e0_bytes', type: 'u32', offset: 268, since: '6.18' },
  { name: 'receivedCeBytes', orig: 'tcpi_received_ce_bytes', type: 'u32', offset: 272, since: '6.18' },
  { name: 'ecnMode', orig: 'tcpi_ecn_mode', type: 'u32', offset: 276, bits: [0, 2], since: '6.18' },
  { name: 'accecnOptSeen', orig: 'tcpi_accecn_opt_seen', type: 'u32', offset: 276, bits: [2, 2], since: '6.18' },
  { name: 'accecnFailMode', orig: 'tcpi_accecn_fail_mode', type: 'u32', offset: 276, bits: [4, 4], since: '6.18' },
  { name: 'options2', orig: 'tcpi_options2', type: 'u32', offset: 276, bits: [8, 24], since: '6.18' },
] as const, { growable: true });

/**
 * TCP connection details (`ss -i`). Every field may be `undefined` when the kernel sent a
 * shorter structure; `tail` holds bytes of fields newer than this library.
 */
export type TcpInfo = StructValue<typeof tcpInfo>;

/** `tcpi_options` bits. */
export const TCPI_OPT = { TIMESTAMPS: 1, SACK: 2, WSCALE: 4, ECN: 8, ECN_SEEN: 16, SYN_DATA: 32, USEC_TS: 64, TFO_CHILD: 128 } as const;
