// `node bench/gc.ts`: garbage collection, Berth against CNCF Distribution 2.8 (`docker-registry
// garbage-collect`) and v3.1 (`.cache/bin/distribution-v3 garbage-collect`) side by side, on a filesystem corpus of ~10k manifests and ~50k blobs written straight
// to disk in Distribution's layout (much faster than pushing it). Each collector runs on its own copy of
// the same root, with and without --delete-untagged, rotating which goes first. Reported: wall time
// (process start to exit), the Distribution/Berth ratios, and each process's peak RSS (GNU time's %M).
//
// The corpus lives in /dev/shm when there is one (so the figures measure the collectors, not this machine's
// disk; --dir puts it elsewhere, e.g. on a real disk, where Berth's parallel I/O counts for more).
//
// Berth runs as the image runs it: `node --max-semi-space-size=1 registry/cli.ts garbage-collect` (the
// Dockerfile's berth-registry; registryNodeFlags in test/harness/tools.ts), with Node's compile cache as the
// image has it by default (`--compile-cache image`: filled as the Dockerfile fills it, before any run; see
// test/harness/compile-cache.ts). `cold` gives every run a fresh empty directory (an image without the pre-filled
// cache: a GC Job's /tmp is a new emptyDir); `warm` one directory filled by an untimed dry run first.
//
// Options: --manifests N (10000) --repos N (500) --dir DIR --rounds N (1) --json FILE
//          --compile-cache image|cold|warm (image)
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { exec } from '../test/harness/exec.ts';
import { removeTempDir } from '../test/harness/tmp.ts';
import { fastTempDir } from '../test/gc/corpus.ts';
import { registryNodeFlags, repoRoot, requireTool, tools } from '../test/harness/tools.ts';
import { forEachConcurrent } from '../registry/gc/limit.ts';
import { rotate } from './registries.ts';
import { ensureBenchTools } from './tools.ts';
import { fillImageCompileCache } from '../test/harness/compile-cache.ts';

interface Corpus {
  root: string;
  manifests: number;
  blobs: number;
  files: number;
}

const digestOf = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * Writes the corpus. Per repository: `perRepo` image manifests, each with a unique config, 4 unique layers
 * and one layer from a shared pool of 1000 (shared across repositories); even ones tagged, odd ones
 * untagged (garbage under -m); the first two are the children of a tagged OCI index. Plus one orphan blob
 * per repository and 10% of the manifests deleted (revision link gone: their blobs are garbage either way).
 */
export async function writeCorpus(root: string, manifests: number, repos: number): Promise<Corpus> {
  const v2 = path.join(root, 'docker/registry/v2');
  let files = 0;
  const blobSet = new Set<string>();
  const put = async (file: string, content: Buffer | string): Promise<void> => {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
    files++;
  };
  const blob = async (content: Buffer): Promise<{ digest: string; size: number }> => {
    const hex = digestOf(content);
    if (!blobSet.has(hex)) {
      blobSet.add(hex);
      await put(path.join(v2, 'blobs/sha256', hex.slice(0, 2), hex, 'data'), content);
    }
    return { digest: `sha256:${hex}`, size: content.length };
  };
  const link = (repo: string, kind: string, digest: string): Promise<void> =>
    put(path.join(v2, 'repositories', repo, kind, 'sha256', digest.slice(7), 'link'), digest);

  const pool = Array.from({ length: 1000 }, (_, i) =>
    Buffer.concat([Buffer.from(`base ${i} `), randomBytes(200)]),
  );
  const perRepo = Math.max(3, Math.round(manifests / repos));
  let manifestCount = 0;
  await forEachConcurrent(
    Array.from({ length: repos }, (_, r) => r),
    16,
    async (r) => {
      const repo = `org${r % 20}/app${r}`;
      const images: { digest: string; size: number }[] = [];
      for (let j = 0; j < perRepo; j++) {
        const config = await blob(
          Buffer.from(
            JSON.stringify({
              architecture: 'amd64',
              os: 'linux',
              id: `${r}-${j}`,
              n: randomBytes(8).toString('hex'),
            }),
          ),
        );
        const layers = [await blob(pool[(r * 7 + j) % pool.length] ?? Buffer.alloc(0))];
        for (let k = 0; k < 4; k++) layers.push(await blob(randomBytes(100 + k)));
        for (const b of [config, ...layers]) await link(repo, '_layers', b.digest);
        const body = Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
            layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...l })),
          }),
        );
        const m = await blob(body);
        manifestCount++;
        images.push(m);
        if (j % 10 === 9) continue; // deleted: its blobs stay, its revision link does not
        await link(repo, '_manifests/revisions', m.digest);
        if (j % 2 === 0 && j >= 2) {
          const tag = path.join(v2, 'repositories', repo, '_manifests/tags', `t${j}`);
          await put(path.join(tag, 'current/link'), m.digest);
          await put(path.join(tag, 'index/sha256', m.digest.slice(7), 'link'), m.digest);
        }
      }
      const children = images.slice(0, 2);
      const index = await blob(
        Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: 'application/vnd.oci.image.index.v1+json',
            manifests: children.map((c, i) => ({
              mediaType: 'application/vnd.oci.image.manifest.v1+json',
              ...c,
              platform: { architecture: i === 0 ? 'amd64' : 'arm64', os: 'linux' },
            })),
          }),
        ),
      );
      manifestCount++;
      await link(repo, '_manifests/revisions', index.digest);
      const tag = path.join(v2, 'repositories', repo, '_manifests/tags', 'multi');
      await put(path.join(tag, 'current/link'), index.digest);
      await put(path.join(tag, 'index/sha256', index.digest.slice(7), 'link'), index.digest);
      const orphan = await blob(randomBytes(300));
      await link(repo, '_layers', orphan.digest);
    },
  );
  return { root, manifests: manifestCount, blobs: blobSet.size, files };
}

