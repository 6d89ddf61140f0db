// `npm run generate`: writes the CRDs generated from operator/api into crds/ and charts/berth/crds/.
// `node operator/crd/generate.ts --check` writes nothing and exits 1 when a committed file is stale.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generatedFiles } from './crds.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

async function current(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

async function main(args: string[]): Promise<number> {
  const check = args.includes('--check');
  let stale = 0;
  for (const [relative, content] of generatedFiles()) {
    const file = path.join(repoRoot, relative);
    if ((await current(file)) === content) continue;
    stale++;
    if (check) {
      process.stderr.write(`${relative} is stale\n`);
      continue;
    }
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
    process.stdout.write(`wrote ${relative}\n`);
  }
  if (check && stale > 0) {
    process.stderr.write('run `npm run generate` and commit the result\n');
    return 1;
  }
  if (stale === 0) process.stdout.write('CRDs are up to date\n');
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
