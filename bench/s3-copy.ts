// `node bench/s3-copy.ts [--rounds 5] [--pulls 3] [--size-mib 512]`: the S3 driver's proxied blob pull
// (`storage.redirect.disable: true`, S3Driver.copyTo) with its two HTTP clients side by side in one run:
// registry/storage/s3-copy.ts's own ('raw') and undici (registry/storage/s3-copy-undici.ts), selected per
// Berth process with BERTH_S3_COPY_CLIENT. One MinIO, one bucket, one blob pushed once; two Berth servers on
// that bucket, one per client. Each round pulls the blob `--pulls` times from each (curl, body discarded,
// which server goes first alternates per round) and records MB/s and the server's CPU (user + system) per GB.
// Reported: medians over every pull, undici/raw ratios of the medians and the range of the per-round ratios
// (of each round's median); written to bench/results/s3-copy-latest.{md,json} (--name to change).
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startMinio } from '../test/harness/minio.ts';
import { makeTempDir, removeTempDir } from '../test/harness/tmp.ts';
import { repoRoot } from '../test/harness/tools.ts';
import { writeBlobFile } from './blob-file.ts';
import { pullBlob, verifyPull } from './blob-pull.ts';
import { detectMonolithicMode, pushMonolithic } from './blob-push.ts';
import { measureCpu } from './proc.ts';
import type { BenchRegistry } from './registries.ts';
import { median, writeResults } from './report.ts';
import { Buckets, startS3Registry } from './s3-store.ts';
import { settleMs } from './steps.ts';
import { ensureBenchTools } from './tools.ts';

const clients = ['raw', 'undici'] as const;
type CopyClient = (typeof clients)[number];
const mib = 1024 * 1024;
const repo = 'bench/s3-copy';

interface Pull {
  round: number;
  client: CopyClient;
  mbps: number;
  cpuSecondsPerGB: number;
}

function log(message: string): void {
  process.stderr.write(`[bench s3-copy] ${message}\n`);
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string', default: '5' },
      pulls: { type: 'string', default: '3' },
      'size-mib': { type: 'string', default: '512' },
      results: { type: 'string' },
      name: { type: 'string', default: 's3-copy-latest' },
    },
  });
  const rounds = Number(values.rounds);
  const pulls = Number(values.pulls);
  const size = Number(values['size-mib']) * mib;
  for (const [name, n] of Object.entries({ rounds, pulls, size })) {
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name}: expected a positive integer`);
  }
  await ensureBenchTools(['curl']);
  const loadBefore = os.loadavg();
  const minio = await startMinio();
  const buckets = new Buckets(minio);
  const dir = await makeTempDir('bench-s3-copy');
  const samples: Pull[] = [];
  const regs: Partial<Record<CopyClient, BenchRegistry>> = {};
  try {
    const bucket = await buckets.create(`copy-${process.pid}`);
    const blob = await writeBlobFile(dir, 'blob.bin', size);
    for (const client of clients) {
      regs[client] = await startS3Registry('berth', minio, bucket, true, { BERTH_S3_COPY_CLIENT: client });
    }
    const raw = regs.raw as BenchRegistry;
    await pushMonolithic(raw.client, repo, blob, await detectMonolithicMode(raw.client, 'bench/probe'));
    for (const client of clients) await verifyPull((regs[client] as BenchRegistry).client, repo, blob);
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? [...clients] : [...clients].reverse();
      for (const client of order) {
        const reg = regs[client] as BenchRegistry;
        for (let i = 0; i < pulls; i++) {
          await sleep(settleMs);
          const { result, cpu } = await measureCpu(reg.pid, () => pullBlob(reg.client, repo, blob, 'curl'));
          const mbps = result.bytes / 1e6 / result.seconds;
          const cpuSecondsPerGB = (cpu.user + cpu.system) / (result.bytes / 1e9);
          samples.push({ round, client, mbps, cpuSecondsPerGB });
          log(
            `round ${round + 1} ${client}: ${mbps.toFixed(0)} MB/s, server CPU ${cpuSecondsPerGB.toFixed(2)} s/GB`,
          );
        }
      }
    }
  } finally {
    await Promise.allSettled(Object.values(regs).map((r) => r.stop()));
    await buckets.removeAll();
    await minio.stop();
    await removeTempDir(dir);
  }

  const of = (client: CopyClient, key: 'mbps' | 'cpuSecondsPerGB', round?: number): number =>
    median(
      samples
        .filter((s) => s.client === client && (round === undefined || s.round === round))
        .map((s) => s[key]),
    );
  const fmt = (v: number, d: number): string => v.toFixed(d);
  const row = (label: string, key: 'mbps' | 'cpuSecondsPerGB', digits: number): string => {
    const spread = (client: CopyClient): string => {
      const v = samples.filter((s) => s.client === client).map((s) => s[key]);
      return `${fmt(of(client, key), digits)} (${fmt(Math.min(...v), digits)}–${fmt(Math.max(...v), digits)})`;
    };
    const perRound = Array.from({ length: rounds }, (_, r) => of('undici', key, r) / of('raw', key, r));
    return (
      `| ${label} | ${spread('raw')} | ${spread('undici')} | ${fmt(of('undici', key) / of('raw', key), 2)}× ` +
      `(rounds ${fmt(Math.min(...perRound), 2)}–${fmt(Math.max(...perRound), 2)}) |`
    );
  };
  const loadAfter = os.loadavg();
  const command = `node bench/s3-copy.ts${argv.length > 0 ? ` ${argv.join(' ')}` : ''}`;
  const md = [
    '# S3 proxied pull: copyTo through s3-copy.ts (raw) vs undici',
    '',
    `Run ${new Date().toISOString()} with \`${command}\` on ${os.cpus().length} CPUs; Node ${process.version}; ` +
      `load average (1 min) before/after ${loadBefore[0]?.toFixed(2)} / ${loadAfter[0]?.toFixed(2)}.`,
    '',
    `- One MinIO, one bucket, a ${size / mib} MiB blob pushed once; two Berth servers (redirect disabled) on the bucket, BERTH_S3_COPY_CLIENT=raw and =undici.`,
    `- ${rounds} rounds × ${pulls} pulls per server (curl, body discarded; which server goes first alternates per round). Cells: median (min–max) over all pulls; ratio undici/raw of the medians (range of the per-round ratios of the round medians).`,
    '',
    '| metric | raw (s3-copy.ts) | undici | undici/raw |',
    '| --- | --- | --- | --- |',
    row('pull (MB/s), higher is better', 'mbps', 0),
    row('server CPU (s/GB), lower is better', 'cpuSecondsPerGB', 2),
    '',
  ].join('\n');
  const files = await writeResults(values.results ?? path.join(repoRoot, 'bench/results'), values.name, md, {
    date: new Date().toISOString(),
    command,
    options: { rounds, pulls, sizeMiB: size / mib },
    samples,
  });
  process.stdout.write(`\n${md}\n`);
  log(`wrote ${files.markdownFile} and ${files.jsonFile}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(
        `bench s3-copy: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