interface Measured {
  seconds: number;
  peakRssMiB: number;
}

async function timed(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<Measured> {
  const r = await exec('/usr/bin/time', ['-f', '@@time %e %M', file, ...args], { timeoutMs: 3_600_000, env });
  const m = /@@time (\S+) (\d+)/.exec(r.stderr);
  if (!m) throw new Error(`no timing from /usr/bin/time: ${r.stderr.slice(-500)}`);
  return { seconds: Number(m[1]), peakRssMiB: Math.round(Number(m[2]) / 1024) };
}

async function config(dir: string, root: string): Promise<string> {
  const file = path.join(dir, `${path.basename(root)}.yml`);
  await writeFile(
    file,
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${root}\n`,
  );
  return file;
}

/** The collectors: Berth and the two references. */
const collectors = ['berth', 'distribution', 'distribution-v3'] as const;
type Collector = (typeof collectors)[number];
const collectorLabels: Record<Collector, string> = {
  berth: 'Berth',
  distribution: 'Distribution 2.8',
  'distribution-v3': 'Distribution v3.1',
};

export type CompileCache = 'image' | 'cold' | 'warm';

export interface GcBenchResult {
  corpus: { manifests: number; blobs: number; files: number; repos: number };
  /** How Berth was run: its Node flags and the state of Node's compile cache. */
  berth: { nodeFlags: string[]; compileCache: CompileCache };
  versions: { distribution: string; 'distribution-v3': string };
  runs: ({
    mode: 'plain' | 'delete-untagged';
    /** Distribution 2.8's time / Berth's time. */
    speedup: number;
    /** Distribution v3.1's time / Berth's time. */
    speedupV3: number;
  } & Record<Collector, Measured>)[];
}

export async function runGcBench(options: {
  manifests?: number;
  repos?: number;
  dir?: string;
  rounds?: number;
  compileCache?: CompileCache;
  log?: (line: string) => void;
}): Promise<GcBenchResult> {
  const compileCache = options.compileCache ?? 'image';
  const log = options.log ?? ((line: string) => process.stderr.write(`[bench gc] ${line}\n`));
  requireTool('distribution');
  await ensureBenchTools(['distribution-v3']);
  const binaries: Record<Collector, (flags: string[], cfg: string) => [string, string[]]> = {
    berth: (flags, cfg) => [
      tools.node,
      [...registryNodeFlags, path.join(repoRoot, 'registry/cli.ts'), 'garbage-collect', '-q', ...flags, cfg],
    ],
    distribution: (flags, cfg) => [tools.distribution, ['garbage-collect', ...flags, cfg]],
    'distribution-v3': (flags, cfg) => [tools['distribution-v3'], ['garbage-collect', ...flags, cfg]],
  };
  const version = async (file: string): Promise<string> => {
    const r = await exec(file, ['--version'], { check: false, timeoutMs: 10_000 });
    return /v?\d+\.\d+\.\d+\S*/.exec(r.stdout + r.stderr)?.[0] ?? '?';
  };
  const repos = options.repos ?? 500;
  const work = options.dir
    ? await mkdir(options.dir, { recursive: true }).then(() => options.dir ?? '')
    : await fastTempDir('bench-gc');
  try {
    const pristine = path.join(work, 'pristine');
    const started = performance.now();
    const corpus = await writeCorpus(pristine, options.manifests ?? 10_000, repos);
    log(`working in ${work}`);
    log(
      `corpus: ${corpus.manifests} manifests, ${corpus.blobs} blobs, ${corpus.files} files in ${((performance.now() - started) / 1000).toFixed(1)}s`,
    );
    // Berth's compile cache: one directory for every run (filled as the image's is, or by an untimed dry
    // run), or a fresh one per run.
    const sharedCache = path.join(work, `compile-cache-${compileCache}`);
    if (compileCache === 'image') await fillImageCompileCache(sharedCache);
    if (compileCache === 'warm') {
      const [file, args] = binaries.berth(['--dry-run'], await config(work, pristine));
      await exec(file, args, { env: { ...process.env, NODE_COMPILE_CACHE: sharedCache } });
    }
    const envFor = async (collector: Collector): Promise<NodeJS.ProcessEnv> =>
      collector !== 'berth'
        ? process.env
        : {
            ...process.env,
            NODE_COMPILE_CACHE:
              compileCache === 'cold' ? await mkdtemp(path.join(work, 'compile-cache-')) : sharedCache,
          };
    const result: GcBenchResult = {
      corpus: { manifests: corpus.manifests, blobs: corpus.blobs, files: corpus.files, repos },
      berth: { nodeFlags: [...registryNodeFlags], compileCache },
      versions: {
        distribution: await version(tools.distribution),
        'distribution-v3': await version(tools['distribution-v3']),
      },
      runs: [],
    };
    const rounds = options.rounds ?? 1;
    for (const mode of ['plain', 'delete-untagged'] as const) {
      const flags = mode === 'plain' ? [] : ['-m'];
      const samples: Record<Collector, Measured>[] = [];
      for (let round = 0; round < rounds; round++) {
        // Rotate which goes first, so page-cache warmth and machine drift hit all alike.
        const order = rotate(collectors, round);
        const sample: Partial<Record<Collector, Measured>> = {};
        for (const collector of order) {
          // Each collector on its own copy of the same root.
          const root = path.join(work, `${collector}-${mode}-${round}`);
          await exec('cp', ['-a', pristine, root]);
          const [file, args] = binaries[collector](flags, await config(work, root));
          sample[collector] = await timed(file, args, await envFor(collector));
          await exec('rm', ['-rf', root]);
        }
        const done = sample as Record<Collector, Measured>;
        samples.push(done);
        log(
          `${mode} round ${round + 1}: ${collectors.map((c) => `${collectorLabels[c]} ${done[c].seconds}s ${done[c].peakRssMiB} MiB`).join(', ')}`,
        );
      }
      const median = (xs: number[]): number => {
        const s = [...xs].sort((a, b) => a - b);
        return s[Math.floor(s.length / 2)] ?? 0;
      };
      const summary = (c: Collector): Measured => ({
        seconds: median(samples.map((s) => s[c].seconds)),
        peakRssMiB: Math.max(...samples.map((s) => s[c].peakRssMiB)),
      });
      const berth = summary('berth');
      const distribution = summary('distribution');
      const v3 = summary('distribution-v3');
      const speedupOver = (m: Measured): number => +(m.seconds / Math.max(berth.seconds, 0.01)).toFixed(2);
      result.runs.push({
        mode,
        berth,
        distribution,
        'distribution-v3': v3,
        speedup: speedupOver(distribution),
        speedupV3: speedupOver(v3),
      });
    }
    return result;
  } finally {
    if (!options.dir) await removeTempDir(work);
  }
}

const compileCacheText: Record<CompileCache, string> = {
  image: "the image's pre-filled compile cache",
  cold: 'a cold compile cache (a fresh directory per run)',
  warm: 'a compile cache warmed by a dry run',
};

export function gcBenchMarkdown(r: GcBenchResult): string {
  const lines = [
    `GC of ${r.corpus.manifests} manifests / ${r.corpus.blobs} blobs in ${r.corpus.repos} repositories (filesystem, ${r.corpus.files} files); ` +
      `Distribution 2.8 is ${r.versions.distribution}, v3.1 is ${r.versions['distribution-v3']}; ` +
      `Berth runs as the image runs it (\`node ${r.berth.nodeFlags.join(' ')} registry/cli.ts garbage-collect\`) ` +
      `with ${compileCacheText[r.berth.compileCache]}`,
    '',
    '| mode | Berth | Distribution 2.8 | Distribution v3.1 | speed-up vs 2.8 | speed-up vs v3.1 | Berth peak RSS | 2.8 peak RSS | v3.1 peak RSS |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const run of r.runs) {
    const v3 = run['distribution-v3'];
    lines.push(
      `| ${run.mode} | ${run.berth.seconds.toFixed(2)} s | ${run.distribution.seconds.toFixed(2)} s | ${v3.seconds.toFixed(2)} s | ` +
        `${run.speedup}× | ${run.speedupV3}× | ${run.berth.peakRssMiB} MiB | ${run.distribution.peakRssMiB} MiB | ${v3.peakRssMiB} MiB |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      manifests: { type: 'string' },
      repos: { type: 'string' },
      dir: { type: 'string' },
      rounds: { type: 'string' },
      json: { type: 'string' },
      'compile-cache': { type: 'string' },
    },
  });
  const cache = values['compile-cache'];
  if (cache !== undefined && cache !== 'image' && cache !== 'cold' && cache !== 'warm') {
    throw new Error(`--compile-cache: expected image, cold or warm, got ${JSON.stringify(cache)}`);
  }
  const result = await runGcBench({
    ...(values.manifests ? { manifests: Number(values.manifests) } : {}),
    ...(values.repos ? { repos: Number(values.repos) } : {}),
    ...(values.dir ? { dir: values.dir } : {}),
    ...(values.rounds ? { rounds: Number(values.rounds) } : {}),
    ...(cache ? { compileCache: cache } : {}),
  });
  process.stdout.write(gcBenchMarkdown(result));
  if (values.json) await writeFile(values.json, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
