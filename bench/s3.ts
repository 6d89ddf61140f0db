// `node bench/s3.ts [--quick] [--rounds N]`: Berth against CNCF Distribution 2.8 (Debian's docker-registry)
// on one MinIO, side by side in one run, each registry on its own bucket: monolithic push and pull of a
// 512 MiB blob (pull twice: with the default 307 to a presigned MinIO URL, which curl follows, and with
// `storage.redirect.disable: true`, where the registry proxies the bytes), and garbage collection of a ~5k-blob
// corpus (each collector on its own server-side copy of the corpus bucket). Rounds alternate which registry
// goes first. Reported: medians, Berth/Distribution ratios (GC: Distribution time / Berth time) against the
// targets of issue 6; written to bench/results/s3-latest.{md,json} (--quick: s3-quick).
import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { exec } from '../test/harness/exec.ts';
import { startMinio, type Minio } from '../test/harness/minio.ts';
import type { RegistryKind as AnyRegistryKind } from '../test/harness/registry.ts';
import { makeTempDir, removeTempDir } from '../test/harness/tmp.ts';
import { repoRoot, requireTool, tools } from '../test/harness/tools.ts';
import { writeBlobFile, type BlobFile } from './blob-file.ts';
import { pullBlob, verifyPull } from './blob-pull.ts';
import { detectMonolithicMode, pushMonolithic, type MonolithicMode } from './blob-push.ts';
import { measureCpu } from './proc.ts';
import { sharedConfig, type BenchRegistry } from './registries.ts';

/** The S3 bench compares Berth with Distribution 2.8 only (v3.1 is not wired into it: bench/README.md). */
const kinds = ['distribution', 'berth'] as const satisfies readonly AnyRegistryKind[];
type RegistryKind = (typeof kinds)[number];
import { median, writeResults } from './report.ts';
import { writeS3Corpus } from './s3-corpus.ts';
import { pullRedirected, runS3Gc, verifyRedirectedPull, type GcRun } from './s3-measure.ts';
import { Buckets, rootDirectory, startS3Registry } from './s3-store.ts';
import { settleMs } from './steps.ts';
import { ensureBenchTools } from './tools.ts';

const mib = 1024 * 1024;
const repo = 'bench/s3';

export const s3Metrics = {
  push: { label: 'monolithic push', unit: 'MB/s', higherIsBetter: true, target: 1.5 },
  'pull-redirect': {
    label: 'pull, redirect on (307 → presigned MinIO URL, followed)',
    unit: 'MB/s',
    higherIsBetter: true,
    target: 1,
  },
  'pull-proxy': {
    label: 'pull, redirect disabled (registry proxies the bytes)',
    unit: 'MB/s',
    higherIsBetter: true,
    target: 1,
  },
  gc: { label: 'GC', unit: 's', higherIsBetter: false, target: 3 },
  'gc-m': { label: 'GC --delete-untagged', unit: 's', higherIsBetter: false, target: 3 },
} as const;
export type S3Metric = keyof typeof s3Metrics;

interface Sample {
  round: number;
  position: number;
  value: number;
  detail?: Record<string, unknown>;
}

type Samples = Partial<Record<S3Metric, Record<RegistryKind, Sample[]>>>;

export interface S3Row {
  metric: S3Metric;
  label: string;
  unit: string;
  distribution: number;
  berth: number;
  /** Berth/Distribution for throughput, Distribution/Berth (speed-up) for GC times: higher is better. */
  ratio: number;
  roundRatios: number[];
  target: number;
  met: boolean;
}

interface Options {
  quick: boolean;
  rounds: number;
  gcRounds: number;
  blobSize: number;
  gcBlobs: number;
  resultsDir: string;
  resultsName: string;
}

function parse(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      'gc-rounds': { type: 'string' },
      'size-mib': { type: 'string' },
      'gc-blobs': { type: 'string' },
      results: { type: 'string' },
      name: { type: 'string' },
    },
  });
  const int = (name: string, value: string | undefined, fallback: number): number => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`--${name}: expected a positive integer`);
    return n;
  };
  const quick = values.quick;
  const rounds = int('rounds', values.rounds, quick ? 1 : 3);
  return {
    quick,
    rounds,
    gcRounds: int('gc-rounds', values['gc-rounds'], rounds),
    blobSize: int('size-mib', values['size-mib'], quick ? 16 : 512) * mib,
    gcBlobs: int('gc-blobs', values['gc-blobs'], quick ? 300 : 5000),
    resultsDir: values.results ?? path.join(repoRoot, 'bench/results'),
    resultsName: values.name ?? (quick ? 's3-quick' : 's3-latest'),
  };
}

