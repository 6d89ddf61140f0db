// The measurements of one round, each run against one registry at a time. Every step records its sample
// (with server CPU time, a figure a busy shared machine disturbs far less than wall-clock throughput).
import { setTimeout as sleep } from 'node:timers/promises';
import type { RegistryKind } from '../test/harness/registry.ts';
import type { BlobFile } from './blob-file.ts';
import { pullBlob, verifyPull } from './blob-pull.ts';
import { pushChunked, pushMonolithic, type MonolithicMode, type PushResult } from './blob-push.ts';
import { measureManifestGet, seedManifest, type SeededManifest } from './manifest-get.ts';
import type { BenchOptions, MetricName } from './options.ts';
import { measureCpu, type CpuTime } from './proc.ts';
import type { BenchRegistry } from './registries.ts';
import type { Sample } from './report.ts';
import { withPeak } from './rss.ts';
import type { LimitSample } from './limit-report.ts';
import { measurePhysicalLimit } from './physical-limit.ts';

const mib = 1024 * 1024;
/** Lets the previous server finish post-request work (GC, writeback) before the next one is timed. */
export const settleMs = 500;

export interface Step {
  name: string;
  run(reg: BenchRegistry, round: number, position: number): Promise<void>;
  /** Measured once per round among the registries (its place rotates with theirs): the physical limit. */
  limit?(round: number): Promise<void>;
}

export interface StepContext {
  opts: BenchOptions;
  blobs: { mono?: BlobFile; put?: BlobFile; chunked?: BlobFile };
  modes: Partial<Record<RegistryKind, MonolithicMode>>;
  record(metric: MetricName, kind: RegistryKind, sample: Sample): void;
  recordLimit(sample: LimitSample): void;
  /** The bench's temp dir, on the disk of the registries' roots. */
  dir: string;
  log(message: string): void;
}

const mbps = (bytes: number, seconds: number): number => bytes / 1e6 / seconds;
const cpuSum = (c: CpuTime): number => c.user + c.system;
/** Server CPU seconds per GB moved. */
const cpuPerGB = (c: CpuTime, bytes: number): number => cpuSum(c) / (bytes / 1e9);
/** Server CPU per GB of a push as a Sample's two CPU fields: all of it, and user time alone. */
const cpuFields = (c: CpuTime, bytes: number) => ({
  cpuPerUnit: cpuPerGB(c, bytes),
  userCpuPerUnit: c.user / (bytes / 1e9),
});

function describePush(r: PushResult, cpu: CpuTime): string {
  return (
    `commit ${r.commitSeconds.toFixed(2)} s, server CPU ${cpuSum(cpu).toFixed(2)} s ` +
    `(${cpu.user.toFixed(2)} user + ${cpu.system.toFixed(2)} sys)`
  );
}

