// Every running registry process records its maintenance state in storage, so tools that must not run
// against a live read-write registry (garbage collection) can check every replica, on every driver, without
// knowing where the replicas run. The record sits outside Distribution's `/docker` tree.
//
//   /berth/instances/<instance id>  →  {"instance","readOnly","revision","updatedAt","pid","hostname"}
//
// A record is fresh while updatedAt is younger than `staleAfterMs`; a cleanly stopped process removes its own.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import { isPathNotFound, type StorageDriver } from './storage/driver.ts';

export const instancesRoot = '/berth/instances';
export const heartbeatIntervalMs = 10_000;
export const staleAfterMs = 3 * heartbeatIntervalMs;

export const heartbeatSchema = z.object({
  instance: z.string(),
  readOnly: z.boolean(),
  revision: z.string(),
  updatedAt: z.iso.datetime(),
  pid: z.number().int(),
  hostname: z.string(),
});
export type Heartbeat = z.infer<typeof heartbeatSchema>;

export class HeartbeatWriter {
  readonly instance = randomUUID();
  private readonly driver: StorageDriver;
  private readonly state: () => { readOnly: boolean; revision: string };
  private readonly logger: Logger;
  private timer: NodeJS.Timeout | undefined;

  constructor(driver: StorageDriver, state: () => { readOnly: boolean; revision: string }, logger: Logger) {
    this.driver = driver;
    this.state = state;
    this.logger = logger;
  }

  get path(): string {
    return `${instancesRoot}/${this.instance}`;
  }

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => {
      this.beat().catch((err: unknown) => this.logger.warn({ err }, 'could not record the heartbeat'));
    }, heartbeatIntervalMs);
    this.timer.unref();
  }

  /** Records the current state now (also called on a mode change so checks see it at once). */
  async beat(): Promise<void> {
    const { readOnly, revision } = this.state();
    const record: Heartbeat = {
      instance: this.instance,
      readOnly,
      revision,
      updatedAt: new Date().toISOString(),
      pid: process.pid,
      hostname: hostname(),
    };
    await this.driver.putContent(this.path, Buffer.from(JSON.stringify(record)));
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    try {
      await this.driver.delete(this.path);
    } catch (err) {
      if (!isPathNotFound(err)) throw err;
    }
  }
}

/** Every fresh heartbeat in storage; unreadable or stale records are ignored. */
export async function liveInstances(driver: StorageDriver, now = Date.now()): Promise<Heartbeat[]> {
  let paths: string[];
  try {
    paths = await driver.list(instancesRoot);
  } catch (err) {
    if (isPathNotFound(err)) return [];
    throw err;
  }
  const result: Heartbeat[] = [];
  for (const path of paths) {
    try {
      const parsed = heartbeatSchema.safeParse(JSON.parse((await driver.getContent(path)).toString('utf8')));
      if (parsed.success && now - Date.parse(parsed.data.updatedAt) < staleAfterMs) result.push(parsed.data);
    } catch (err) {
      if (!isPathNotFound(err) && !(err instanceof SyntaxError)) throw err;
    }
  }
  return result;
}
