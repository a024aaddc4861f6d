/**
 * Planning a listing: the caller's options resolved into dumps (one request per family
 * and protocol, with the kernel's part of the filter compiled into it), and what decides
 * which of their sockets the listing keeps.
 * @module
 */
import { AF, ProtocolName, stateMask } from '../diag/constants';
import { ALL_PROTOCOLS, plansFor, PlanInput, DumpPlan, MixedFamilies } from '../diag/registry';
import type { ListOptions } from './options';
import type { Filter, FilterExpr } from '../filter/ast';
import { parseFilter } from '../filter/parse';
import { filterToString } from '../filter/print';
import { FilterValueError } from '../filter/errors';
import { toFilter } from '../filter/builder';
import { compileFilter, filterStateMask, CompiledFilter } from '../filter/bytecode';
import type { EvaluateContext } from '../filter/evaluate';
import { interfaceIndexes } from '../system/links';
import { cgroupIdOf } from '../system/cgroups';
import { ephemeralPortRange } from '../system/sysctl';

/** One dump of a listing: the kind it lists and its request and decoder. */
export interface PlannedDump {
  /** The socket kind this dump lists. */
  protocol: ProtocolName;
  /** Request, decoder, error words. */
  plan: DumpPlan;
}

/** A listing's dumps and what decides which of their sockets it keeps. */
export interface Listing {
  /** The dumps, in the order the listing returns their sockets. */
  dumps: PlannedDump[];
  /** The filter expression (undefined: keep everything the kernel returns). */
  expr: FilterExpr | undefined;
  /** The expression's names resolved in the listed system. */
  filterCtx: EvaluateContext | undefined;
  /** True when the caller named the protocols: a kernel refusing one is then an error. */
  explicit: boolean;
}

/** The filter expression's names resolved in the listed system, for the compiler and the evaluator. */
async function filterContext(expr: FilterExpr, netns: ListOptions['netns'], text: string): Promise<EvaluateContext> {
  const devices = new Set<string>();
  const cgroupPaths = new Set<string>();
  let autobound = false;
  const walk = (e: FilterExpr): void => {
    if (e.kind === 'and' || e.kind === 'or') e.items.forEach(walk);
    else if (e.kind === 'not') walk(e.item);
    else if (e.kind === 'autobound') autobound = true;
    else if (e.kind === 'cgroup') cgroupPaths.add(e.path);
    else if (e.kind === 'dev' && typeof e.device === 'string') devices.add(e.device);
    else if (e.kind === 'host' && e.host.family === 'link' && typeof e.host.device === 'string') devices.add(e.host.device);
  };
  walk(expr);
  const [indexes, range] = await Promise.all([
    devices.size > 0 ? interfaceIndexes(netns) : new Map<string, number>(),
    // ss's autobound rule uses the listed namespace's ephemeral port range.
    autobound ? ephemeralPortRange(netns) : undefined,
  ]);
  const cgroups = new Map<string, bigint | undefined>();
  for (const p of cgroupPaths) {
    const id = cgroupIdOf(p);
    // As ss: a cgroup that cannot be found is a bad value, not a filter that matches nothing.
    if (id === undefined) throw new FilterValueError(text, Math.max(0, text.indexOf(p)), p, 'no such cgroup (neither a path nor under the cgroup2 mount)');
    cgroups.set(p, id);
  }
  return {
    ...(range === undefined ? {} : { ephemeralPorts: range }),
    ifindex: (name) => indexes.get(name),
    cgroupId: (path) => {
      if (!cgroups.has(path)) cgroups.set(path, cgroupIdOf(path));
      return cgroups.get(path);
    },
  };
}

/** The filter option as a tree (text is parsed here, so a syntax error surfaces at the call). */
function filterOf(option: ListOptions['filter']): Filter | undefined {
  if (option === undefined) return undefined;
  if (typeof option === 'string') return parseFilter(option);
  return toFilter(option);
}

function planInput(opts: ListOptions, filter: Filter | undefined, filterCtx: EvaluateContext | undefined, mixedFamilies: MixedFamilies): PlanInput {
  const fams = opts.families ?? ['inet', 'inet6'];
  for (const f of fams) if (f !== 'inet' && f !== 'inet6') throw new TypeError(`families must be 'inet' or 'inet6', got ${String(f)}`);
  let extensions: PlanInput['extensions'];
  if (opts.extensions === undefined || opts.extensions === 'all') extensions = undefined;
  else if (opts.extensions === 'none') extensions = [];
  else if (Array.isArray(opts.extensions)) extensions = opts.extensions;
  else throw new TypeError("extensions must be 'all', 'none' or a list of extension names");
  let states = stateMask(opts.states);
  if (filter && filter.states.length > 0) states = filterStateMask(filter.states, states);
  const expr = filter?.expr;
  const compiled = new Map<'inet' | 'inet6', CompiledFilter>();
  return {
    states,
    inetFamilies: fams.map((f) => (f === 'inet' ? AF.INET : AF.INET6)),
    extensions,
    filtered: expr !== undefined,
    mixedFamilies,
    compiled:
      expr === undefined
        ? undefined
        : (family) => {
            let c = compiled.get(family);
            if (c === undefined) {
              c = compileFilter(expr, { family, ifindex: filterCtx?.ifindex, cgroupId: filterCtx?.cgroupId });
              compiled.set(family, c);
            }
            return c;
          },
  };
}

function selectedProtocols(opts: ListOptions): { protocols: readonly ProtocolName[]; explicit: boolean } {
  if (opts.protocols === undefined) return { protocols: ALL_PROTOCOLS, explicit: false };
  if (!Array.isArray(opts.protocols)) throw new TypeError('protocols must be an array of protocol names');
  for (const p of opts.protocols) if (!ALL_PROTOCOLS.includes(p)) throw new TypeError(`unknown protocol: ${String(p)}`);
  return { protocols: opts.protocols, explicit: true };
}

/**
 * The dumps `opts` asks for, with the filter parsed, resolved and compiled. Kinds for which
 * `skip` answers true (the kernel refused them recently) are left out and given to `skipped`.
 * `mixedFamilies`: when a TCP listing of both families may walk the kernel's table once.
 */
export async function planListing(opts: ListOptions, mixedFamilies: MixedFamilies, skip: (protocol: ProtocolName) => boolean, skipped: (protocol: ProtocolName) => void): Promise<Listing> {
  const filter = filterOf(opts.filter);
  const expr = filter?.expr;
  const filterCtx = expr === undefined ? undefined : await filterContext(expr, opts.netns, typeof opts.filter === 'string' ? opts.filter : filterToString(filter!));
  const input = planInput(opts, filter, filterCtx, mixedFamilies);
  const { protocols, explicit } = selectedProtocols(opts);
  const dumps: PlannedDump[] = [];
  for (const protocol of protocols) {
    if (!explicit && skip(protocol)) {
      skipped(protocol);
      continue;
    }
    for (const plan of plansFor(protocol, input)) dumps.push({ protocol, plan });
  }
  return { dumps, expr, filterCtx, explicit };
}
