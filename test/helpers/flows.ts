/**
 * TCP flows at fixed rates over loopback inside a test namespace, from flows.py: a sender
 * process (comm "flowsrc") writes each flow's rate from its own address 127.0.0.(10+i) to a
 * receiver process (comm "flowsink") on 127.0.0.1.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as path from 'node:path';
import { pythonBinary, type Netns } from './netns';

/** Loopback flows at fixed rates in a namespace (test/helpers/flows.py). */
export interface Flows {
  sender: number;
  receiver: number;
  port: number;
  flows: Array<{ rate: number; clientAddress: string; clientPort: number }>;
  stop(): Promise<void>;
}

/** Starts flows.py in the namespace and waits for its JSON line. */
export function startFlows(ns: Netns, rates: number[]): Promise<Flows> {
  const child: ChildProcessWithoutNullStreams = spawn('ip', ['netns', 'exec', ns.name, pythonBinary(), path.join(__dirname, 'flows.py'), JSON.stringify({ rates })]);
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('close', (code) => reject(new Error(`flows.py exited (${code}) before its JSON line: ${err}`)));
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      const info = JSON.parse(out.slice(0, nl)) as Omit<Flows, 'stop'>;
      resolve({
        ...info,
        stop: async () => {
          child.stdin.end();
          const t = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(t);
        },
      });
    });
  });
}

