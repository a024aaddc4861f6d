/**
 * @deprecated Moved to the system layer: `interfaceIndexes` to lib/system/links,
 * `cgroupIdOf` to lib/system/cgroups, `ephemeralPortRange` to lib/system/sysctl. This
 * re-export keeps lib/api/list.ts compiling until it imports them from there; then delete
 * this file (test/layers.test.ts lists it as an allowed exception until then).
 * @module
 */
export { interfaceIndexes } from '../system/links';
export { cgroupIdOf } from '../system/cgroups';
export { ephemeralPortRange } from '../system/sysctl';
