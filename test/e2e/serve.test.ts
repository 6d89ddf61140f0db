// `berth-registry serve` as a real process: config validation at start-up, REGISTRY_* overrides, live reload of
// read-only mode without a restart, and the heartbeat record it keeps in storage.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { dump, load } from 'js-yaml';
import { startBerth } from '../harness/berth.ts';
import type { RunningRegistry } from '../harness/registry.ts';
import { repoRoot, requireTool } from '../harness/tools.ts';
import { makeTempDir, removeTempDir } from '../harness/tmp.ts';
import { waitFor } from '../harness/wait.ts';
import { pushImage, putManifest } from '../registry/client.ts';

const run = promisify(execFile);

interface Maintenance {
  readOnly: boolean;
  configRevision: string;
}

async function maintenance(url: string): Promise<Maintenance> {
  return (await (await fetch(`${url}/berth/v1/maintenance`)).json()) as Maintenance;
}

async function editConfig(path: string, edit: (config: Record<string, unknown>) => void): Promise<void> {
  const config = load(await readFile(path, 'utf8')) as Record<string, unknown>;
  edit(config);
  await writeFile(path, dump(config));
}

function setReadOnly(config: Record<string, unknown>, enabled: boolean): void {
  const storage = config['storage'] as Record<string, unknown>;
  storage['maintenance'] = { readonly: { enabled } };
}

describe('berth-registry serve', () => {
  let registry: RunningRegistry;
  before(async () => {
    registry = await startBerth();
  });
  after(() => registry.stop());

  it('switches to read-only and back when its config file changes, without restarting', async () => {
    const image = await pushImage(registry.url, 'serve/app', 'v1', [Buffer.from('layer')]);
    const before = await maintenance(registry.url);
    assert.equal(before.readOnly, false);
    const pid = registry.process.pid;

    await editConfig(registry.configPath, (c) => setReadOnly(c, true));
    const readOnly = await waitFor('read-only mode', async () => {
      const state = await maintenance(registry.url);
      return state.readOnly ? state : undefined;
    });
    assert.notEqual(readOnly.configRevision, before.configRevision, 'the revision follows the config');
    const refused = await putManifest(registry.url, 'serve/app', 'v2', image.manifest);
    assert.equal(refused.status, 405);
    assert.equal(refused.headers.get('allow'), 'GET, HEAD');
    assert.equal((await fetch(`${registry.url}/v2/serve/app/manifests/v1`)).status, 200, 'reads go on');

    await editConfig(registry.configPath, (c) => setReadOnly(c, false));
    await waitFor('read-write mode', async () =>
      (await maintenance(registry.url)).readOnly ? undefined : true,
    );
    assert.equal((await putManifest(registry.url, 'serve/app', 'v2', image.manifest)).status, 201);
    assert.equal(registry.process.pid, pid, 'same process');
  });

  it('keeps the running config when an edit is invalid', async () => {
    const before = await maintenance(registry.url);
    await editConfig(registry.configPath, (c) => {
      c['storage'] = { ...(c['storage'] as object), maintenance: { readonly: { enabeld: true } } };
    });
    await waitFor('the rejection to be logged', async () =>
      registry.output().includes('enabeld') ? true : undefined,
    );
    const after = await maintenance(registry.url);
    assert.deepEqual(after, before);
    await editConfig(registry.configPath, (c) => setReadOnly(c, false));
  });

  it('records a heartbeat with its mode in storage', async () => {
    const dir = join(registry.root, 'berth/instances');
    const [file] = await readdir(dir);
    assert.ok(file, 'a heartbeat record exists');
    const record = JSON.parse(await readFile(join(dir, file), 'utf8')) as { readOnly: boolean; pid: number };
    assert.equal(record.pid, registry.process.pid);
    assert.equal(record.readOnly, false);
  });
});

describe('berth-registry serve start-up', () => {
  let dir: string;
  before(async () => {
    dir = await makeTempDir('serve-config');
  });
  after(() => removeTempDir(dir));

  async function serveFails(
    config: string,
    env: NodeJS.ProcessEnv = {},
  ): Promise<{ code: number; stderr: string }> {
    const path = join(dir, `config-${Math.random().toString(36).slice(2)}.yml`);
    await writeFile(path, config);
    try {
      await run(requireTool('node'), ['registry/cli.ts', 'serve', path], {
        cwd: repoRoot,
        env: { ...process.env, ...env },
        timeout: 20_000,
      });
    } catch (err) {
      const e = err as { code: number; stderr: string };
      return { code: e.code, stderr: e.stderr };
    }
    throw new Error('serve started with a bad config');
  }

  it('refuses an unknown key, naming it', async () => {
    const { code, stderr } = await serveFails(
      `version: 0.1\nstorage:\n  inmemory: {}\n  delete:\n    enabeld: true\nhttp:\n  addr: 127.0.0.1:0\n`,
    );
    assert.equal(code, 1);
    assert.match(stderr, /storage\.delete\.enabeld/);
  });

  it('refuses a value of the wrong type, naming the key', async () => {
    const { stderr } = await serveFails(`version: 0.1\nstorage:\n  inmemory: {}\nhttp:\n  addr: 5000\n`);
    assert.match(stderr, /http\.addr/);
  });

  it('refuses a bad REGISTRY_* override, naming the key', async () => {
    const { stderr } = await serveFails(
      `version: 0.1\nstorage:\n  inmemory: {}\nhttp:\n  addr: 127.0.0.1:0\n`,
      {
        REGISTRY_STORAGE_DELETE_ENABLED: 'maybe',
      },
    );
    assert.match(stderr, /storage\.delete\.enabled/);
  });

  it('applies REGISTRY_* overrides', async () => {
    const registry = await startBerth({ env: { REGISTRY_STORAGE_DELETE_ENABLED: 'false' } });
    try {
      const image = await pushImage(registry.url, 'env/app', 'v1', [Buffer.from('x')]);
      const res = await fetch(`${registry.url}/v2/env/app/manifests/${image.digest}`, { method: 'DELETE' });
      assert.equal(res.status, 405);
    } finally {
      await registry.stop();
    }
  });

  it('removes its heartbeat on a graceful stop', async () => {
    const root = join(dir, 'hb-root');
    const registry = await startBerth({ root });
    await registry.stop();
    const instances = join(root, 'berth/instances');
    assert.deepEqual(existsSync(instances) ? await readdir(instances) : [], []);
  });
});
