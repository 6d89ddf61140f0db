// The image's pre-filled compile cache (Dockerfile, image/warm-compile-cache.ts): filled as the build fills
// it, it must hold every module the image's commands load, so that none of them strips TypeScript at start-up
// (that costs ~13 MiB of RSS in every process and thread that does it: bench/README.md, "Start-up memory").
// A module added with an effect on import, or one that fails to load without dev dependencies, fails here.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fillImageCompileCache } from '../harness/compile-cache.ts';
import { exec } from '../harness/exec.ts';
import { makeTempDir, removeTempDir } from '../harness/tmp.ts';
import { operatorNodeFlags, registryNodeFlags, repoRoot, tools } from '../harness/tools.ts';

let dir: string;
let cache: string;

before(async () => {
  dir = await makeTempDir('compile-cache');
  cache = path.join(dir, 'cache');
  await fillImageCompileCache(cache);
});
after(() => removeTempDir(dir));

/** Runs a command with the cache and Node's compile-cache debug log; returns what it says about each module. */
async function cacheLog(
  flags: readonly string[],
  args: string[],
): Promise<{ hits: string[]; misses: string[] }> {
  const r = await exec(tools.node, [...flags, ...args], {
    env: { ...process.env, NODE_COMPILE_CACHE: cache, NODE_DEBUG_NATIVE: 'COMPILE_CACHE' },
    cwd: repoRoot,
    timeoutMs: 120_000,
  });
  const lines = r.stderr.split('\n');
  const module = (line: string): string => /TypeScript (?:file:\/\/)?(\S+?)\.\.\./.exec(line)?.[1] ?? line;
  return {
    hits: lines
      .filter((l) => /retrieving transpile cache for StrippedTypeScript .*success/.test(l))
      .map(module),
    misses: lines.filter((l) => /no transpile cache for StrippedTypeScript/.test(l)).map(module),
  };
}

test('a garbage collection (a GC Job) strips no TypeScript with the image cache', async () => {
  const root = path.join(dir, 'store');
  await mkdir(path.join(root, 'docker/registry/v2'), { recursive: true });
  const config = path.join(dir, 'config.yml');
  await writeFile(config, `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${root}\n`);
  const { hits, misses } = await cacheLog(registryNodeFlags, [
    'registry/cli.ts',
    'garbage-collect',
    '--dry-run',
    '--quiet',
    config,
  ]);
  assert.deepEqual(misses, []);
  // The collector's own modules came from the cache, not only the entry point.
  assert.ok(
    hits.some((m) => m.endsWith('registry/gc/worker.ts')),
    `hits: ${hits.join(', ')}`,
  );
  assert.ok(hits.length > 20, `only ${hits.length} modules from the cache`);
});

test('the operator strips no TypeScript with the image cache', async () => {
  // --help parses the options after the operator's whole module graph is loaded.
  const { hits, misses } = await cacheLog(operatorNodeFlags, ['operator/cli.ts', '--help']);
  assert.deepEqual(misses, []);
  assert.ok(
    hits.some((m) => m.endsWith('operator/operator.ts')),
    `hits: ${hits.join(', ')}`,
  );
});
