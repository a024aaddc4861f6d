/**
 * sockdiag: the Linux kernel's socket table (NETLINK_SOCK_DIAG) as typed objects.
 *
 * @example
 * ```ts
 * import { listSockets } from 'sockdiag';
 * const sockets = await listSockets({ protocols: ['tcp'], states: ['listening'] });
 * ```
 * @module sockdiag
 */
export { listSockets, streamSockets } from './api/list';
export type { SocketList, SocketStream } from './api/list';
export type { ListOptions, ListingStats } from './api/options';
export type { Socket } from './diag/socket';
export type { BaseSocket, SocketProcess } from './diag/common/socket';
export type { SkMeminfo } from './diag/common/skmeminfo';
export type { ProtocolName, FamilyName, SocketState, SocketTypeName } from './diag/constants';
export type { UnixSocket, UnixSocketType, UnixDiagVfs, UnixDiagRqlen } from './diag/unix';
export type { PacketSocket, PacketSocketType, PacketDiagInfo, PacketDiagMclist, PacketDiagRing, PacketFanout, SockFilter } from './diag/packet';
export type { NetlinkSocket, NetlinkSocketType, NetlinkDiagRing, NetlinkFlags } from './diag/netlink';
export type { VsockSocket, VsockType, VsockAddress } from './diag/vsock';
export type { TipcSocket, TipcType, TipcConnection, TipcSockStats, TipcGroup } from './diag/tipc';
export type { XdpSocket, XdpDiagInfo, XdpDiagRing, XdpDiagUmem, XdpDiagStats } from './diag/xdp';
export type {
  InetSocket,
  TcpSocket,
  MptcpSocket,
  OtherInetSocket,
  InetSocketFields,
  InetEndpoint,
  InetTimer,
  InetExtension,
  TcpInfo,
  MptcpInfo,
  InetDiagMeminfo,
  InetDiagSockopt,
  TcpVegasInfo,
  TcpDctcpInfo,
  TcpBbrInfo,
  TcpDiagMd5sig,
  UlpInfo,
  BpfStorage,
  InetProtocolName,
} from './diag/inet';
export { Engine, TimeoutError, defaultEngine } from './engine';
export type { DumpPlan, MixedFamilies, PlanInput, InetFilterProgram } from './diag/registry';
export type { MessageDecoder } from './netlink/channel';
export type { EvaluateContext } from './filter/evaluate';
export type { CompiledFilter } from './filter/bytecode';
export type { EngineOptions, RunOptions, ChannelFactory, ChannelRequest, EngineChannel, DumpSink, EngineStats, Listing, PlannedDump } from './engine';
export { Channel } from './netlink/channel';
export type { ChannelOptions, NetnsRef, Datagrams, DumpStats } from './netlink/channel';
export { SockdiagError, SockdiagSystemError, NotSupportedError, DecodeError, AbortError, RecordingError } from './errors';
export type { ErrorContext } from './errors';
export type { RawAttribute } from './netlink/attributes';
export { scanProcesses, ProcessMap } from './proc/processes';
export type { ProcessScanOptions, ProcessesOption, SocketOwner } from './proc/processes';
export { selinuxEnabled, processContext, kernelContext, SELINUX_UNAVAILABLE } from './proc/selinux';
export type { SecurityContexts, ContextLookupOptions } from './proc/selinux';
export { summary, formatSummary } from './api/summary';
export type { Summary, SummaryOptions, TransportCounts, SockstatFigures } from './api/summary';
export { InetSocketView } from './diag/inet';
export * as tables from './tables';
export * from './filter';
export { watchSockets } from './api/watch';
export type { WatchOptions, SocketEvent, SocketDestroyEvent, SocketOverrunEvent, SocketWatch, WatchStats } from './api/watch';
export { rawDump, decodeDump, RAW_SEQ_TAG } from './api/raw';
export type { RawDumpStream, RawDumpStats, DecodeDumpOptions } from './api/raw';
export { trackSockets, TRACKED_MESSAGE_FIELDS, TRACKED_TCP_INFO_FIELDS } from './monitor/track';
export type { TrackOptions, TrackEvent, TrackOpenEvent, TrackChangeEvent, TrackCloseEvent, TrackerStats, SocketTracker } from './monitor/track';
export { sampleRates } from './monitor/rates';
export type { RateOptions, RateSample, ConnectionRate, ClosedConnection, RateStats, RateSampler } from './monitor/rates';
export { recordSockets, replay, recordedFiles, recordHeader, RECORD_MAGIC, RECORD_VERSION, RECORD_KIND, RECORD_FLAG } from './monitor/record';
export type { RecordOptions, Recording, RecordStats, RecordingInfo, ReplayedDump, ReplayOptions, ReplayStats, Replay } from './monitor/record';
export { destroySocket, destroySockets } from './api/destroy';
export type { DestroySocketOptions, DestroySocketsOptions, DestroySocketsResult, DestroyResult, DestroyOutcome } from './api/destroy';
