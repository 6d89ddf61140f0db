// `/debug/health` as Distribution serves it: `{}` with 200 when healthy, or 503 with one entry per failing check.
// The storage check lists the root; its result is cached briefly so probes cannot hammer the backend.
import { isPathNotFound, type StorageDriver } from '../storage/driver.ts';

export class StorageHealthCheck {
  readonly driver: StorageDriver;
  readonly cacheMs: number;
  private last: { at: number; error: string | null } | null = null;

  constructor(driver: StorageDriver, cacheMs = 1000) {
    this.driver = driver;
    this.cacheMs = cacheMs;
  }

  async check(): Promise<Record<string, string>> {
    const now = Date.now();
    if (!this.last || now - this.last.at > this.cacheMs) {
      let error: string | null = null;
      try {
        await this.driver.stat('/');
      } catch (err) {
        // A fresh, empty root is healthy: nothing has been written yet.
        if (!isPathNotFound(err)) error = (err as Error).message;
      }
      this.last = { at: now, error };
    }
    return this.last.error === null ? {} : { [`storagedriver_${this.driver.name}`]: this.last.error };
  }
}
