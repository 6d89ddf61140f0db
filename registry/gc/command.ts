// `berth-registry garbage-collect [--delete-untagged|-m] [--dry-run|-d] [--quiet|-q] [--force-live]
//  [--concurrency N] [--workers N] CONFIG`
//
// Output contract (the operator parses it):
//   - stdout: one line per thing deleted (or eligible, in a dry run) unless --quiet, and always, as the LAST
//     line, the JSON summary: {manifestsMarked, blobsMarked, manifestsDeleted, blobsDeleted, bytesFreed,
//     layerLinksDeleted, repositories, durationMs, dryRun}; on failure the same object (counts so far) plus
//     `error` and `errorCode`.
//   - stderr: progress lines every few seconds and error messages (progress off with --quiet).
//   - exit code: 0 done, 1 collection failed (storage error, unreadable manifest), 2 bad usage or config,
//     3 refused because a registry is live on this storage (see guard.ts for the rule).
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load.ts';
import type { RegistryConfig } from '../config/schema.ts';
import { createStorageDriver } from '../storage/factory.ts';
import type { StorageDriver } from '../storage/driver.ts';
import { GcError } from './errors.ts';
import { defaultConcurrency, garbageCollect } from './gc.ts';
import { assertNoLiveWriter, checkLiveRegistries } from './guard.ts';
import { localTasks } from './tasks.ts';
import { workerTasks } from './worker-tasks.ts';
import { integerOption, reportFailure, sizeThreadPool, type CommandIO } from '../maintenance-command.ts';
import { formatProgress, type GcDeletion, type GcSummary } from './summary.ts';

/** Threads doing the work by default on a filesystem, the main thread included. */
const maxDefaultThreads = 4;

export const garbageCollectUsage = `usage: berth-registry garbage-collect [options] CONFIG

Deletes blobs that no manifest references (and, with --delete-untagged, manifests that no tag points at
and nothing kept references) from the storage configured in CONFIG. Run it while every registry on that
storage is read-only (storage.maintenance.readonly.enabled: true) or stopped.

options:
  -m, --delete-untagged   also delete untagged manifests (children of kept indexes and referrers of kept
                          manifests are kept)
  -d, --dry-run           report what would be deleted, delete nothing
  -q, --quiet             no per-item lines and no progress; only the JSON summary (and errors)
      --force-live        skip the live-registry check (blobs pushed during the run may be lost)
      --concurrency N     storage operations in flight at once (default ${defaultConcurrency})
      --workers N         worker threads doing the storage work beside the main thread, which takes its share
                          too; 0 runs it all in the main thread (default on filesystem storage: one thread per
                          CPU up to ${maxDefaultThreads}, the main thread included; 0 on object storage)
  -h, --help              show this help

The last line of stdout is a JSON summary. Exit codes: 0 done, 1 failed, 2 bad usage or config,
3 refused: a registry is running read-write on this storage.
Note: only Berth registries record heartbeats; a CNCF Distribution registry on the same storage cannot be
detected, so make sure none runs read-write.
`;

interface ParsedArgs {
  configPath: string;
  deleteUntagged: boolean;
  dryRun: boolean;
  quiet: boolean;
  forceLive: boolean;
  concurrency: number;
  /** Undefined: the default for the storage driver. */
  workers: number | undefined;
}

/**
 * Worker threads pay off where the work is system calls on this machine (filesystem); object stores spend
 * their time waiting on the network, which one thread overlaps well. The main thread works too, so one
 * worker fewer than threads (each worker is a V8 isolate: ~17 MiB).
 */
function defaultWorkers(storage: RegistryConfig['storage']): number {
  return storage.filesystem ? Math.min(maxDefaultThreads, availableParallelism()) - 1 : 0;
}

const usageError = (message: string): GcError => new GcError('GC_USAGE', message);

