// `node bench/s3.ts [--quick] [--rounds N]`: Berth against CNCF Distribution 2.8 (Debian's docker-registry)
// and v3.1 (.cache/bin/distribution-v3, built by bench/install.sh) on one MinIO, side by side in one run, each
// registry on its own bucket: monolithic push and pull of a 512 MiB blob (pull twice: with the default 307 to a
// presigned MinIO URL, which curl follows, and with `storage.redirect.disable: true`, where the registry proxies
// the bytes), and garbage collection of a ~5k-blob corpus (each collector on its own server-side copy of the
// corpus bucket). Rounds rotate which registry goes first. Reported: medians, Berth/2.8 and Berth/v3.1 ratios
// (GC: reference time / Berth time), judged against the targets of issue 6 (set against 2.8; the v3.1 ratios
// are informative); written to bench/results/s3-latest.{md,json} (--quick: s3-quick).
import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { exec } from '../test/harness/exec.ts';
import { startMinio, type Minio } from '../test/harness/minio.ts';
import type { RegistryKind } from '../test/harness/registry.ts';
import { makeTempDir, removeTempDir } from '../test/harness/tmp.ts';
import { registryNodeFlags, repoRoot, requireTool, tools } from '../test/harness/tools.ts';
import { writeBlobFile, type BlobFile } from './blob-file.ts';
import { pullBlob, verifyPull } from './blob-pull.ts';
import { detectMonolithicMode, pushMonolithic, type MonolithicMode } from './blob-push.ts';
import { measureCpu } from './proc.ts';
import {
  berthPodHeapFlag,
  kindLabels,
  kinds,
  references,
  rotate,
  sharedConfig,
  type BenchRegistry,
  type Reference,
} from './registries.ts';
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

/** Berth against one reference. */
export interface S3Comparison {
  /** Berth/reference for throughput, reference/Berth (speed-up) for GC times: higher is better. */
  ratio: number;
  roundRatios: number[];
}

