/**
 * Port → service names from /etc/services, per protocol, as `ss` shows them without `-n`.
 * @module
 */
import { readFileSync } from 'node:fs';

let table: Map<string, string> | undefined;

function load(): Map<string, string> {
  const m = new Map<string, string>();
  let text = '';
  try {
    text = readFileSync('/etc/services', 'latin1');
  } catch {
    return m;
  }
  for (const line of text.split('\n')) {
    const body = line.replace(/#.*/, '').trim();
    if (!body) continue;
    const [name, portProto] = body.split(/\s+/);
    if (!portProto) continue;
    const key = portProto.toLowerCase();
    // The first name listed for a port wins, as getservbyport returns it.
    if (!m.has(key)) m.set(key, name);
  }
  return m;
}

/** The service name of `port` for `proto` ('tcp' or 'udp'), or undefined. */
export function serviceName(port: number, proto: string): string | undefined {
  table ??= load();
  return table.get(`${port}/${proto}`);
}
