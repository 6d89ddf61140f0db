// What a serving registry loads: no schema compilers (ajv, fast-json-stringify's compiler; the app declares no
// route schemas), no object-store SDK on filesystem storage and not Node's bundled undici (an ES import of
// node:http loads it: registry/node-http.ts). Each costs resident memory in every pod.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { startBerth } from '../harness/berth.ts';
import { makeTempDir } from '../harness/tmp.ts';

test('a filesystem registry serving a request has loaded no schema compiler, no cloud SDK and no undici', async () => {
  const dir = await makeTempDir('start-up-modules');
  const listFile = path.join(dir, 'modules.txt');
  const builtinsFile = path.join(dir, 'builtins.txt');
  const preload = path.join(dir, 'list-modules.mjs');
  // Written at exit, after the request below: the CommonJS modules the process loaded (fastify's world is CJS).
  await writeFile(
    preload,
    `import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
const cache = createRequire(import.meta.url).cache;
process.on('exit', () => {
  writeFileSync(${JSON.stringify(listFile)}, Object.keys(cache).join('\\n'));
  writeFileSync(${JSON.stringify(builtinsFile)}, process.moduleLoadList.join('\\n'));
});
`,
  );
  const registry = await startBerth({ env: { NODE_OPTIONS: `--import=${preload}` } });
  try {
    const res = await fetch(`${registry.url}/v2/`);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  } finally {
    await registry.stop();
  }
  const modules = (await readFile(listFile, 'utf8')).split('\n');
  assert.ok(
    modules.some((m) => m.includes('/node_modules/fastify/')),
    'the list is real: fastify is in it',
  );
  // fastify's error serializer takes fast-json-stringify's small runtime (lib/serializer.js); the compiler is
  // its index.js, which loads ajv.
  const absent = [
    '/node_modules/ajv/',
    '/node_modules/@fastify/ajv-compiler/',
    '/node_modules/@fastify/fast-json-stringify-compiler/',
    '/node_modules/fast-json-stringify/index.js',
    '/node_modules/@aws-sdk/',
    '/node_modules/@google-cloud/',
    '/node_modules/@azure/',
  ];
  for (const part of absent) {
    const loaded = modules.filter((m) => m.includes(part));
    assert.deepEqual(loaded.slice(0, 3), [], `nothing under ${part} is loaded`);
  }
  const builtins = (await readFile(builtinsFile, 'utf8')).split('\n');
  assert.ok(builtins.includes('NativeModule http'), 'the list is real: http is in it');
  assert.deepEqual(
    builtins.filter((m) => m.includes('undici')),
    [],
    "Node's undici is not loaded",
  );
});
