/**
 * The low-level layer: every kernel structure and attribute table, the request encoders,
 * the message decoders and encoders of each family, and the table machinery they come
 * from. For tools that speak sock_diag themselves (with {@link Channel}) or replay bytes.
 * @module
 */
export * from './netlink/struct';
export * from './netlink/attributes';
export * from './netlink/message';
export * from './netlink/offsets';
export * from './netlink/codecs';
export * from './netlink/fixed-message';
export * from './diag/constants';
export * from './diag/request';
export * from './diag/common/skmeminfo';
export * from './diag/inet';
export * from './diag/unix';
export * from './diag/packet';
export * from './diag/netlink';
export * from './diag/vsock';
export * from './diag/tipc';
export * from './diag/xdp';
