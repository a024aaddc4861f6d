/**
 * The listing engine: one place where listings are planned and run (see ARCHITECTURE.md).
 * @module
 */
export { TimeoutError } from '../errors';
export { Engine, defaultEngine, engineOf, runOptionsOf, type EngineOptions, type RunOptions } from './engine';
export { nativeChannels, type ChannelFactory, type ChannelRequest, type EngineChannel } from './channel';
export { CookieSet, newEngineStats, throwIfAborted, type DumpSink, type EngineStats } from './dump';
export type { Listing, PlannedDump } from './plan';
export type { ListOptions, ListingStats } from './options';
export { rawDatagrams, rawSequence, RAW_SEQ_TAG, type RawDatagram } from './datagrams';
export { validateListOptions, describeValue } from './validate';
