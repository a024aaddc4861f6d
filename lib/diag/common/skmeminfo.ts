/**
 * `SK_MEMINFO_*`: the u32 array several families send as their socket memory attribute
 * (inet `INET_DIAG_SKMEMINFO`, unix/packet/netlink `*_DIAG_MEMINFO`). It is what `ss -m`
 * prints as `skmem:(r…,rb…,t…,tb…,f…,w…,o…,bl…,d…)`.
 * @module
 */
import { defineStruct, StructValue } from '../../netlink/struct';

/** `__u32 [SK_MEMINFO_VARS]`, one row per SK_MEMINFO_* index. Later kernels may append more. */
export const skMeminfo = defineStruct(
  'sk_meminfo',
  36,
  [
    { name: 'rmemAlloc', orig: 'SK_MEMINFO_RMEM_ALLOC', type: 'u32', offset: 0 },
    { name: 'rcvbuf', orig: 'SK_MEMINFO_RCVBUF', type: 'u32', offset: 4 },
    { name: 'wmemAlloc', orig: 'SK_MEMINFO_WMEM_ALLOC', type: 'u32', offset: 8 },
    { name: 'sndbuf', orig: 'SK_MEMINFO_SNDBUF', type: 'u32', offset: 12 },
    { name: 'fwdAlloc', orig: 'SK_MEMINFO_FWD_ALLOC', type: 'u32', offset: 16 },
    { name: 'wmemQueued', orig: 'SK_MEMINFO_WMEM_QUEUED', type: 'u32', offset: 20 },
    { name: 'optmem', orig: 'SK_MEMINFO_OPTMEM', type: 'u32', offset: 24 },
    { name: 'backlog', orig: 'SK_MEMINFO_BACKLOG', type: 'u32', offset: 28 },
    { name: 'drops', orig: 'SK_MEMINFO_DROPS', type: 'u32', offset: 32 },
  ] as const,
  { growable: true },
);

/** Socket memory counters in bytes (`ss -m` skmem); fields the kernel did not send are undefined. */
export type SkMeminfo = StructValue<typeof skMeminfo>;