function parse(args: string[]): ParsedArgs | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        'delete-untagged': { type: 'boolean', short: 'm', default: false },
        'dry-run': { type: 'boolean', short: 'd', default: false },
        quiet: { type: 'boolean', short: 'q', default: false },
        'force-live': { type: 'boolean', default: false },
        concurrency: { type: 'string' },
        workers: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new GcError('GC_USAGE', (err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (positionals.length !== 1 || positionals[0] === undefined) {
    throw new GcError('GC_USAGE', 'expected exactly one argument, the config file');
  }
  const concurrency =
    values.concurrency === undefined
      ? defaultConcurrency
      : integerOption('concurrency', values.concurrency, 1, 1024, usageError);
  const workers =
    values.workers === undefined ? undefined : integerOption('workers', values.workers, 0, 64, usageError);
  return {
    configPath: positionals[0],
    deleteUntagged: values['delete-untagged'],
    dryRun: values['dry-run'],
    quiet: values.quiet,
    forceLive: values['force-live'],
    concurrency,
    workers,
  };
}

function emptySummary(dryRun: boolean): GcSummary {
  return {
    manifestsMarked: 0,
    blobsMarked: 0,
    manifestsDeleted: 0,
    blobsDeleted: 0,
    bytesFreed: 0,
    layerLinksDeleted: 0,
    repositories: 0,
    durationMs: 0,
    dryRun,
  };
}

function deletionLine(item: GcDeletion, dryRun: boolean): string {
  const verb = dryRun ? 'eligible for deletion' : 'deleted';
  switch (item.kind) {
    case 'manifest':
      return `manifest ${verb}: ${item.repository}@${item.digest}`;
    case 'layerLink':
      return `layer link ${verb}: ${item.repository} -> ${item.digest}`;
    case 'blob':
      return `blob ${verb}: ${item.digest} (${item.size} bytes)`;
  }
}

/** Runs the command; resolves to the process exit code. Never throws. */
export async function garbageCollectCommand(
  args: string[],
  io: CommandIO = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const started = performance.now();
  let dryRun = args.includes('--dry-run') || args.includes('-d');
  const fail = (err: unknown, summary?: GcSummary): number => {
    const error =
      err instanceof GcError
        ? err
        : err instanceof ConfigError
          ? new GcError('GC_CONFIG', err.message, { cause: err })
          : new GcError('GC_FAILED', err instanceof Error ? err.message : String(err), { cause: err });
    return reportFailure(io, {
      command: 'garbage-collect',
      usage: garbageCollectUsage,
      code: error.code,
      message: error.message,
      isUsage: error.code === 'GC_USAGE',
      summary: summary ??
        error.summary ?? { ...emptySummary(dryRun), durationMs: Math.round(performance.now() - started) },
      exitCode: error.exitCode,
    });
  };

  let options: ParsedArgs;
  try {
    const parsed = parse(args);
    if (parsed === 'help') {
      io.stdout.write(garbageCollectUsage);
      return 0;
    }
    options = parsed;
    dryRun = options.dryRun;
    sizeThreadPool(options.concurrency);
  } catch (err) {
    return fail(err);
  }

  let config: RegistryConfig;
  let driver: StorageDriver;
  let workers: number;
  try {
    config = (await loadConfig(options.configPath)).config;
    workers = options.workers ?? defaultWorkers(config.storage);
    // With workers this thread only lists what to hand out, and may block; without, its calls must overlap.
    driver = await createStorageDriver(config.storage, { blocking: workers > 0 });
  } catch (err) {
    // ConfigError becomes GC_CONFIG in fail(); anything else here is a driver that cannot be built.
    return fail(
      err instanceof ConfigError
        ? err
        : new GcError('GC_CONFIG', err instanceof Error ? err.message : String(err), { cause: err }),
    );
  }

  const configReadOnly = config.storage.maintenance.readonly.enabled;
  const log = (line: string): void => {
    if (!options.quiet) io.stderr.write(`${line}\n`);
  };

  try {
    const verdict = await checkLiveRegistries(driver, configReadOnly);
    if (!verdict.allowed) {
      if (!options.forceLive) throw new GcError('GC_LIVE_REGISTRY', verdict.reason ?? 'live registry');
      io.stderr.write(
        `berth-registry garbage-collect: WARNING: --force-live given, collecting anyway.\n${verdict.reason ?? ''}\n`,
      );
    } else if (verdict.instances.length === 0) {
      log(
        'garbage-collect: no running Berth registry found on this storage (a CNCF Distribution registry ' +
          'cannot be detected: make sure none is running read-write)',
      );
    } else {
      log(
        `garbage-collect: ${verdict.instances.length} Berth registry instance(s) on this storage, all read-only`,
      );
    }
    log(
      `garbage-collect: ${driver.name} storage, delete-untagged=${options.deleteUntagged}, ` +
        `dry-run=${options.dryRun}, concurrency=${options.concurrency}, workers=${workers}`,
    );

    const tasks =
      workers > 0
        ? workerTasks(
            { storage: config.storage, concurrency: Math.ceil(options.concurrency / (workers + 1)) },
            workers,
            localTasks(driver, Math.ceil(options.concurrency / (workers + 1))),
          )
        : undefined;
    let summary: GcSummary;
    try {
      summary = await garbageCollect(driver, {
        ...(tasks ? { tasks } : {}),
        deleteUntagged: options.deleteUntagged,
        dryRun: options.dryRun,
        concurrency: options.concurrency,
        ...(options.quiet ? {} : { onProgress: (p) => log(formatProgress(p)) }),
        ...(options.quiet
          ? {}
          : { onDelete: (item) => void io.stdout.write(`${deletionLine(item, options.dryRun)}\n`) }),
        ...(options.forceLive ? {} : { beforeSweep: () => assertNoLiveWriter(driver, configReadOnly) }),
      });
    } finally {
      await tasks?.close();
    }
    io.stdout.write(`${JSON.stringify(summary)}\n`);
    return 0;
  } catch (err) {
    return fail(err);
  }
}
