/**
 * The column layout of `ss`: widths from the rows printed (and the header), addresses
 * right-aligned with their ':' and ports left-aligned, one space between columns except
 * before the process column, which follows the peer port directly.
 * @module
 */

/** One printed row, split into ss's columns. */
export interface Row {
  netid: string;
  state: string;
  recvQ: string;
  sendQ: string;
  localAddr: string;
  localPort: string;
  peerAddr: string;
  peerPort: string;
  /** Everything after the peer: process, timers, -e fields… */
  process: string;
}

const HEADER: Row = {
  netid: 'Netid',
  state: 'State',
  recvQ: 'Recv-Q',
  sendQ: 'Send-Q',
  localAddr: 'Local Address:',
  localPort: 'Port',
  peerAddr: 'Peer Address:',
  peerPort: 'Port',
  process: 'Process',
};

const pad = (s: string, w: number): string => s + ' '.repeat(Math.max(0, w - s.length));
const padLeft = (s: string, w: number): string => ' '.repeat(Math.max(0, w - s.length)) + s;

/**
 * Lays out rows as ss does; `showNetid` adds the first column, `showState` the state column
 * (ss leaves it out when a single state is selected), `header` the title line.
 */
export function layout(rows: readonly Row[], opts: { showNetid: boolean; showState: boolean; header: boolean }): string[] {
  const all = opts.header ? [HEADER, ...rows] : [...rows];
  const w = (k: keyof Row): number => all.reduce((m, r) => Math.max(m, r[k].length), 0);
  const W = { netid: w('netid'), state: w('state'), recvQ: w('recvQ'), sendQ: w('sendQ'), localAddr: w('localAddr'), localPort: w('localPort'), peerAddr: w('peerAddr'), peerPort: w('peerPort'), process: w('process') };
  return all.map((r) => {
    let line = '';
    if (opts.showNetid) line += pad(r.netid, W.netid) + ' ';
    if (opts.showState) line += pad(r.state, W.state) + ' ';
    line += pad(r.recvQ, W.recvQ) + ' ';
    line += pad(r.sendQ, W.sendQ) + ' ';
    line += padLeft(r.localAddr, W.localAddr) + pad(r.localPort, W.localPort) + ' ';
    line += padLeft(r.peerAddr, W.peerAddr) + pad(r.peerPort, W.peerPort);
    line += pad(r.process, W.process);
    return line;
  });
}
