/**
 * Which requests list which sockets: {@link plansFor} and its types, now rows of the
 * socket-kind registry (./registry), re-exported here for the modules that import them from
 * this path.
 * @module
 */
export { plansFor, ALL_PROTOCOLS } from './registry';
export type { PlanInput, DumpPlan, MixedFamilies } from './registry';
