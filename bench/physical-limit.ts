// The physical limit of a monolithic push on this machine, measured in the same run as the pushes: no
// registry can take a blob faster than it can hash it (sha256, which it must verify before its 201) or write it
// to the disk with fsync (which it must do before its 201). Both are measured with tools in their own process:
// `openssl dgst -sha256` on the blob file (in the page cache: it was just written) and `dd … conv=fsync` of the
// same bytes into the directory that holds the registries' roots (same disk). limit = min(hash, write).
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { exec } from '../test/harness/exec.ts';
import type { BlobFile } from './blob-file.ts';

export interface PhysicalLimit {
  /** sha256 of the blob's bytes on one core, MB/s. */
  hashMBps: number;
  /** The same bytes written to a new file on the registries' disk and fsynced, MB/s. */
  writeMBps: number;
  /** min(hashMBps, writeMBps). */
  limitMBps: number;
}

async function timed(file: string, args: string[]): Promise<number> {
  const t0 = performance.now();
  await exec(file, args, { timeoutMs: 600_000 });
  return (performance.now() - t0) / 1000;
}

/** Measures both bounds for `blob`; `dir` is on the registries' disk (the bench's temp dir). */
export async function measurePhysicalLimit(blob: BlobFile, dir: string): Promise<PhysicalLimit> {
  const mb = blob.size / 1e6;
  const hashMBps = mb / (await timed('openssl', ['dgst', '-sha256', blob.file]));
  const out = path.join(dir, 'physical-limit.bin');
  try {
    const writeMBps = mb / (await timed('dd', [`if=${blob.file}`, `of=${out}`, 'bs=4M', 'conv=fsync']));
    return { hashMBps, writeMBps, limitMBps: Math.min(hashMBps, writeMBps) };
  } finally {
    await rm(out, { force: true });
  }
}
