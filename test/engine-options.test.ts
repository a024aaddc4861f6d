/**
 * Options are checked by name before anything is planned or opened: these run without
 * privileges and without a kernel (validation fails before any channel is asked for).
 */
import { listSockets, streamSockets, rawDump, destroySocket, Engine } from '../lib';

// Every channel request would be a bug here: validation must throw first.
const engine = new Engine({
  channels: () => {
    throw new Error('a channel was opened although the options were invalid');
  },
});

const bad: Array<[string, unknown, RegExp]> = [
  ['inherited state name', { states: ['toString'] }, /states: unknown state name the string "toString"/],
  ['constructor as a state', { states: ['constructor'] }, /states: unknown state/],
  ['bogus extension', { extensions: ['bogus'] }, /extensions: unknown extension name the string "bogus"/],
  ['inherited extension', { extensions: ['hasOwnProperty'] }, /extensions: unknown extension/],
  ['a string for protocols', { protocols: 'tcp' }, /protocols must be an array of protocol names, got the string "tcp" \(write \["tcp"\]\)/],
  ['an unknown protocol', { protocols: ['tcp', 'bogus'] }, /protocols: unknown protocol name/],
  ['inherited protocol', { protocols: ['__proto__'] }, /protocols: unknown protocol name/],
  ['a string for families', { families: 'inet' }, /families must be an array/],
  ['a string for states', { states: 'established' }, /states must be an array of state names/],
  ['a string extension list', { extensions: 'info' }, /extensions must be 'all', 'none' or an array/],
  ['a number as filter', { filter: 42 }, /filter must be ss filter text, a built filter or a filter tree, got number 42/],
  ['a non-signal', { signal: { aborted: false } }, /signal must be an AbortSignal, got an object/],
  ['a boolean netns', { netns: true }, /netns must be a namespace name, a path or a pid/],
  ['a negative timeout', { timeoutMs: -1 }, /timeoutMs must be a positive number/],
  ['processes as a string', { processes: 'yes' }, /processes must be a boolean/],
];

describe('listing options are validated by name', () => {
  test.each(bad)('%s', async (_what, opts, message) => {
    const o = { ...(opts as object), engine };
    await expect(listSockets(o as never)).rejects.toThrow(TypeError);
    await expect(listSockets(o as never)).rejects.toThrow(message);
    expect(() => streamSockets(o as never)).toThrow(message);
    const raw = rawDump(o as never)[Symbol.asyncIterator]();
    await expect(raw.next()).rejects.toThrow(message);
  });

  test('null and non-objects are TypeErrors, not crashes', async () => {
    await expect(listSockets(null as never)).rejects.toThrow(/options must be an object, got null/);
    await expect(listSockets('tcp' as never)).rejects.toThrow(/options must be an object, got the string "tcp"/);
    expect(() => streamSockets([] as never)).toThrow(/options must be an object, got an array/);
  });

  test('messages stay short whatever the caller passed', async () => {
    const huge = 'x'.repeat(1 << 20);
    const err = await listSockets({ protocols: [huge], engine } as never).catch((e: Error) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message.length).toBeLessThan(400);
    expect((err as Error).message).toContain('1048576 characters');
  });

  test('a numeric cookie is a TypeError naming socket.cookie, before anything is opened', async () => {
    const s = { family: 'inet', protocol: 'tcp', cookie: 5, local: { address: '127.0.0.1', port: 1 }, remote: { address: '127.0.0.1', port: 2 }, interface: 0 };
    await expect(destroySocket(s as never, { engine })).rejects.toThrow(/socket.cookie must be a bigint \(as listings give it\), got number 5/);
    await expect(destroySocket({ ...s, cookie: undefined } as never, { engine })).rejects.toThrow(/socket has no cookie/);
  });

  test('an engine option that is not an Engine is a TypeError', async () => {
    await expect(listSockets({ engine: {} } as never)).rejects.toThrow(/engine must be an Engine/);
  });
});
