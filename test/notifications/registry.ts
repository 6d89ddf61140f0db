// An in-process Berth built from a config with `notifications.endpoints`, listening on a loopback port over a
// temporary filesystem root: the config → dispatcher → handlers wiring is the one `berth-registry serve` uses.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { pino, type Logger } from 'pino';
import { parseConfig } from '../../registry/config/load.ts';
import { buildRegistry, type Registry } from '../../registry/serve.ts';
import { freePort } from '../harness/ports.ts';
import { metricSample } from '../harness/prometheus.ts';
import { waitFor } from '../harness/wait.ts';

export interface NotifyingRegistry {
  url: string;
  registry: Registry;
  /** The value of a sample on /metrics, e.g. `registry_notifications_sent_total{endpoint="a"}`; 0 when absent. */
  metric(sample: string): Promise<number>;
  close(): Promise<void>;
}

export async function startNotifyingRegistry(
  endpoints: Record<string, unknown>[],
  events: { includereferences?: boolean } = {},
  logger: Logger = pino({ level: process.env['BERTH_TEST_LOG'] ?? 'silent' }),
  /** More of the config, e.g. `auth`. */
  more: Record<string, unknown> = {},
): Promise<NotifyingRegistry> {
  const root = await mkdtemp(join(tmpdir(), 'berth-notify-'));
  const port = await freePort();
  const text = dump({
    version: 0.1,
    storage: { filesystem: { rootdirectory: root }, delete: { enabled: true } },
    http: { addr: `127.0.0.1:${port}` },
    notifications: { events, endpoints },
    ...more,
  });
  const { config, revision } = parseConfig(text, {});
  const registry = await buildRegistry({ config, revision }, { logger });
  const url = await registry.listen();
  return {
    url,
    registry,
    async metric(sample) {
      return metricSample(await (await fetch(`${url}/metrics`)).text(), sample) ?? 0;
    },
    async close() {
      await registry.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Waits until `count()` reaches `n` (deliveries are asynchronous by design). */
export async function waitForCount(
  what: string,
  count: () => number | Promise<number>,
  n: number,
): Promise<void> {
  await waitFor(`${what} to reach ${n}`, async () => ((await count()) >= n ? true : undefined), {
    timeoutMs: 20_000,
  });
}
