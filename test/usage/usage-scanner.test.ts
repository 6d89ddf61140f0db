// The scanner's life cycle: a failed scan keeps the previous result served (and is logged), and stopping the
// registry stops a scan in progress instead of waiting for a walk of the whole store.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { StorageDriver } from '../../registry/storage/driver.ts';
import { FilesystemDriver } from '../../registry/storage/filesystem.ts';
import { createUsageMetrics } from '../../registry/usage/metrics.ts';
import { UsageScanner } from '../../registry/usage/scanner.ts';
import { pushImage } from '../registry/client.ts';
import { startTestRegistry } from '../registry/server.ts';
import { layer } from './usage-scenario.ts';

/** The driver with its `list` made slow or failing, as the test sets `mode`. */
function unreliable(driver: StorageDriver): {
  driver: StorageDriver;
  lists: () => number;
  set: (m: Mode) => void;
} {
  let mode: Mode = 'normal';
  let lists = 0;
  const wrapped = new Proxy(driver, {
    get(target, prop) {
      if (prop === 'list') {
        return async (path: string) => {
          lists++;
          if (mode === 'failing') throw new Error('storage unavailable');
          if (mode === 'slow') await sleep(100);
          return target.list(path);
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { driver: wrapped, lists: () => lists, set: (m) => (mode = m) };
}
type Mode = 'normal' | 'slow' | 'failing';

describe('usage scanner', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-usage-scanner-'));
    const registry = await startTestRegistry({ driver: new FilesystemDriver({ rootDirectory: root }) });
    for (let i = 0; i < 8; i++)
      await pushImage(registry.url, `team/r${String(i)}`, 'v1', [layer(100, `r${String(i)}`)]);
    await registry.close();
  });
  after(() => rm(root, { recursive: true, force: true }));

  const scannerOver = (driver: StorageDriver, logged: string[]) =>
    new UsageScanner({
      driver,
      intervalMs: 3_600_000,
      metrics: createUsageMetrics(new Registry()),
      logger: pino({ level: 'error' }, { write: (line: string) => void logged.push(line) }),
    });

  it('keeps serving the last result when a scan fails', async () => {
    const store = unreliable(new FilesystemDriver({ rootDirectory: root }));
    const logged: string[] = [];
    const scanner = scannerOver(store.driver, logged);
    const first = await scanner.scanNow();
    assert.equal(first.repositories.length, 8);
    store.set('failing');
    await assert.rejects(scanner.scanNow(), /storage unavailable/);
    assert.equal(scanner.latest(), first);

    // The periodic path logs the failure (and schedules the next scan) instead of throwing.
    scanner.start();
    await sleep(200);
    await scanner.stop();
    assert.equal(scanner.latest(), first);
    assert.match(logged.join('\n'), /usage scan failed; the previous result stays served/);
  });

  it('stops a scan in progress when the registry stops', async () => {
    const store = unreliable(new FilesystemDriver({ rootDirectory: root }));
    store.set('slow');
    const scanner = scannerOver(store.driver, []);
    scanner.start();
    await sleep(150);
    const started = Date.now();
    await scanner.stop();
    const stopMs = Date.now() - started;
    const listsAtStop = store.lists();
    await sleep(500);
    assert.equal(store.lists(), listsAtStop, 'nothing listed after stop');
    assert.equal(scanner.latest(), undefined, 'the cut scan is not served');
    // A whole scan lists 1 + 2 + 8 × 5 directories at 100 ms each, 4 at a time: over a second.
    assert.ok(stopMs < 500, `stop took ${String(stopMs)} ms`);
  });
});
