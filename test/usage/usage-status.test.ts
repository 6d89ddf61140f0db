// What the usage API answers when there is no scan result to serve, and that `berth.usage.interval` drives the
// scans of a registry built from its config: the first scan starts with the registry, later ones pick up
// pushes; `0` turns scanning off.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { registryConfigSchema } from '../../registry/config/schema.ts';
import { buildRegistry, type Registry } from '../../registry/serve.ts';
import { errorBody } from '../registry/auth-client.ts';
import { pushImage } from '../registry/client.ts';
import { startTestRegistry } from '../registry/server.ts';
import { layer } from './usage-scenario.ts';

async function unavailable(res: Response): Promise<{ retryAfter: string | null; reason: unknown }> {
  assert.equal(res.status, 503);
  const body = await errorBody(res);
  assert.equal(body.errors[0]?.code, 'UNAVAILABLE');
  return { retryAfter: res.headers.get('retry-after'), reason: body.errors[0]?.message };
}

describe('storage usage before and between scans', () => {
  it('answers 503 with Retry-After until the first scan finished', async () => {
    const registry = await startTestRegistry({ usage: { intervalMs: 60_000 } });
    try {
      await pushImage(registry.url, 'team/a', 'v1', [layer(100, 'a')]);
      for (const path of ['/berth/v1/usage', '/berth/v1/repositories/team/a/usage']) {
        const { retryAfter, reason } = await unavailable(await fetch(`${registry.url}${path}`));
        assert.equal(retryAfter, '10', path);
        assert.match(String(reason), /first storage usage scan has not finished/);
      }
      await registry.usage?.scanNow();
      assert.equal((await fetch(`${registry.url}/berth/v1/repositories/team/a/usage`)).status, 200);

      // Pushed after the scan: known to exist, not yet measured; retry when the next scan should be done.
      await pushImage(registry.url, 'team/new', 'v1', [layer(100, 'new')]);
      const { retryAfter, reason } = await unavailable(
        await fetch(`${registry.url}/berth/v1/repositories/team/new/usage`),
      );
      const seconds = Number(retryAfter);
      assert.ok(seconds >= 59 && seconds <= 61, `Retry-After ${String(retryAfter)}`);
      assert.match(String(reason), /created after the last storage usage scan/);
      const unknown = await fetch(`${registry.url}/berth/v1/repositories/team/none/usage`);
      assert.equal(unknown.status, 404);
      await unknown.body?.cancel();
    } finally {
      await registry.close();
    }
  });

  it('answers 503 without Retry-After when scanning is off', async () => {
    const registry = await startTestRegistry();
    try {
      const { retryAfter, reason } = await unavailable(await fetch(`${registry.url}/berth/v1/usage`));
      assert.equal(retryAfter, null);
      assert.match(String(reason), /berth\.usage\.interval is 0/);
    } finally {
      await registry.close();
    }
  });
});

describe('berth.usage.interval', () => {
  const roots: string[] = [];
  let registry: Registry | undefined;
  after(async () => {
    await registry?.close();
    for (const root of roots) await rm(root, { recursive: true, force: true });
  });

  const build = async (interval: string | undefined): Promise<string> => {
    const root = await mkdtemp(join(tmpdir(), 'berth-usage-config-'));
    roots.push(root);
    const config = registryConfigSchema.parse({
      version: '0.1',
      storage: { filesystem: { rootdirectory: root } },
      http: { addr: '127.0.0.1:0' },
      ...(interval !== undefined ? { berth: { usage: { interval } } } : {}),
    });
    registry = await buildRegistry({ config, revision: 'test' }, { logger: pino({ level: 'silent' }) });
    return registry.listen();
  };

  it('defaults to 10m', () => {
    const config = registryConfigSchema.parse({ version: '0.1', storage: { inmemory: {} } });
    assert.equal(config.berth.usage.interval, '10m');
  });

  it('scans when the registry starts and again every interval', async () => {
    const url = await build('300ms');
    await pushImage(url, 'team/a', 'v1', [layer(100, 'a')]);
    const seen = async (name: string): Promise<boolean> => {
      for (let i = 0; i < 100; i++) {
        const res = await fetch(`${url}/berth/v1/repositories/${name}/usage`);
        await res.body?.cancel();
        if (res.status === 200) return true;
        await sleep(50);
      }
      return false;
    };
    assert.ok(await seen('team/a'), 'measured by a scan after the push');
    await pushImage(url, 'team/b', 'v1', [layer(100, 'b')]);
    assert.ok(await seen('team/b'), 'a later scan measured the next push');
    await registry?.close();
    registry = undefined;
  });

  it('0 turns scanning off', async () => {
    const url = await build('0');
    const res = await fetch(`${url}/berth/v1/usage`);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), null);
    await res.body?.cancel();
  });
});