function log(message: string): void {
  process.stderr.write(`[bench s3] ${message}\n`);
}

const mbps = (bytes: number, seconds: number): number => bytes / 1e6 / seconds;
const orderFor = (n: number): RegistryKind[] => (n % 2 === 0 ? [...kinds] : [...kinds].reverse());

export function summarizeS3(samples: Samples): S3Row[] {
  const rows: S3Row[] = [];
  for (const [metric, def] of Object.entries(s3Metrics) as [S3Metric, (typeof s3Metrics)[S3Metric]][]) {
    const per = samples[metric];
    if (!per || per.berth.length === 0 || per.distribution.length === 0) continue;
    const d = median(per.distribution.map((s) => s.value));
    const b = median(per.berth.map((s) => s.value));
    const better = (bv: number, dv: number): number => (def.higherIsBetter ? bv / dv : dv / bv);
    const roundRatios: number[] = [];
    for (const bs of per.berth) {
      const ds = per.distribution.find((s) => s.round === bs.round);
      if (ds) roundRatios.push(better(bs.value, ds.value));
    }
    const ratio = better(b, d);
    rows.push({
      metric,
      label: def.label,
      unit: def.unit,
      distribution: d,
      berth: b,
      ratio,
      roundRatios,
      target: def.target,
      met: ratio >= def.target,
    });
  }
  return rows;
}

const fmt = (v: number, digits: number): string =>
  v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

export function s3Markdown(rows: S3Row[], header: string[], notes: string[]): string {
  const lines = [...header, ''];
  lines.push(
    '| metric | Distribution | Berth | ratio | target | met? |',
    '| --- | --- | --- | --- | --- | --- |',
  );
  for (const r of rows) {
    const digits = r.unit === 's' ? 2 : 0;
    const kindOfRatio = r.unit === 's' ? 'speed-up Distribution/Berth' : 'Berth/Distribution';
    const range =
      r.roundRatios.length > 1
        ? ` (rounds ${fmt(Math.min(...r.roundRatios), 2)}–${fmt(Math.max(...r.roundRatios), 2)})`
        : '';
    lines.push(
      `| ${r.label} (${r.unit}) | ${fmt(r.distribution, digits)} | ${fmt(r.berth, digits)} | ` +
        `${fmt(r.ratio, 2)}× ${kindOfRatio}${range} | ≥ ${r.target}× | ${r.met ? 'yes' : '**no**'} |`,
    );
  }
  lines.push('');
  if (notes.length > 0) {
    lines.push('Notes:', '');
    for (const n of notes) lines.push(`- ${n}`);
    lines.push('');
  }
  return lines.join('\n');
}

async function versionOf(file: string, args: string[]): Promise<string> {
  const r = await exec(file, args, { check: false, timeoutMs: 10_000 });
  const text = (r.stdout + r.stderr).trim();
  return /\d+\.\d+\.\d+\S*/.exec(text)?.[0] ?? text.split('\n')[0] ?? '?';
}

interface RunState {
  opts: Options;
  minio: Minio;
  buckets: Buckets;
  dir: string;
  samples: Samples;
  modes: Partial<Record<RegistryKind, MonolithicMode>>;
  corpus?: Awaited<ReturnType<typeof writeS3Corpus>>;
  gcChecks: string[];
}

function record(state: RunState, metric: S3Metric, kind: RegistryKind, sample: Sample): void {
  state.samples[metric] ??= { distribution: [], berth: [] };
  state.samples[metric][kind].push(sample);
}

/** Starts both registries (in `order`) on their buckets; stops what started if one fails. */
async function startBoth(
  state: RunState,
  order: RegistryKind[],
  bucketOf: Record<RegistryKind, string>,
  redirectDisabled: boolean,
): Promise<Record<RegistryKind, BenchRegistry<RegistryKind>>> {
  const regs: Partial<Record<RegistryKind, BenchRegistry<RegistryKind>>> = {};
  try {
    for (const kind of order) {
      regs[kind] = await startS3Registry(kind, state.minio, bucketOf[kind], redirectDisabled);
    }
  } catch (err) {
    for (const kind of order) await regs[kind]?.stop();
    throw err;
  }
  const { berth, distribution } = regs;
  if (!berth || !distribution) throw new Error('a registry did not start');
  return { berth, distribution };
}

