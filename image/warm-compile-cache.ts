// Fills Node's compile cache (NODE_COMPILE_CACHE) while the image is built, so that no process of the image
// strips TypeScript or compiles a module from nothing at start-up: a registry pod, the operator and each
// garbage-collection or migration Job start from the cache (read-only at run time; see the Dockerfile).
//
// It runs as a preload of the real commands, `NODE_OPTIONS=--import=<this file> berth-registry --help`, so
// the cache is written under the same Node flags, user and paths as the programs use: Node keys the cache by
// its version, the V8 flags and the uid, and each entry by the file's path and content.
//
// It imports every module of registry/ and operator/ that has no effect on import (the command entry points
// run as the main module of the command itself), and fails the build if one cannot be loaded.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** Modules that do something when imported: command entry points and the CRD generator (a dev tool). */
const runOnImport = new Set([
  'registry/cli.ts',
  'operator/cli.ts',
  'operator/main.ts',
  'operator/crd/generate.ts',
]);

const appDir = process.cwd();

function modulesUnder(dir: string): string[] {
  return readdirSync(path.join(appDir, dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .map((file) => path.posix.join(dir, file.split(path.sep).join('/')))
    .filter((file) => !runOnImport.has(file))
    .sort();
}

// The operator loads its dependencies without their inline source maps (operator/main.ts), so their cache
// entries must be of that source: Node checks each entry against the source it compiles. Only the operator's
// dependencies (cdk8s, cdk8s-plus-28, constructs) carry such maps, so the registry's entries are unchanged.
// Imported from the app directory: this file runs from elsewhere while the image is built.
const sourceMaps = (await import(
  pathToFileURL(path.join(appDir, 'operator/runtime/drop-inline-source-maps.ts')).href
)) as typeof import('../operator/runtime/drop-inline-source-maps.ts');
sourceMaps.dropInlineSourceMaps();

for (const module of [...modulesUnder('registry'), ...modulesUnder('operator')]) {
  try {
    await import(pathToFileURL(path.join(appDir, module)).href);
  } catch (err) {
    process.stderr.write(`warm-compile-cache: cannot load ${module}: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
