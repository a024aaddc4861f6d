/**
 * Loads the native addon (its surface is declared in addon.ts), with a helpful error when
 * that fails, and checks what its tables assume of the host.
 * @module
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { SockdiagError } from '../errors';
import type { Addon } from './addon';

let binding: Addon | undefined;

/** The addon's verbs: a build without one of them is older than this library. */
const VERBS = ['Channel', 'scanProcSockets', 'readNetFiles', 'runBpfIterator'] as const;

/**
 * Throws unless the host is little-endian: the structure tables read the kernel's
 * host-order fields as little-endian. `endianness` defaults to this host's (tests pass another).
 */
export function checkEndianness(endianness: 'BE' | 'LE' = os.endianness()): void {
  if (endianness !== 'LE') {
    throw new SockdiagError(
      `sockdiag supports little-endian hosts only: its structure tables read the kernel's host-order fields as little-endian, and this host is big-endian (os.endianness() = '${endianness}')`,
      'ERR_SOCKDIAG_UNSUPPORTED_PLATFORM',
    );
  }
}

/** The loaded addon; loads it on first use with a helpful error when that fails. */
export function nativeBinding(): Addon {
  if (binding) return binding;
  if (process.platform !== 'linux') {
    throw new Error(`sockdiag works on Linux only (NETLINK_SOCK_DIAG); this is ${process.platform}`);
  }
  checkEndianness();
  const root = path.join(__dirname, '..', '..');
  let loaded: Partial<Addon>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const load = require('node-gyp-build') as (dir: string) => Partial<Addon>;
    loaded = load(root);
  } catch (err) {
    throw new Error(
      [
        `Could not load the sockdiag native addon for ${process.platform}-${process.arch} (Node ${process.version}).`,
        `Looked in ${path.join(root, 'build', 'Release')} and ${path.join(root, 'prebuilds', `${process.platform}-${process.arch}`)}.`,
        'Possible solutions:',
        '- Build it from source: npm rebuild sockdiag (needs python3, make and a C++ compiler).',
        '- Install with scripts enabled, or use a package that ships a prebuild for this platform and libc.',
        `Cause: ${(err as Error).message}`,
      ].join('\n'),
      { cause: err },
    );
  }
  const missing = VERBS.filter((verb) => typeof loaded[verb] !== 'function');
  if (missing.length > 0) {
    throw new SockdiagError(`The loaded sockdiag addon is older than this library (it has no ${missing.join(', ')}): rebuild it with \`npm run build:native\``, 'ERR_SOCKDIAG_ADDON_OUTDATED');
  }
  binding = loaded as Addon;
  return binding;
}
