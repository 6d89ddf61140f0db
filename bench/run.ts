// `npm run bench`: Berth against CNCF Distribution 2.8 and v3.1 side by side in one run. Each round starts
// the three registries on fresh roots and runs every selected measurement on each, rotating which goes
// first, so drift on the shared machine hits all alike. Missed targets are reported; errors fail the run.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fillImageCompileCache } from '../test/harness/compile-cache.ts';
import { exec } from '../test/harness/exec.ts';
import type { RegistryKind } from '../test/harness/registry.ts';
import { makeTempDir, removeTempDir } from '../test/harness/tmp.ts';
import { requireTool, tools } from '../test/harness/tools.ts';
import { writeBlobFile, type BlobFile } from './blob-file.ts';
import { detectMonolithicMode, type MonolithicMode } from './blob-push.ts';
import { parseOptions, usage, type BenchOptions, type MetricName } from './options.ts';
import {
  berthPodHeapFlag,
  kindLabels,
  kinds,
  rotate,
  sharedConfig,
  startRegistry,
  type BenchRegistry,
} from './registries.ts';
import {
  markdown,
  median,
  metricDefs,
  summarize,
  writeResults,
  type Sample,
  type Samples,
} from './report.ts';
import { buildSteps, settleMs } from './steps.ts';
import { summarizeLimit, type LimitSample } from './limit-report.ts';
import { benchTools, ensureBenchTools, type BenchTool } from './tools.ts';

const mib = 1024 * 1024;
function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

