// Command-line options of `npm run bench` (bench/run.ts).
import { parseArgs } from 'node:util';
import path from 'node:path';
import { repoRoot } from '../test/harness/tools.ts';

/** What the bench can measure; `rss` is taken during the monolithic push, `rss-manifest` during the one-tag manifest GET. */
export const metricNames = [
  'mono',
  'mono-put',
  'chunked',
  'pull',
  'manifest',
  'manifest-tags',
  'rss',
  'rss-manifest',
] as const;
export type MetricName = (typeof metricNames)[number];

export interface BenchOptions {
  quick: boolean;
  metrics: MetricName[];
  rounds: number;
  /** Blob size in bytes. */
  blobSize: number;
  /** Chunk size of the chunked push in bytes. */
  chunkSize: number;
  /** manifest-tags: how many distinct tags wrk requests in turn. */
  manifestTags: number;
  /** wrk: measured seconds, warm-up seconds, connections, threads. */
  wrkDuration: number;
  wrkWarmup: number;
  connections: number;
  wrkThreads: number;
  /** Where latest.md/latest.json (quick.md/quick.json in quick mode) go. */
  resultsDir: string;
  resultsName: string;
  /** The timed pull's client (see bench/blob-pull.ts). */
  pullClient: 'curl' | 'node';
  /** Run Berth with --cpu-prof and leave the profiles here. */
  profileDir: string | undefined;
}

export const usage = `usage: node bench/run.ts [options]

Side-by-side benchmark of Berth against CNCF Distribution 2.8 (Debian's docker-registry).

  --quick               smoke run: 64 MiB blob, 1 round, 5 s wrk (writes quick.md/quick.json)
  --metrics LIST        comma-separated subset of: ${metricNames.join(', ')} (default: all)
  --rounds N            rounds per metric, registries alternating (default 3; quick 1)
  --size-mib N          blob size (default 512; quick 64)
  --chunk-mib N         chunk size of the chunked push (default 16)
  --duration S          wrk measured seconds for manifest GET (default 10; quick 5)
  --tags N              manifest-tags: distinct tags (and manifests) wrk requests in turn (default 64)
  --warmup S            wrk warm-up seconds, not measured (default 2; quick 1)
  --connections N       wrk connections (default 32)
  --threads N           wrk threads (default 1: the machine has 2 cores, leave one to the server)
  --results DIR         output directory (default bench/results)
  --name NAME           output file name without extension (default latest; quick: quick)
  --pull-client C       timed pull client: curl (default) or node (node:http, slower than both servers)
  --profile DIR         run Berth with --cpu-prof, profiles written to DIR
  -h, --help
`;

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new Error(`--${name}: expected a positive integer, got ${value}`);
  return n;
}

export function parseOptions(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      metrics: { type: 'string' },
      rounds: { type: 'string' },
      'size-mib': { type: 'string' },
      'chunk-mib': { type: 'string' },
      duration: { type: 'string' },
      tags: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      threads: { type: 'string' },
      results: { type: 'string' },
      name: { type: 'string' },
      profile: { type: 'string' },
      'pull-client': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return 'help';
  const quick = values.quick;
  let metrics: MetricName[] = [...metricNames];
  if (values.metrics !== undefined) {
    metrics = [];
    for (const name of values.metrics.split(',').map((s) => s.trim())) {
      if (!(metricNames as readonly string[]).includes(name)) {
        throw new Error(
          `--metrics: unknown metric ${JSON.stringify(name)} (known: ${metricNames.join(', ')})`,
        );
      }
      if (!metrics.includes(name as MetricName)) metrics.push(name as MetricName);
    }
  }
  const mib = 1024 * 1024;
  const blobSize = positiveInt('size-mib', values['size-mib'], quick ? 64 : 512) * mib;
  const chunkSize = positiveInt('chunk-mib', values['chunk-mib'], 16) * mib;
  if (chunkSize > blobSize) throw new Error('--chunk-mib must not exceed --size-mib');
  const connections = positiveInt('connections', values.connections, 32);
  const wrkThreads = positiveInt('threads', values.threads, 1);
  if (wrkThreads > connections) throw new Error('--threads must not exceed --connections');
  const pullClient = values['pull-client'] ?? 'curl';
  if (pullClient !== 'curl' && pullClient !== 'node') {
    throw new Error(`--pull-client: expected curl or node, got ${pullClient}`);
  }
  return {
    quick,
    pullClient,
    metrics,
    rounds: positiveInt('rounds', values.rounds, quick ? 1 : 3),
    blobSize,
    chunkSize,
    manifestTags: positiveInt('tags', values.tags, 64),
    wrkDuration: positiveInt('duration', values.duration, quick ? 5 : 10),
    wrkWarmup: positiveInt('warmup', values.warmup, quick ? 1 : 2),
    connections,
    wrkThreads,
    resultsDir: path.resolve(values.results ?? path.join(repoRoot, 'bench/results')),
    resultsName: values.name ?? (quick ? 'quick' : 'latest'),
    profileDir: values.profile === undefined ? undefined : path.resolve(values.profile),
  };
}
