/**
 * Options of the listing functions (declared with the engine that runs them).
 * @module
 */
export type { ListOptions, ListingStats } from '../engine/options';