async function stopAll(regs: Record<RegistryKind, BenchRegistry<RegistryKind>>): Promise<void> {
  await Promise.allSettled([regs.berth.stop(), regs.distribution.stop()]);
}

/** Runs `fn` against each registry in `order`, with the registry's output attached to any error. */
async function eachInOrder(
  what: string,
  order: RegistryKind[],
  regs: Record<RegistryKind, BenchRegistry<RegistryKind>>,
  fn: (reg: BenchRegistry<RegistryKind>, position: number) => Promise<void>,
): Promise<void> {
  for (const [position, kind] of order.entries()) {
    const reg = regs[kind];
    await sleep(settleMs);
    try {
      await fn(reg, position);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      throw new Error(
        `${what} against ${kind} failed: ${msg}\n--- ${kind} output ---\n${reg.running.output().slice(-4000)}`,
        {
          cause: err,
        },
      );
    }
  }
}

async function transferRound(state: RunState, blob: BlobFile, round: number): Promise<void> {
  const tag = `${process.pid}-r${round}`;
  const bucketOf = {
    berth: await state.buckets.create(`push-berth-${tag}`),
    distribution: await state.buckets.create(`push-distribution-${tag}`),
  };
  try {
    // Redirects disabled first: the push's check (HEAD after the push, bench/blob-push.ts) wants a 200.
    let regs = await startBoth(state, orderFor(round), bucketOf, true);
    try {
      for (const kind of kinds)
        state.modes[kind] ??= await detectMonolithicMode(regs[kind].client, 'bench/probe');
      await eachInOrder('monolithic push', orderFor(round), regs, async (reg, position) => {
        const { result: r, cpu } = await measureCpu(reg.pid, () =>
          pushMonolithic(reg.client, repo, blob, state.modes[reg.kind] ?? 'put'),
        );
        const value = mbps(r.bytes, r.seconds);
        record(state, 'push', reg.kind, {
          round,
          position,
          value,
          detail: { ...r, mode: state.modes[reg.kind], cpu },
        });
        log(
          `round ${round + 1} ${reg.kind}: push ${value.toFixed(0)} MB/s (commit ${r.commitSeconds.toFixed(2)} s, server CPU ${(cpu.user + cpu.system).toFixed(2)} s)`,
        );
      });
      await eachInOrder('pull (redirect disabled)', orderFor(round + 1), regs, async (reg, position) => {
        await verifyPull(reg.client, repo, blob);
        await sleep(settleMs);
        const { result: r, cpu } = await measureCpu(reg.pid, () => pullBlob(reg.client, repo, blob, 'curl'));
        const value = mbps(r.bytes, r.seconds);
        record(state, 'pull-proxy', reg.kind, { round, position, value, detail: { ...r, cpu } });
        log(
          `round ${round + 1} ${reg.kind}: pull proxied ${value.toFixed(0)} MB/s (server CPU ${(cpu.user + cpu.system).toFixed(2)} s)`,
        );
      });
    } finally {
      await stopAll(regs);
    }
    regs = await startBoth(state, orderFor(round + 1), bucketOf, false);
    try {
      await eachInOrder('pull (redirect on)', orderFor(round), regs, async (reg, position) => {
        await verifyRedirectedPull(reg.client, repo, blob);
        await sleep(settleMs);
        const { result: r, cpu } = await measureCpu(reg.pid, () => pullRedirected(reg.client, repo, blob));
        const value = mbps(r.bytes, r.seconds);
        record(state, 'pull-redirect', reg.kind, { round, position, value, detail: { ...r, cpu } });
        log(
          `round ${round + 1} ${reg.kind}: pull via redirect ${value.toFixed(0)} MB/s (307 after ${(r.redirectSeconds * 1000).toFixed(1)} ms)`,
        );
      });
    } finally {
      await stopAll(regs);
    }
  } finally {
    await state.buckets.remove(bucketOf.berth);
    await state.buckets.remove(bucketOf.distribution);
  }
}

/** Blob data objects left in a bucket: both collectors must keep the same set. */
async function blobsLeft(state: RunState, bucket: string): Promise<number> {
  let n = 0;
  for await (const key of state.buckets.keys(bucket))
    if (key.includes('/blobs/') && key.endsWith('/data')) n++;
  return n;
}