export interface S3Row {
  metric: S3Metric;
  label: string;
  unit: string;
  /** Median per registry. */
  values: Record<RegistryKind, number>;
  vs: Record<Reference, S3Comparison>;
  /** Issue 6's target, set against Distribution 2.8: judged on `vs.distribution` only. */
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
const orderFor = (n: number): RegistryKind[] => rotate(kinds, n);
/** "2.8" of "Distribution 2.8". */
const shortName = (r: Reference): string => kindLabels[r].replace('Distribution ', '');

export function summarizeS3(samples: Samples): S3Row[] {
  const rows: S3Row[] = [];
  for (const [metric, def] of Object.entries(s3Metrics) as [S3Metric, (typeof s3Metrics)[S3Metric]][]) {
    const per = samples[metric];
    if (!per || kinds.some((kind) => per[kind].length === 0)) continue;
    const values = Object.fromEntries(
      kinds.map((kind) => [kind, median(per[kind].map((s) => s.value))]),
    ) as Record<RegistryKind, number>;
    const better = (bv: number, rv: number): number => (def.higherIsBetter ? bv / rv : rv / bv);
    const compare = (reference: Reference): S3Comparison => {
      const roundRatios: number[] = [];
      for (const bs of per.berth) {
        const rs = per[reference].find((s) => s.round === bs.round);
        if (rs) roundRatios.push(better(bs.value, rs.value));
      }
      return { ratio: better(values.berth, values[reference]), roundRatios };
    };
    const vs = Object.fromEntries(references.map((r) => [r, compare(r)])) as Record<Reference, S3Comparison>;
    rows.push({
      metric,
      label: def.label,
      unit: def.unit,
      values,
      vs,
      target: def.target,
      met: vs.distribution.ratio >= def.target,
    });
  }
  return rows;
}

const fmt = (v: number, digits: number): string =>
  v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** The table's head: metric, one column per registry, one ratio per reference, target, met?. */
export const s3TableHead = [
  'metric',
  ...kinds.map((k) => kindLabels[k]),
  ...references.map((r) => `Berth/${shortName(r)}`),
  `target (${shortName('distribution')})`,
  'met?',
];

export function s3Markdown(rows: S3Row[], header: string[], notes: string[]): string {
  const lines = [...header, ''];
  lines.push(`| ${s3TableHead.join(' | ')} |`, `| ${s3TableHead.map(() => '---').join(' | ')} |`);
  for (const r of rows) {
    const digits = r.unit === 's' ? 2 : 0;
    const ratioCell = (c: S3Comparison): string => {
      const range =
        c.roundRatios.length > 1
          ? ` (rounds ${fmt(Math.min(...c.roundRatios), 2)}–${fmt(Math.max(...c.roundRatios), 2)})`
          : '';
      return `${fmt(c.ratio, 2)}×${range}`;
    };
    const cells = [
      `${r.label} (${r.unit})`,
      ...kinds.map((k) => fmt(r.values[k], digits)),
      ...references.map((ref) => ratioCell(r.vs[ref])),
      `≥ ${r.target}×`,
      r.met ? 'yes' : '**no**',
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  lines.push(
    '',
    'Ratios: Berth/reference for throughput, reference time / Berth time (speed-up) for GC; higher is better for Berth. ' +
      'Targets (issue 6) are set against Distribution 2.8; the v3.1 ratios are informative.',
  );
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
  state.samples[metric] ??= { distribution: [], 'distribution-v3': [], berth: [] };
  state.samples[metric][kind].push(sample);
}

/** Starts every registry (in `order`) on its bucket; stops what started if one fails. */
async function startAll(
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
  for (const kind of kinds) if (!regs[kind]) throw new Error(`${kind} did not start`);
  return regs as Record<RegistryKind, BenchRegistry<RegistryKind>>;
}

async function stopAll(regs: Record<RegistryKind, BenchRegistry<RegistryKind>>): Promise<void> {
  await Promise.allSettled(kinds.map((kind) => regs[kind].stop()));
}

/** A bucket per registry, named `<what>-<kind>-<tag>`. */
async function bucketsFor(state: RunState, what: string, tag: string): Promise<Record<RegistryKind, string>> {
  const bucketOf: Partial<Record<RegistryKind, string>> = {};
  for (const kind of kinds) bucketOf[kind] = await state.buckets.create(`${what}-${kind}-${tag}`);
  return bucketOf as Record<RegistryKind, string>;
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
  const bucketOf = await bucketsFor(state, 'push', tag);
  try {
    // Redirects disabled first: the push's check (HEAD after the push, bench/blob-push.ts) wants a 200.
    let regs = await startAll(state, orderFor(round), bucketOf, true);
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
    regs = await startAll(state, orderFor(round + 1), bucketOf, false);
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
    for (const kind of kinds) await state.buckets.remove(bucketOf[kind]);
  }
}

/** Blob data objects left in a bucket: the collectors must keep the same set (known differences aside). */
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
  const bucketOf = Object.fromEntries(kinds.map((kind) => [kind, `gc-${kind}-${tag}`])) as Record<
    RegistryKind,
    string
  >;
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
    for (const reference of references) {
      if (left('berth') === left(reference)) continue;
      const why =
        deleteUntagged && reference === 'distribution'
          ? ' (expected: Distribution 2.8 -m also deletes the untagged children of tagged indexes and their blobs; Berth keeps them)'
          : ' (unexpected)';
      state.gcChecks.push(
        `${metric} round ${round + 1}: blobs left differ: Berth ${String(left('berth'))}, ${kindLabels[reference]} ${String(left(reference))}${why}`,
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
  await ensureBenchTools(['curl', 'distribution-v3']);
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
    'Distribution 2.8 (docker-registry)': await versionOf(tools.distribution, ['--version']),
    'Distribution v3.1 (.cache/bin/distribution-v3)': await versionOf(tools['distribution-v3'], [
      '--version',
    ]),
    MinIO: readFileSync(path.join(repoRoot, '.cache/bin/minio.version'), 'utf8').trim(),
  };
  const c = state.corpus;
  const header = [
    `# Berth vs CNCF ${references.map((r) => kindLabels[r]).join(' and ')} on S3 (MinIO)`,
    '',
    `Run ${new Date().toISOString()} with \`${command}\` on ${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Linux ${os.release()}.`,
    '',
    `Versions: ${Object.entries(versions)
      .map(([k, v]) => `${k} ${v}`)
      .join('; ')}.`,
    '',
    `- One MinIO (single drive, plain HTTP on loopback, data on the same disk); each registry on its own bucket, \`rootdirectory: ${rootDirectory}\`, same overlay for all: \`${JSON.stringify(sharedConfig)}\` plus the \`storage.s3\` section; Distribution v3.1 runs with OTEL_TRACES_EXPORTER=none (its default exports traces to localhost:4318).`,
    `- Blob: ${opts.blobSize / mib} MiB of random bytes streamed from a file over node:http keep-alive. Monolithic push: Berth ${state.modes.berth === 'post' ? 'POST ?digest= with the body' : 'POST, then PUT ?digest='}, Distribution 2.8 ${state.modes.distribution === 'post' ? 'POST ?digest= with the body' : 'POST, then PUT ?digest= with the body (2.8 ignores a POST body)'}, v3.1 ${state.modes['distribution-v3'] === 'post' ? 'POST ?digest= with the body' : 'POST, then PUT ?digest= with the body'}; a fresh bucket per round.`,
    "- Pull, redirect on (every registry's default on S3): the registry answers 307 with a presigned MinIO URL, curl follows it; the bytes come from MinIO, so this mostly measures MinIO plus the time to the 307. Pull, redirect disabled (`storage.redirect.disable: true`, registries restarted): the registry streams the bytes from MinIO. Both timed with curl (time_total), body discarded; content verified against the digest in a separate untimed pull.",
    `- GC: ${c ? `${c.manifests} manifests, ${c.blobs} blobs, ${c.objects} objects in ${c.repos} repositories` : 'corpus'}, written straight into a bucket in Distribution's layout with the S3 SDK; each collector runs as its own process (Berth as the image runs it: \`node ${registryNodeFlags.join(' ')} registry/cli.ts garbage-collect -q [-m] CONFIG\`; \`docker-registry garbage-collect [-m] CONFIG\`; \`distribution-v3 garbage-collect [-m] CONFIG\`) on its own server-side copy; wall time and peak RSS from GNU time.`,
    `- The Berth server runs with \`${berthPodHeapFlag}\`: the heap limit Node sets under its pod's default memory limit (bench/README.md, "The pod's heap limit"); this host has none.`,
    `- ${opts.rounds} transfer round${opts.rounds > 1 ? 's' : ''}, ${opts.gcRounds} GC round${opts.gcRounds > 1 ? 's' : ''} per mode; which registry goes first rotates per round and per step. Cells: medians; ratio: of the medians (range of the per-round ratios). MB = 10⁶ bytes.`,
  ];
  const gcRss = (metric: S3Metric, kind: RegistryKind): number =>
    Math.max(...(state.samples[metric]?.[kind] ?? []).map((s) => Number(s.detail?.['peakRssMiB'])));
  const notes = [
    ...(failure === undefined
      ? []
      : [
          `**Incomplete run**: stopped by an error, rows hold the rounds measured before it: ${(failure instanceof Error ? failure.message : String(failure)).split('\n')[0] ?? ''}`,
        ]),
    `GC peak RSS (worst round): ${(['gc', 'gc-m'] as const)
      .map(
        (metric) =>
          `${metric === 'gc' ? 'plain' : '-m'} ${kinds.map((kind) => `${kindLabels[kind]} ${gcRss(metric, kind)} MiB`).join(', ')}`,
      )
      .join('; ')}.`,
    ...(state.gcChecks.length > 0
      ? state.gcChecks
      : ['All collectors left the same number of blobs in every GC round.']),
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