async function versions(): Promise<Record<string, string>> {
  const out = async (file: string, args: string[]): Promise<string> => {
    const r = await exec(file, args, { check: false, timeoutMs: 10_000 });
    return (r.stdout + r.stderr).trim().split('\n')[0] ?? '?';
  };
  // Version numbers only: `docker-registry --version` and `wrk --version` print paths and banners too.
  const version = (text: string): string => /\d+\.\d+\.\d+\S*/.exec(text)?.[0] ?? text;
  const v: Record<string, string> = {
    'Berth on Node': await out(tools.node, ['--version']),
    'Distribution 2.8 (Debian docker-registry)': version(await out(tools.distribution, ['--version'])),
    'Distribution v3.1 (.cache/bin/distribution-v3)': version(
      await out(tools['distribution-v3'], ['--version']),
    ),
  };
  for (const [name, file] of Object.entries(benchTools)) {
    if (name !== 'distribution-v3' && existsSync(file)) v[name] = version(await out(file, ['--version']));
  }
  return v;
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseOptions(argv);
  if (parsed === 'help') {
    process.stdout.write(usage);
    return 0;
  }
  const opts: BenchOptions = parsed;
  requireTool('distribution');
  requireTool('node');
  const want = (m: MetricName): boolean => opts.metrics.includes(m);
  const neededTools: BenchTool[] = ['distribution-v3'];
  if (want('manifest') || want('manifest-tags')) neededTools.push('wrk');
  if (want('pull') && opts.pullClient === 'curl') neededTools.push('curl');
  await ensureBenchTools(neededTools);

  const samples: Samples = {};
  const record = (metric: MetricName, kind: RegistryKind, sample: Sample): void => {
    ((samples[metric] ??= {})[kind] ??= []).push(sample);
  };
  const modes: Partial<Record<RegistryKind, MonolithicMode>> = {};
  const limits: LimitSample[] = [];
  const loadBefore = os.loadavg();
  const started = Date.now();

  const dir = await makeTempDir('bench');
  try {
    log(`writing blob files (${opts.blobSize / mib} MiB each) in ${dir}`);
    const needMono = want('mono') || want('rss') || want('pull');
    const blobs: { mono?: BlobFile; put?: BlobFile; chunked?: BlobFile } = {};
    if (needMono) blobs.mono = await writeBlobFile(dir, 'mono.bin', opts.blobSize);
    if (want('mono-put')) blobs.put = await writeBlobFile(dir, 'mono-put.bin', opts.blobSize);
    if (want('chunked')) blobs.chunked = await writeBlobFile(dir, 'chunked.bin', opts.blobSize);

    // Berth runs as its image runs it: with Node's compile cache filled while the image is built, so no
    // TypeScript is stripped and no module compiled from nothing at start (start-up memory and the first requests).
    const compileCacheDir = path.join(dir, 'compile-cache');
    await fillImageCompileCache(compileCacheDir);

    const recordLimit = (sample: LimitSample): void => void limits.push(sample);
    const steps = buildSteps({ opts, blobs, modes, record, recordLimit, dir, log });

    for (let round = 0; round < opts.rounds; round++) {
      const startOrder = rotate(kinds, round);
      const regs: Partial<Record<RegistryKind, BenchRegistry>> = {};
      try {
        for (const kind of startOrder) {
          regs[kind] = await startRegistry(kind, { profileDir: opts.profileDir, compileCacheDir });
          modes[kind] ??= await detectMonolithicMode(regs[kind].client, 'bench/probe');
        }
        for (const [i, step] of steps.entries()) {
          // Rotate who goes first per round and per step, so no registry always follows the same one; the
          // physical limit takes its turn among them.
          const order = rotate<RegistryKind | 'limit'>(step.limit ? [...kinds, 'limit'] : kinds, round + i);
          for (const [position, kind] of order.entries()) {
            if (kind === 'limit') {
              await sleep(settleMs);
              await step.limit?.(round);
              continue;
            }
            const reg = regs[kind];
            if (!reg) throw new Error(`${kind} not running`);
            await sleep(settleMs);
            try {
              await step.run(reg, round, position);
            } catch (err) {
              const msg = err instanceof Error ? err.message : String(err);
              throw new Error(
                `${step.name} against ${kind} failed: ${msg}\n--- ${kind} output ---\n${reg.running.output().slice(-4000)}`,
                { cause: err },
              );
            }
          }
        }
      } finally {
        for (const kind of startOrder) await regs[kind]?.stop();
      }
    }
  } finally {
    await removeTempDir(dir);
  }

  const loadAfter = os.loadavg();
  const rows = summarize(samples);
  const limit = limits.length > 0 ? summarizeLimit(limits, samples.mono) : undefined;
  const cpus = os.cpus();
  const command = `node bench/run.ts${argv.length > 0 ? ` ${argv.join(' ')}` : ''}`;
  const settings = [
    `Blob ${opts.blobSize / mib} MiB of random bytes streamed from a file (4 MiB reads) over node:http keep-alive; chunked push in ${opts.chunkSize / mib} MiB chunks.`,
    `${opts.rounds} round${opts.rounds > 1 ? 's' : ''}; each round starts the ${kinds.length} registries on fresh roots under ${os.tmpdir()} (same disk) and rotates which one goes first per step.`,
    `Pull: timed with ${opts.pullClient === 'curl' ? 'curl in its own process (node:http caps near 700 MB/s here)' : 'node:http'}, body discarded; content verified against the digest in a separate untimed pull.`,
    `Manifest GET: wrk, ${opts.connections} connections, ${opts.wrkThreads} thread${opts.wrkThreads > 1 ? 's' : ''}, ${opts.wrkDuration} s measured after a ${opts.wrkWarmup} s warm-up, by tag with \`Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json\`: one tag for all connections (a tag every client pulls at once, as in a rollout), and with manifest-tags ${opts.manifestTags} tags of distinct manifests asked for in turn.`,
    'Cells: median (min–max) over rounds; ratios: Berth/reference of the medians (range of the per-round ratios). MB = 10⁶ bytes.',
    "Berth runs with the image's pre-filled Node compile cache (test/harness/compile-cache.ts), as its pods do.",
    `Berth runs with \`${berthPodHeapFlag}\`: the heap limit Node sets under its pod's default memory limit (test/bench/pod-heap.test.ts); this host has none.`,
    `Same config overlay for all: \`${JSON.stringify(sharedConfig)}\`; Distribution v3.1 runs with OTEL_TRACES_EXPORTER=none (its default exports traces to localhost:4318).`,
  ];
  const notes: string[] = [];
  // Each registry's RSS when a peak watch began (median over rounds): its footprint before the step's work.
  const startRss = (metric: 'rss' | 'rss-manifest'): string =>
    kinds
      .map((k) => {
        const values = (samples[metric]?.[k] ?? []).map((x) => Number(x.detail?.['start']) / mib);
        return `${kindLabels[k]} ${median(values).toFixed(0)} MiB`;
      })
      .join(', ');
  if (want('mono') || want('rss')) {
    const m = (k: RegistryKind): string =>
      modes[k] === 'post' ? 'POST ?digest= with the body' : 'POST, then PUT ?digest= with the body';
    notes.push(
      `Monolithic push: ${kinds.map((k) => `${kindLabels[k]}: ${m(k)}`).join('; ')}. A registry that answers 202 to POST ?digest= ignores the body (Distribution 2.8 does), so the OCI client fallback is used for it.`,
    );
  }
  if (want('rss')) {
    notes.push(
      'Peak RSS: VmHWM of the server process (checked to be the registry binary itself), reset through /proc/PID/clear_refs just before the push; the target is judged on the worst round.',
    );
    notes.push(
      `RSS when the push started (median): ${startRss('rss')}; the rest of the peak is what the push added.`,
    );
  }
  if (want('rss-manifest')) {
    notes.push(
      'Peak RSS under manifest load: VmHWM of the server, reset just before the one-tag manifest GET, over its warm-up and measured run.',
    );
    notes.push(
      `RSS when the manifest load started (median): ${startRss('rss-manifest')}; in a run that pushes first, this is what the pushes left.`,
    );
  }
  notes.push(
    `Load average (1 min) before/after: ${loadBefore[0]?.toFixed(2)} / ${loadAfter[0]?.toFixed(2)}; wall time ${((Date.now() - started) / 1000).toFixed(0)} s.`,
  );
  const meta = {
    date: new Date().toISOString(),
    command,
    machine: `${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Linux ${os.release()}`,
    versions: await versions(),
    settings,
    notes,
    ...(limit ? { sections: [limit.lines] } : {}),
  };
  const md = markdown(rows, meta, opts.rounds);
  const files = await writeResults(opts.resultsDir, opts.resultsName, md, {
    meta,
    options: { ...opts, blobSizeMiB: opts.blobSize / mib, chunkSizeMiB: opts.chunkSize / mib },
    monolithicMode: modes,
    units: Object.fromEntries(Object.entries(metricDefs).map(([k, d]) => [k, d.unit])),
    summary: rows,
    samples,
    physicalLimit: limits,
  });
  process.stdout.write(`\n${md}\n`);
  log(`wrote ${files.markdownFile} and ${files.jsonFile}`);
  const missed = rows.filter((r) => !r.met).map((r) => r.label);
  if (limit && !limit.met) missed.push('monolithic push at 85% of the physical limit');
  log(
    missed.length === 0 ? 'all targets met' : `targets missed (reported, not an error): ${missed.join('; ')}`,
  );
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