export function buildSteps(ctx: StepContext): Step[] {
  const { opts, blobs, modes, record, recordLimit, dir, log } = ctx;
  const want = (m: MetricName): boolean => opts.metrics.includes(m);
  const steps: Step[] = [];
  const monoBlob = blobs.mono;
  if (monoBlob) {
    steps.push({
      name: 'monolithic push',
      async run(reg, round, position) {
        const { result: measured, peak } = await withPeak(reg.pid, () =>
          measureCpu(reg.pid, () =>
            pushMonolithic(reg.client, 'bench/mono', monoBlob, modes[reg.kind] ?? 'put'),
          ),
        );
        const { result: r, cpu } = measured;
        const value = mbps(r.bytes, r.seconds);
        if (want('mono')) {
          const detail = { ...r, mode: modes[reg.kind], cpu };
          record('mono', reg.kind, { round, position, value, ...cpuFields(cpu, r.bytes), detail });
        }
        if (want('rss'))
          record('rss', reg.kind, { round, position, value: peak.hwm / mib, detail: { ...peak } });
        log(
          `round ${round + 1} ${reg.kind}: monolithic push ${value.toFixed(0)} MB/s, ${describePush(r, cpu)}, ` +
            `peak RSS ${(peak.hwm / mib).toFixed(0)} MiB (at start ${(peak.start / mib).toFixed(0)} MiB, ` +
            `sampled max ${(peak.sampledMax / mib).toFixed(0)} MiB` +
            `${peak.scoped ? '' : ', VmHWM since start'})`,
        );
      },
      ...(want('mono')
        ? {
            async limit(round: number) {
              const l = await measurePhysicalLimit(monoBlob, dir);
              recordLimit({ round, ...l });
              log(
                `round ${round + 1} physical limit: ${l.limitMBps.toFixed(0)} MB/s (sha256 ${l.hashMBps.toFixed(0)}, ` +
                  `write + fsync ${l.writeMBps.toFixed(0)})`,
              );
            },
          }
        : {}),
    });
  }
  const putBlob = blobs.put;
  if (putBlob) {
    steps.push({
      name: 'monolithic push (POST + PUT)',
      async run(reg, round, position) {
        const { result: r, cpu } = await measureCpu(reg.pid, () =>
          pushMonolithic(reg.client, 'bench/mono-put', putBlob, 'put'),
        );
        const value = mbps(r.bytes, r.seconds);
        const detail = { ...r, cpu };
        record('mono-put', reg.kind, { round, position, value, ...cpuFields(cpu, r.bytes), detail });
        log(
          `round ${round + 1} ${reg.kind}: monolithic push (POST + PUT) ${value.toFixed(0)} MB/s, ${describePush(r, cpu)}`,
        );
      },
    });
  }
  const chunkedBlob = blobs.chunked;
  if (chunkedBlob) {
    steps.push({
      name: 'chunked push',
      async run(reg, round, position) {
        const { result: r, cpu } = await measureCpu(reg.pid, () =>
          pushChunked(reg.client, 'bench/chunked', chunkedBlob, opts.chunkSize),
        );
        const value = mbps(r.bytes, r.seconds);
        const detail = { ...r, cpu };
        record('chunked', reg.kind, { round, position, value, ...cpuFields(cpu, r.bytes), detail });
        log(
          `round ${round + 1} ${reg.kind}: chunked push ${value.toFixed(0)} MB/s (${r.requests} requests), ${describePush(r, cpu)}`,
        );
      },
    });
  }
  if (want('pull') && monoBlob) {
    steps.push({
      name: 'pull',
      async run(reg, round, position) {
        // Content check once per registry instance, untimed; the timed pull only counts bytes.
        await verifyPull(reg.client, 'bench/mono', monoBlob);
        await sleep(settleMs);
        const { result: r, cpu } = await measureCpu(reg.pid, () =>
          pullBlob(reg.client, 'bench/mono', monoBlob, opts.pullClient),
        );
        const value = mbps(r.bytes, r.seconds);
        record('pull', reg.kind, {
          round,
          position,
          value,
          cpuPerUnit: cpuPerGB(cpu, r.bytes),
          detail: { ...r, cpu },
        });
        log(
          `round ${round + 1} ${reg.kind}: pull ${value.toFixed(0)} MB/s, server CPU ${cpuSum(cpu).toFixed(2)} s`,
        );
      },
    });
  }
  // Manifest GET under wrk, the same measurement for one tag and for many tags asked for in turn.
  // With `peakMetric`, the server's peak RSS over the warm-up and the measured run is recorded too.
  const manifestGetStep = (
    metric: 'manifest' | 'manifest-tags',
    name: string,
    seed: (reg: BenchRegistry) => Promise<[SeededManifest, ...SeededManifest[]]>,
    peakMetric?: 'rss-manifest',
  ): Step => ({
    name,
    async run(reg, round, position) {
      const manifests = await seed(reg);
      const measure = () =>
        measureManifestGet(reg.client, manifests, {
          seconds: opts.wrkDuration,
          warmupSeconds: opts.wrkWarmup,
          connections: opts.connections,
          threads: opts.wrkThreads,
          pid: reg.pid,
        });
      const { result: r, peak } = peakMetric
        ? await withPeak(reg.pid, measure)
        : { result: await measure(), peak: undefined };
      if (peakMetric && peak) {
        record(peakMetric, reg.kind, { round, position, value: peak.hwm / mib, detail: { ...peak } });
        log(
          `round ${round + 1} ${reg.kind}: peak RSS under manifest GET load ${(peak.hwm / mib).toFixed(0)} MiB ` +
            `(at start ${(peak.start / mib).toFixed(0)} MiB)`,
        );
      }
      if (!want(metric)) return;
      // CPU µs per request.
      const cpuPerUnit = (cpuSum(r.cpu) / r.requests) * 1e6;
      record(metric, reg.kind, { round, position, value: r.rps, cpuPerUnit, detail: { ...r } });
      const what =
        manifests.length === 1 ? 'manifest GET' : `manifest GET of ${manifests.length} tags in turn`;
      log(
        `round ${round + 1} ${reg.kind}: ${what} ${r.rps.toFixed(0)} req/s (p50 ${r.latencyUs.p50} µs, ` +
          `p99 ${r.latencyUs.p99} µs), server CPU ${cpuPerUnit.toFixed(0)} µs/request`,
      );
    },
  });
  if (want('manifest') || want('rss-manifest')) {
    steps.push(
      manifestGetStep(
        'manifest',
        'manifest GET',
        async (reg) => [await seedManifest(reg.client, 'bench/manifest', 'latest')],
        want('rss-manifest') ? 'rss-manifest' : undefined,
      ),
    );
  }
  if (want('manifest-tags')) {
    steps.push(
      manifestGetStep('manifest-tags', 'manifest GET, distinct tags', async (reg) => {
        const seeded: SeededManifest[] = [];
        for (let i = 0; i < opts.manifestTags; i++) {
          seeded.push(await seedManifest(reg.client, 'bench/manifests', `t${String(i)}`));
        }
        const [first, ...rest] = seeded;
        if (first === undefined) throw new Error('--tags must be at least 1');
        return [first, ...rest];
      }),
    );
  }
  return steps;
}