async function gcRound(
  state: RunState,
  pristine: string,
  deleteUntagged: boolean,
  round: number,
): Promise<void> {
  const metric: S3Metric = deleteUntagged ? 'gc-m' : 'gc';
  const tag = `${process.pid}-${metric}-r${round}`;
  const bucketOf = { berth: `gc-berth-${tag}`, distribution: `gc-distribution-${tag}` };
  try {
    for (const kind of kinds) {
      const t0 = performance.now();
      const n = await state.buckets.copy(pristine, bucketOf[kind]);
      log(`copied ${n} objects to ${bucketOf[kind]} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    const runs: Partial<Record<RegistryKind, GcRun>> = {};
    for (const [position, kind] of orderFor(round + (deleteUntagged ? 1 : 0)).entries()) {
      await sleep(settleMs);
      const run = await runS3Gc(kind, state.minio, bucketOf[kind], deleteUntagged, state.dir);
      run.objectsAfter = await state.buckets.count(bucketOf[kind]);
      runs[kind] = run;
      const left = await blobsLeft(state, bucketOf[kind]);
      record(state, metric, kind, {
        round,
        position,
        value: run.seconds,
        detail: { ...run, blobsLeft: left },
      });
      log(
        `${metric} round ${round + 1} ${kind}: ${run.seconds.toFixed(2)} s, peak RSS ${run.peakRssMiB} MiB, ${left} blobs left`,
      );
    }
    const left = (kind: RegistryKind): unknown =>
      state.samples[metric]?.[kind].find((s) => s.round === round)?.detail?.['blobsLeft'];
    if (left('berth') !== left('distribution')) {
      const why = deleteUntagged
        ? ' (expected: Distribution 2.8 -m also deletes the untagged children of tagged indexes and their blobs; Berth keeps them)'
        : ' (unexpected)';
      state.gcChecks.push(
        `${metric} round ${round + 1}: blobs left differ: Berth ${String(left('berth'))}, Distribution ${String(left('distribution'))}${why}`,
      );
    }
  } finally {
    for (const kind of kinds) await state.buckets.remove(bucketOf[kind]).catch(() => undefined);
  }
}

async function main(argv: string[]): Promise<void> {
  const opts = parse(argv);
  requireTool('distribution');
  requireTool('node');
  await ensureBenchTools(['curl']);
  const started = Date.now();
  const loadBefore = os.loadavg();
  const minio = await startMinio();
  const buckets = new Buckets(minio);
  const dir = await makeTempDir('bench-s3');
  const state: RunState = { opts, minio, buckets, dir, samples: {}, modes: {}, gcChecks: [] };
  // A failure part-way still writes what was measured (marked as incomplete), then fails the run.
  let failure: unknown;
  try {
    log(`MinIO at ${minio.endpoint}; writing a ${opts.blobSize / mib} MiB blob in ${dir}`);
    const blob = await writeBlobFile(dir, 'blob.bin', opts.blobSize);
    for (let round = 0; round < opts.rounds; round++) await transferRound(state, blob, round);

    const pristine = await buckets.create(`gc-pristine-${process.pid}`);
    state.corpus = await writeS3Corpus(buckets, pristine, opts.gcBlobs);
    const c = state.corpus;
    log(
      `corpus: ${c.manifests} manifests, ${c.blobs} blobs, ${c.objects} objects in ${c.repos} repositories, written in ${c.seconds.toFixed(1)} s`,
    );
    for (const deleteUntagged of [false, true]) {
      for (let round = 0; round < opts.gcRounds; round++)
        await gcRound(state, pristine, deleteUntagged, round);
    }
  } catch (err) {
    failure = err;
  } finally {
    await buckets.removeAll();
    await minio.stop();
    await removeTempDir(dir);
  }

  const rows = summarizeS3(state.samples);
  const loadAfter = os.loadavg();
  const cpus = os.cpus();
  const command = `node bench/s3.ts${argv.length > 0 ? ` ${argv.join(' ')}` : ''}`;
  const versions = {
    'Berth on Node': process.version,
    'Distribution (docker-registry)': await versionOf(tools.distribution, ['--version']),
    MinIO: readFileSync(path.join(repoRoot, '.cache/bin/minio.version'), 'utf8').trim(),
  };
  const c = state.corpus;
  const header = [
    '# Berth vs CNCF Distribution 2.8 on S3 (MinIO)',
    '',
    `Run ${new Date().toISOString()} with \`${command}\` on ${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Linux ${os.release()}.`,
    '',
    `Versions: ${Object.entries(versions)
      .map(([k, v]) => `${k} ${v}`)
      .join('; ')}.`,
    '',
    `- One MinIO (single drive, plain HTTP on loopback, data on the same disk); each registry on its own bucket, \`rootdirectory: ${rootDirectory}\`, same overlay for both: \`${JSON.stringify(sharedConfig)}\` plus the \`storage.s3\` section.`,
    `- Blob: ${opts.blobSize / mib} MiB of random bytes streamed from a file over node:http keep-alive. Monolithic push: Berth ${state.modes.berth === 'post' ? 'POST ?digest= with the body' : 'POST, then PUT ?digest='}, Distribution ${state.modes.distribution === 'post' ? 'POST ?digest= with the body' : 'POST, then PUT ?digest= with the body (2.8 ignores a POST body)'}; a fresh bucket per round.`,
    "- Pull, redirect on (both registries' default on S3): the registry answers 307 with a presigned MinIO URL, curl follows it; the bytes come from MinIO, so this mostly measures MinIO plus the time to the 307. Pull, redirect disabled (`storage.redirect.disable: true`, registries restarted): the registry streams the bytes from MinIO. Both timed with curl (time_total), body discarded; content verified against the digest in a separate untimed pull.",
    `- GC: ${c ? `${c.manifests} manifests, ${c.blobs} blobs, ${c.objects} objects in ${c.repos} repositories` : 'corpus'}, written straight into a bucket in Distribution's layout with the S3 SDK; each collector runs as its own process (\`node registry/cli.ts garbage-collect -q [-m] CONFIG\`, \`docker-registry garbage-collect [-m] CONFIG\`) on its own server-side copy; wall time and peak RSS from GNU time.`,
    `- ${opts.rounds} transfer round${opts.rounds > 1 ? 's' : ''}, ${opts.gcRounds} GC round${opts.gcRounds > 1 ? 's' : ''} per mode; which registry goes first alternates per round and per step. Cells: medians; ratio: of the medians (range of the per-round ratios). MB = 10⁶ bytes.`,
  ];
  const gcRss = (metric: S3Metric, kind: RegistryKind): number =>
    Math.max(...(state.samples[metric]?.[kind] ?? []).map((s) => Number(s.detail?.['peakRssMiB'])));
  const notes = [
    ...(failure === undefined
      ? []
      : [
          `**Incomplete run**: stopped by an error, rows hold the rounds measured before it: ${(failure instanceof Error ? failure.message : String(failure)).split('\n')[0] ?? ''}`,
        ]),
    `GC peak RSS (worst round): plain Berth ${gcRss('gc', 'berth')} MiB, Distribution ${gcRss('gc', 'distribution')} MiB; -m Berth ${gcRss('gc-m', 'berth')} MiB, Distribution ${gcRss('gc-m', 'distribution')} MiB.`,
    ...(state.gcChecks.length > 0
      ? state.gcChecks
      : ['Both collectors left the same number of blobs in every GC round.']),
    `Load average (1 min) before/after: ${loadBefore[0]?.toFixed(2)} / ${loadAfter[0]?.toFixed(2)}; wall time ${((Date.now() - started) / 1000).toFixed(0)} s.`,
  ];
  const md = s3Markdown(rows, header, notes);
  const files = await writeResults(opts.resultsDir, opts.resultsName, md, {
    date: new Date().toISOString(),
    command,
    versions,
    options: { ...opts, blobSizeMiB: opts.blobSize / mib },
    monolithicMode: state.modes,
    corpus: state.corpus,
    units: Object.fromEntries(Object.entries(s3Metrics).map(([k, d]) => [k, d.unit])),
    summary: rows,
    samples: state.samples,
    notes,
  });
  process.stdout.write(`\n${md}\n`);
  log(`wrote ${files.markdownFile} and ${files.jsonFile}`);
  if (failure !== undefined) throw failure;
  const missed = rows.filter((r) => !r.met).map((r) => r.label);
  log(
    missed.length === 0 ? 'all targets met' : `targets missed (reported, not an error): ${missed.join('; ')}`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench s3: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
