/**
 * The pieces of the BPF owner walk that need no privileges: the BTF reader, the records'
 * decoding and the addon's argument checks. The walk itself is compared with the /proc walk
 * and with ss in api-processes.test.ts.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Btf, BtfError, BTF_KIND } from '../lib/proc/btf';
import { buildOwnerProgram, ownersFromRecords } from '../lib/proc/bpf-owners';
import { nativeBinding } from '../lib/netlink/binding';

const HAS_BTF = existsSync('/sys/kernel/btf/vmlinux');

describe('BTF reader', () => {
  test('data that is not BTF is a BtfError, never a crash', () => {
    expect(() => new Btf(Buffer.alloc(10))).toThrow(BtfError);
    expect(() => new Btf(Buffer.from('this is not btf data at all, just text'))).toThrow(BtfError);
    // Right magic, sections past the end.
    const h = Buffer.alloc(24);
    h.writeUInt16LE(0xeb9f, 0);
    h.writeUInt32LE(24, 4);
    h.writeUInt32LE(1000, 12);
    expect(() => new Btf(h)).toThrow(/past the end/);
  });

  (HAS_BTF ? test : test.skip)('the running kernel: struct members with their sizes, the iterator function, and clear misses', () => {
    const btf = Btf.vmlinux();
    expect(btf.member('task_struct', 'pid')).toMatchObject({ size: 4 });
    expect(btf.member('task_struct', 'comm')).toMatchObject({ size: 16, kind: BTF_KIND.ARRAY });
    expect(btf.member('inode', 'i_ino')).toMatchObject({ size: 8 });
    expect(btf.member('file', 'f_inode')).toMatchObject({ size: 8, kind: BTF_KIND.PTR });
    expect(btf.member('task_struct', 'pid').offset).not.toBe(btf.member('task_struct', 'tgid').offset);
    expect(btf.typeId(BTF_KIND.FUNC, 'bpf_iter_task_file')).toBeGreaterThan(0);
    expect(() => btf.member('task_struct', 'no_such_member')).toThrow(BtfError);
    expect(() => btf.typeId(BTF_KIND.STRUCT, 'no_such_struct_anywhere')).toThrow(/no struct no_such_struct_anywhere/);
    const prog = buildOwnerProgram(btf);
    expect(prog.insns.length % 8).toBe(0);
    // The program exits through "r0 = 0; exit".
    expect(prog.insns.readUInt8(prog.insns.length - 8)).toBe(0x95);
  });
});

describe('records to owners', () => {
  const record = (inode: number, fd: number, pid: number, comm: string): Buffer => {
    const b = Buffer.alloc(32);
    b.writeBigUInt64LE(BigInt(inode), 0);
    b.writeUInt32LE(fd, 8);
    b.writeUInt32LE(pid, 12);
    b.write(comm, 16, 'utf8');
    return b;
  };

  test('one task per pid, names up to the NUL (a full 16-byte name too), inodes above 2^32', () => {
    const scan = ownersFromRecords(Buffer.concat([
      record(5, 3, 100, 'nginx'),
      record(2 ** 40 + 7, 4, 100, 'nginx'),
      record(9, 0, 200, 'abcdefghijklmnop'),
      Buffer.alloc(5), // a torn tail is ignored
    ]));
    expect(Array.from(scan.inodes)).toEqual([5, 2 ** 40 + 7, 9]);
    expect(Array.from(scan.fds)).toEqual([3, 4, 0]);
    expect(Array.from(scan.pids)).toEqual([100, 100, 200]);
    expect(Array.from(scan.tasks)).toEqual([0, 0, 1]);
    expect(scan.commands).toEqual(['nginx', 'abcdefghijklmnop']);
    expect(ownersFromRecords(Buffer.alloc(0)).inodes).toHaveLength(0);
  });
});

describe('the addon verb', () => {
  test('wrong argument types are TypeErrors, a torn program a RangeError', () => {
    const b = nativeBinding() as unknown as { runBpfIterator: (...a: unknown[]) => Promise<Buffer> };
    // By name: the addon's errors come from the main realm, not jest's.
    const errorName = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (e) {
        return (e as Error).name;
      }
      return undefined;
    };
    expect(errorName(() => b.runBpfIterator('insns', 1))).toBe('TypeError');
    expect(errorName(() => b.runBpfIterator(Buffer.alloc(8)))).toBe('TypeError');
    expect(errorName(() => b.runBpfIterator(Buffer.alloc(7), 1))).toBe('RangeError');
    expect(errorName(() => b.runBpfIterator(Buffer.alloc(8), 0))).toBe('RangeError');
    expect(errorName(() => b.runBpfIterator(Buffer.alloc(8), 1.5))).toBe('RangeError');
  });
});

describe("when method 'auto' uses the iterator", () => {
  const fresh = (): typeof import('../lib/proc/bpf-owners') => {
    let m: typeof import('../lib/proc/bpf-owners') | undefined;
    jest.isolateModules(() => {
      m = require('../lib/proc/bpf-owners') as typeof import('../lib/proc/bpf-owners');
    });
    return m!;
  };
  const fileNr = (allocated: number): string => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'sockdiag-filenr-')), 'file-nr');
    writeFileSync(file, `${allocated}\t0\t9223372036854775807\n`);
    return file;
  };

  test("a process's first scan walks /proc on a host with few open files, and uses BPF from the second on", () => {
    const m = fresh();
    expect(m.preferBpf(fileNr(1500))).toBe(false);
    expect(m.preferBpf(fileNr(1500))).toBe(true);
  });

  test('the first scan already uses BPF when the system has many open files', () => {
    expect(fresh().preferBpf(fileNr(250_000))).toBe(true);
  });

  test('an unreadable file-nr counts as few files', () => {
    expect(fresh().preferBpf('/nonexistent/file-nr')).toBe(false);
  });
});
