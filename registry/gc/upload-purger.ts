// Upload purging (`storage.maintenance.uploadpurging`), with CNCF Distribution's semantics:
//   - an upload is a directory `repositories/<name>/_uploads/<uuid>`; its age comes from its `startedat`
//     file (RFC 3339). An upload whose `startedat` is missing or unreadable is never purged (it cannot be
//     dated reliably); one started before now - age is deleted with everything in it;
//   - defaults age 168h, interval 24h; the first run comes after a random delay of up to an hour (so
//     replicas started together do not purge together), then one run every interval;
//   - dryrun logs what would be deleted and deletes nothing.
// Berth adds: nothing is purged while the registry is read-only (checked at the start of a run and before
// each deletion, so a switch to read-only stops a run in progress), and runs never overlap.
import type { Logger } from 'pino';
import { isPathNotFound, type StorageDriver } from '../storage/driver.ts';
import * as paths from '../storage/paths.ts';
import { deleteIfExists } from '../store/links.ts';
import { parseDuration } from '../config/schema.ts';
import { Limiter, forEachConcurrent } from './limit.ts';
import { listDir, walkRepositories } from './walk.ts';

export interface UploadPurgerOptions {
  driver: StorageDriver;
  /** Uploads started longer ago than this are purged (ms). */
  ageMs: number;
  /** Time between runs (ms); at least one second. */
  intervalMs: number;
  dryRun: boolean;
  /** The registry's current mode; nothing is purged while it returns true. */
  isReadOnly: () => boolean;
  logger: Logger;
  /** Delay before the first run (ms). Default: random, 0 to 59 minutes, as Distribution does. */
  initialDelayMs?: number;
  /** Storage operations in flight at once (default 4: this runs beside live traffic). */
  concurrency?: number;
  /** Clock and random source, for tests. */
  now?: () => number;
  random?: () => number;
}

export interface PurgeResult {
  /** Upload directories looked at. */
  scanned: number;
  /** Upload directories deleted (or, in a dry run, that would be), as storage paths. */
  purged: string[];
  /** Failures (unreadable `startedat`, failed deletes); logged, never thrown. */
  errors: number;
  /** Set when the run did nothing because the registry is (or turned) read-only. */
  skipped?: 'read-only';
}

/** The purger's settings from the parsed config section. */
export function uploadPurgingSettings(section: {
  enabled: boolean;
  age: string;
  interval: string;
  dryrun: boolean;
}): { enabled: boolean; ageMs: number; intervalMs: number; dryRun: boolean } {
  return {
    enabled: section.enabled,
    ageMs: parseDuration(section.age),
    intervalMs: parseDuration(section.interval),
    dryRun: section.dryrun,
  };
}

const uuidPattern = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** setTimeout's longest delay; longer waits are chained. */
const maxTimerMs = 2 ** 31 - 1;
const minIntervalMs = 1000;

/** Go's time.Parse(time.RFC3339, ...) accepts these (fractional seconds optional, offset or Z required). */
const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export function parseStartedAt(text: string): number | null {
  const value = text.trim();
  if (!rfc3339.test(value)) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

export class UploadPurger {
  private readonly options: UploadPurgerOptions;
  private readonly logger: Logger;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<PurgeResult> | undefined;
  private stopped = true;
  /** Set by stop() so a run in progress stops deleting. */
  private aborted = false;

  constructor(options: UploadPurgerOptions) {
    this.options = options;
    this.logger = options.logger.child({ component: 'upload-purger' });
  }

  /** Schedules the first run and the ones after it. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const delay =
      this.options.initialDelayMs ?? Math.floor((this.options.random ?? Math.random)() * 60) * 60_000;
    this.logger.info(
      {
        delayMs: delay,
        ageMs: this.options.ageMs,
        intervalMs: this.options.intervalMs,
        dryRun: this.options.dryRun,
      },
      'upload purging scheduled',
    );
    this.schedule(delay);
  }

  /** Cancels future runs and waits for a run in progress (which stops deleting at once). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.aborted = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** One purge pass now (joins the pass in progress if there is one). */
  runOnce(): Promise<PurgeResult> {
    this.running ??= this.purge().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    const step = Math.min(Math.max(0, delayMs), maxTimerMs);
    this.timer = setTimeout(() => {
      if (delayMs > step) {
        this.schedule(delayMs - step);
        return;
      }
      this.runOnce()
        .catch((err: unknown) => this.logger.error({ err }, 'upload purging failed'))
        .finally(() => this.schedule(Math.max(minIntervalMs, this.options.intervalMs)));
    }, step);
    this.timer.unref();
  }

  /** Why deleting must stop now, if it must. */
  private haltReason(): 'read-only' | 'stopped' | null {
    if (this.aborted) return 'stopped';
    return this.options.isReadOnly() ? 'read-only' : null;
  }

  private async purge(): Promise<PurgeResult> {
    const { driver, ageMs, dryRun } = this.options;
    const result: PurgeResult = { scanned: 0, purged: [], errors: 0 };
    this.aborted = false;
    let halted: 'read-only' | 'stopped' | null = null;
    if (this.options.isReadOnly()) {
      this.logger.info('registry is read-only: upload purging skipped');
      return { ...result, skipped: 'read-only' };
    }
    const concurrency = this.options.concurrency ?? 4;
    const io = new Limiter(concurrency);
    const cutoff = (this.options.now ?? Date.now)() - ageMs;
    this.logger.info({ olderThan: new Date(cutoff).toISOString(), dryRun }, 'upload purging started');

    await walkRepositories(driver, io, concurrency, async (repo) => {
      if (!repo.hasUploads || halted) return;
      const ids = (await listDir(driver, io, paths.uploadsRoot(repo.name))).filter((id) =>
        uuidPattern.test(id),
      );
      await forEachConcurrent(ids, concurrency, async (id) => {
        if (halted) return;
        result.scanned++;
        const dir = paths.uploadDir(repo.name, id);
        let startedAt: number | null;
        try {
          const text = await io.run(() => driver.getContent(paths.uploadStartedAtPath(repo.name, id)));
          startedAt = parseStartedAt(text.toString('utf8'));
          if (startedAt === null) {
            result.errors++;
            this.logger.warn({ upload: dir }, 'unreadable startedat: upload kept');
          }
        } catch (err) {
          if (!isPathNotFound(err)) throw err;
          startedAt = null; // no date: never purged, as in Distribution
        }
        if (startedAt === null || startedAt >= cutoff) return;
        halted ??= this.haltReason();
        if (halted) return;
        try {
          if (!dryRun) await io.run(() => deleteIfExists(driver, dir));
          result.purged.push(dir);
          this.logger.info(
            { upload: dir, startedAt: new Date(startedAt).toISOString(), dryRun },
            dryRun ? 'upload would be purged (dry run)' : 'upload purged',
          );
        } catch (err) {
          result.errors++;
          this.logger.warn({ err, upload: dir }, 'could not purge upload');
        }
      });
    });
    if (halted === 'read-only') {
      result.skipped = 'read-only';
      this.logger.info('registry turned read-only: upload purging stopped');
    } else if (halted === 'stopped') {
      this.logger.info('upload purger stopped during a run');
    }
    this.logger.info(
      { scanned: result.scanned, purged: result.purged.length, errors: result.errors, dryRun },
      'upload purging finished',
    );
    return result;
  }
}
