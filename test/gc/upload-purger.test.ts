// Upload purging with Distribution's semantics: upload directories whose `startedat` is older than the age
// are deleted; undated ones are kept; dry run deletes nothing; nothing happens while read-only.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { removeTempDir } from '../harness/tmp.ts';
import { startTestRegistry, type TestRegistry } from '../registry/server.ts';
import { FilesystemDriver } from '../../registry/storage/filesystem.ts';
import * as paths from '../../registry/storage/paths.ts';
import { parseConfig } from '../../registry/config/load.ts';
import { parseStartedAt, UploadPurger, uploadPurgingSettings } from '../../registry/gc/upload-purger.ts';
import { fastTempDir } from './corpus.ts';

const hour = 3_600_000;
const week = 168 * hour;
const silent = pino({ level: 'silent' });

/** Go's time.RFC3339 as Distribution writes `startedat` (no fractional seconds). */
function goTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

describe('upload purging', { timeout: 60_000 }, () => {
  let work: string;
  let registry: TestRegistry;
  let driver: FilesystemDriver;
  const uploads: Record<string, { repo: string; id: string }> = {};

  async function startUpload(repo: string): Promise<string> {
    const res = await fetch(`${registry.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    assert.equal(res.status, 202);
    await res.arrayBuffer();
    const location = res.headers.get('location') ?? '';
    const id = location.split('/').pop()?.split('?')[0] ?? '';
    const patch = await fetch(`${registry.url}${new URL(location, registry.url).pathname}`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: Buffer.from('partial data'),
    });
    assert.equal(patch.status, 202);
    await patch.arrayBuffer();
    return id;
  }

  function dir(name: string): string {
    const u = uploads[name];
    assert.ok(u);
    return path.join(driver.rootDirectory, paths.uploadDir(u.repo, u.id));
  }

  async function uploadStatus(name: string): Promise<number> {
    const u = uploads[name];
    assert.ok(u);
    const res = await fetch(`${registry.url}/v2/${u.repo}/blobs/uploads/${u.id}`);
    await res.arrayBuffer();
    return res.status;
  }

  before(async () => {
    work = await fastTempDir('purge');
    registry = await startTestRegistry({ root: path.join(work, 'root') });
    driver = new FilesystemDriver({ rootDirectory: registry.root });
  });

  beforeEach(async () => {
    // A fresh set of uploads for every test.
    for (const name of Object.keys(uploads)) {
      const u = uploads[name];
      if (u) await driver.delete(paths.uploadDir(u.repo, u.id)).catch(() => undefined);
    }
    const now = Date.now();
    const make = async (name: string, repo: string, startedAt: string | null): Promise<void> => {
      const id = await startUpload(repo);
      uploads[name] = { repo, id };
      if (startedAt === null) await driver.delete(paths.uploadStartedAtPath(repo, id));
      else await driver.putContent(paths.uploadStartedAtPath(repo, id), Buffer.from(startedAt));
    };
    await make('old', 'app', goTime(now - week - hour)); // Distribution's format
    await make('oldMillis', 'app', new Date(now - 2 * week).toISOString()); // Berth's format
    await make('oldNested', 'team/sub/app', goTime(now - week - hour));
    await make('fresh', 'app', new Date(now - hour).toISOString());
    await make('undated', 'app', null);
    await make('garbled', 'app', 'yesterday');
    // Not an upload id: never touched.
    const stray = paths.uploadStartedAtPath('app', 'not-a-uuid');
    await driver.putContent(stray, Buffer.from(goTime(now - 2 * week)));
  });

  after(async () => {
    await registry.close();
    await removeTempDir(work);
  });

  const purgeable = ['old', 'oldMillis', 'oldNested'];
  const kept = ['fresh', 'undated', 'garbled'];

  function purger(
    options: {
      dryRun?: boolean;
      isReadOnly?: () => boolean;
      intervalMs?: number;
      initialDelayMs?: number;
    } = {},
  ): UploadPurger {
    return new UploadPurger({
      driver,
      ageMs: week,
      intervalMs: options.intervalMs ?? 24 * hour,
      dryRun: options.dryRun ?? false,
      isReadOnly: options.isReadOnly ?? (() => false),
      logger: silent,
      ...(options.initialDelayMs === undefined ? {} : { initialDelayMs: options.initialDelayMs }),
    });
  }

  it('deletes uploads started before now - age, keeps fresh and undated ones', async () => {
    const result = await purger().runOnce();
    assert.deepEqual(
      result.purged.sort(),
      purgeable.map((n) => paths.uploadDir(uploads[n]?.repo ?? '', uploads[n]?.id ?? '')).sort(),
    );
    assert.equal(result.scanned, 6);
    assert.equal(result.errors, 1, 'the garbled startedat is reported');
    for (const name of purgeable) {
      assert.ok(!existsSync(dir(name)), name);
      assert.equal(await uploadStatus(name), 404, `${name} is unknown to the API afterwards`);
    }
    for (const name of kept) assert.ok(existsSync(dir(name)), name);
    assert.equal(await uploadStatus('fresh'), 204);
    assert.ok(existsSync(path.join(driver.rootDirectory, paths.uploadDir('app', 'not-a-uuid'))));
  });

  it('dry run reports the same uploads and deletes nothing', async () => {
    const result = await purger({ dryRun: true }).runOnce();
    assert.equal(result.purged.length, purgeable.length);
    for (const name of [...purgeable, ...kept]) assert.ok(existsSync(dir(name)), name);
  });

  it('does nothing while the registry is read-only', async () => {
    const result = await purger({ isReadOnly: () => true }).runOnce();
    assert.equal(result.skipped, 'read-only');
    assert.deepEqual(result.purged, []);
    for (const name of purgeable) assert.ok(existsSync(dir(name)), name);
  });

  it('stops deleting when the registry turns read-only during a run', async () => {
    let calls = 0;
    const result = await purger({ isReadOnly: () => calls++ > 0 }).runOnce();
    assert.equal(result.skipped, 'read-only');
    assert.deepEqual(result.purged, []);
    for (const name of purgeable) assert.ok(existsSync(dir(name)), name);
  });

  it('concurrent runOnce calls share one pass', async () => {
    const p = purger();
    const [a, b] = await Promise.all([p.runOnce(), p.runOnce()]);
    assert.equal(a, b);
  });

  it('start() runs after the initial delay and stop() ends it', async () => {
    const p = purger({ initialDelayMs: 0, intervalMs: 1000 });
    p.start();
    const deadline = Date.now() + 10_000;
    while (purgeable.some((n) => existsSync(dir(n))) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await p.stop();
    for (const name of purgeable) assert.ok(!existsSync(dir(name)), name);
    for (const name of kept) assert.ok(existsSync(dir(name)), name);
  });

  it('by default waits a random 0-59 minutes before the first run (Distribution jitter)', async () => {
    const logs: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(line) });
    const p = new UploadPurger({
      driver,
      ageMs: week,
      intervalMs: 24 * hour,
      dryRun: false,
      isReadOnly: () => false,
      logger,
      random: () => 0.999,
    });
    p.start();
    await new Promise((r) => setTimeout(r, 100));
    await p.stop();
    for (const name of purgeable) assert.ok(existsSync(dir(name)), name);
    const scheduled = logs
      .map((l) => JSON.parse(l) as { msg: string; delayMs?: number })
      .find((l) => l.msg === 'upload purging scheduled');
    assert.equal(scheduled?.delayMs, 59 * 60_000);
  });

  it('reads its settings from the config with Distribution defaults (168h, 24h)', () => {
    const { config } = parseConfig('version: 0.1\nstorage:\n  inmemory:\n');
    assert.deepEqual(uploadPurgingSettings(config.storage.maintenance.uploadpurging), {
      enabled: true,
      ageMs: week,
      intervalMs: 24 * hour,
      dryRun: false,
    });
    assert.equal(parseStartedAt('2024-01-02T03:04:05Z'), Date.UTC(2024, 0, 2, 3, 4, 5));
    assert.equal(parseStartedAt('2024-01-02T03:04:05.123+02:00'), Date.UTC(2024, 0, 2, 1, 4, 5, 123));
    assert.equal(parseStartedAt('2024-01-02'), null);
    assert.equal(parseStartedAt(randomUUID()), null);
  });
});
