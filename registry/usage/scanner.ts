// Runs the usage scan every `intervalMs` (`berth.usage.interval`) and keeps the last result for the API and
// the metrics. The first scan starts when the registry starts listening; each next one `intervalMs` after the
// previous one ended, so scans never overlap and a slow store is not scanned back to back. Scans only read,
// so they go on in read-only mode. A failed scan is logged and the previous result stays served.
import type { Logger } from 'pino';
import type { StorageDriver } from '../storage/driver.ts';
import type { UsageMetrics } from './metrics.ts';
import { scanUsage, type UsageSnapshot } from './scan.ts';

export interface UsageScannerOptions {
  driver: StorageDriver;
  intervalMs: number;
  metrics: UsageMetrics;
  logger: Logger;
  concurrency?: number;
}

export class UsageScanner {
  readonly intervalMs: number;
  private readonly options: UsageScannerOptions;
  private snapshot: UsageSnapshot | undefined;
  private running: Promise<UsageSnapshot> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Aborted by stop(): a scan of a large store must not hold up shutdown. */
  private stopping = new AbortController();

  constructor(options: UsageScannerOptions) {
    this.options = options;
    this.intervalMs = options.intervalMs;
  }

  /** The last finished scan, or undefined before the first one finished. */
  latest(): UsageSnapshot | undefined {
    return this.snapshot;
  }

  /** Scans now (or joins the scan in progress) and serves its result from then on. */
  scanNow(): Promise<UsageSnapshot> {
    this.running ??= this.scan().finally(() => (this.running = undefined));
    return this.running;
  }

  start(): void {
    this.stopped = false;
    this.stopping = new AbortController();
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.stopping.abort(new Error('the registry is stopping'));
    await this.running?.catch(() => undefined);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.scanNow().then(
        () => this.schedule(this.intervalMs),
        (err: unknown) => {
          if (this.stopped) return;
          this.options.logger.error({ err }, 'usage scan failed; the previous result stays served');
          this.schedule(this.intervalMs);
        },
      );
    }, delayMs);
    // A pending scan must not keep the process alive.
    this.timer.unref();
  }

  private async scan(): Promise<UsageSnapshot> {
    const { driver, concurrency, metrics, logger } = this.options;
    const snapshot = await scanUsage(driver, {
      signal: this.stopping.signal,
      ...(concurrency !== undefined ? { concurrency } : {}),
    });
    this.snapshot = snapshot;
    metrics.record(snapshot);
    logger.info({ totalBytes: snapshot.totalBytes, ...snapshot.cost }, 'usage scan finished');
    return snapshot;
  }
}
