import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { ConfigError, loadConfig, type LoadedConfig } from '../../registry/config/load.ts';
import { ConfigWatcher, type ConfigWatcherOptions } from '../../registry/config/watch.ts';

const VALID = 'version: 0.1\nstorage:\n  inmemory:\n';
const READ_ONLY = `${VALID}  maintenance:\n    readonly:\n      enabled: true\n`;
const INVALID = `${VALID}  delete:\n    enabeld: true\n`;

let dir: string;
let watchers: ConfigWatcher[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-config-watch-'));
});

afterEach(async () => {
  await Promise.all(watchers.map((w) => w.close()));
  watchers = [];
  await rm(dir, { recursive: true, force: true });
});

async function start(path: string, options: ConfigWatcherOptions = {}): Promise<ConfigWatcher> {
  const initial = await loadConfig(path, {});
  const watcher = new ConfigWatcher(path, { env: {}, debounceMs: 20, initial, ...options });
  watchers.push(watcher);
  await watcher.ready;
  return watcher;
}

/** Writes a new version the way most editors save: a temporary file renamed over the old one. */
async function replace(file: string, text: string): Promise<void> {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
}

function next<K extends 'change' | 'error'>(watcher: ConfigWatcher, event: K) {
  return once(watcher, event, { signal: AbortSignal.timeout(5000) }) as Promise<
    [K extends 'change' ? LoadedConfig : Error]
  >;
}

describe('ConfigWatcher', () => {
  test('an edit to the file emits change with the new revision', async () => {
    const file = join(dir, 'config.yml');
    await writeFile(file, VALID);
    const watcher = await start(file);
    const before = watcher.current?.revision;

    const changed = next(watcher, 'change');
    await writeFile(file, READ_ONLY);
    const [loaded] = await changed;
    assert.notEqual(loaded.revision, before);
    assert.equal(loaded.config.storage.maintenance.readonly.enabled, true);
    assert.equal(watcher.current?.revision, loaded.revision);
  });

  test('a bad edit emits error and keeps the running config; a fix is picked up', async () => {
    const file = join(dir, 'config.yml');
    await writeFile(file, VALID);
    const watcher = await start(file);
    const good = watcher.current;
    watcher.on('change', () => assert.fail('an invalid config must not be emitted as a change'));

    const failed = next(watcher, 'error');
    await replace(file, INVALID);
    const [err] = await failed;
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /storage\.delete\.enabeld: unknown key/);
    assert.equal(watcher.current, good);

    watcher.removeAllListeners('change');
    const changed = next(watcher, 'change');
    await replace(file, READ_ONLY);
    assert.equal((await changed)[0].config.storage.maintenance.readonly.enabled, true);
  });

  test('without an error listener a bad edit is ignored, not thrown', async () => {
    const file = join(dir, 'config.yml');
    await writeFile(file, VALID);
    const watcher = await start(file);
    await writeFile(file, 'version: [\n');
    assert.equal(await watcher.reload({ force: true }), undefined);
    assert.equal(watcher.current?.config.storage.maintenance.readonly.enabled, false);
  });

  test('a Kubernetes ConfigMap update (..data symlink swap) emits change', async () => {
    // The kubelet's layout: config.yml -> ..data/config.yml, ..data -> ..<timestamp>/.
    await mkdir(join(dir, '..2024_01_01_00_00_00.000000001'));
    await writeFile(join(dir, '..2024_01_01_00_00_00.000000001', 'config.yml'), VALID);
    await symlink('..2024_01_01_00_00_00.000000001', join(dir, '..data'));
    await symlink(join('..data', 'config.yml'), join(dir, 'config.yml'));
    const watcher = await start(join(dir, 'config.yml'));

    const changed = next(watcher, 'change');
    // The update: a new timestamped directory, a temporary link, renamed over ..data, old directory removed.
    await mkdir(join(dir, '..2024_01_01_00_01_00.000000002'));
    await writeFile(join(dir, '..2024_01_01_00_01_00.000000002', 'config.yml'), READ_ONLY);
    await symlink('..2024_01_01_00_01_00.000000002', join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    // Only the directory watch can see this: config.yml itself and the old target were not touched.
    const [loaded] = await changed;
    assert.equal(loaded.config.storage.maintenance.readonly.enabled, true);
    await rm(join(dir, '..2024_01_01_00_00_00.000000001'), { recursive: true });
  });

  test('SIGHUP reloads', async () => {
    const file = join(dir, 'config.yml');
    await writeFile(file, VALID);
    const listenersBefore = process.listenerCount('SIGHUP');
    // File watching off, so only the signal can trigger the reload.
    const watcher = await start(file, { watch: false, sighup: true });
    // Sending SIGHUP to ourselves is only safe while a listener is installed (the default action terminates).
    assert.equal(process.listenerCount('SIGHUP'), listenersBefore + 1);

    await writeFile(file, READ_ONLY);
    const changed = next(watcher, 'change');
    process.kill(process.pid, 'SIGHUP');
    assert.equal((await changed)[0].config.storage.maintenance.readonly.enabled, true);

    await watcher.close();
    assert.equal(process.listenerCount('SIGHUP'), listenersBefore);
  });

  test('concurrent reloads share one follow-up run and emit one change', async () => {
    const file = join(dir, 'config.yml');
    await writeFile(file, VALID);
    const watcher = await start(file, { watch: false, sighup: false });
    let changes = 0;
    watcher.on('change', () => changes++);
    await writeFile(file, READ_ONLY);
    const results = await Promise.all([watcher.reload(), watcher.reload(), watcher.reload({ force: true })]);
    assert.equal(results[0]?.config.storage.maintenance.readonly.enabled, true);
    assert.deepEqual(results.slice(1), [undefined, undefined]);
    assert.equal(changes, 1);
  });

  test('without an initial config the first load is the baseline, not a change', async () => {
    const file = join(dir, 'config.yml');
    await writeFile(file, VALID);
    const watcher = new ConfigWatcher(file, { env: {}, debounceMs: 20, sighup: false });
    watchers.push(watcher);
    let changes = 0;
    watcher.on('change', () => changes++);
    await watcher.ready;
    assert.equal(watcher.current?.config.storage.maintenance.readonly.enabled, false);
    // Rewriting identical content is not a change either.
    await writeFile(file, VALID);
    assert.equal(await watcher.reload({ force: true }), undefined);
    assert.equal(changes, 0);
  });

  test('close stops watching', async () => {
    const file = join(dir, 'config.yml');
    await writeFile(file, VALID);
    const watcher = await start(file, { sighup: false });
    await watcher.close();
    watcher.on('change', () => assert.fail('closed watcher emitted change'));
    await writeFile(file, READ_ONLY);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(await watcher.reload(), undefined);
  });
});
