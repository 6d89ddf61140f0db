// `berth-registry migrate --from CONFIG_A --to CONFIG_B [--delete] [--dry-run] [--concurrency N] [--quiet]
//  [--from-env-prefix P] [--to-env-prefix P]`
//
// Environment overrides: each config gets the REGISTRY_* overrides the registry would apply, unless its side
// names a prefix of its own: then P<PATH> variables act as REGISTRY_<PATH> for that config alone (and
// REGISTRY_* are ignored for it), so the two sides can carry different keys (the operator's migration Job).
//
// Output contract (the operator parses it):
//   - stdout: as the LAST line, the JSON summary (see summary.ts: objectsCopied, bytesCopied, objectsSkipped,
//     objectsDeleted, bytesDeleted, objectsExtra, objectsVanished, sourceObjects, sourceBytes, durationMs,
//     dryRun, verified {objects, bytes}); on failure the same object (counts so far) plus `error` and
//     `errorCode`.
//   - stderr: progress lines every few seconds and at each phase change (off with --quiet), error messages.
//   - exit code: 0 done and verified, 1 failed (storage error, or the target does not verify), 2 bad usage or
//     config.
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { ConfigError, loadConfig, type LoadedConfig } from '../config/load.ts';
import { storageDriverOf, type RegistryConfig } from '../config/schema.ts';
import type { StorageDriver } from '../storage/driver.ts';
import { createStorageDriver } from '../storage/factory.ts';
import { MigrateError, migrateErrorCatalogue } from './errors.ts';
import { defaultConcurrency, migrate } from './migrate.ts';
import { emptySummary, formatProgress } from './summary.ts';
import { integerOption, reportFailure, sizeThreadPool, type CommandIO } from '../maintenance-command.ts';

export const migrateUsage = `usage: berth-registry migrate --from CONFIG_A --to CONFIG_B [options]

Copies the registry content stored as configured in CONFIG_A (its storage section) to the storage configured
in CONFIG_B: blobs, manifests, tags and referrers, not upload sessions (_uploads) nor registry heartbeats.
Incremental: objects already identical on the target are skipped, so it can run repeatedly while the source
registry is online, once more while it is read-only (storage.maintenance.readonly.enabled: true), and again
after being interrupted. Blobs are copied first and tags last, so a registry on a partly migrated target never
serves a tag whose content is missing. At the end the target is listed again and checked against the source.

options:
  --from CONFIG       the config of the registry to copy from
  --to CONFIG         the config naming the storage to copy to
  --delete            also remove target objects absent from the source (the target's _uploads are kept)
  -d, --dry-run       report what would be copied and deleted, write nothing
  -q, --quiet         no progress on stderr; only the JSON summary (and errors)
  --concurrency N     objects copied at once (default ${defaultConcurrency})
  --from-env-prefix P environment overrides of the --from config come from variables P<PATH>, read as
                      REGISTRY_<PATH> would be (REGISTRY_* then do not apply to it); default REGISTRY_
  --to-env-prefix P   the same for the --to config
  -h, --help          show this help

The last line of stdout is a JSON summary. Exit codes: 0 done and verified, 1 failed or the target does not
match the source, 2 bad usage or config.
`;

interface ParsedArgs {
  from: string;
  to: string;
  deleteExtra: boolean;
  dryRun: boolean;
  quiet: boolean;
  concurrency: number;
  fromEnvPrefix: string;
  toEnvPrefix: string;
}

/** The registry's own prefix of environment overrides (registry/config/load.ts). */
const registryEnvPrefix = 'REGISTRY_';
const envPrefixPattern = /^[A-Z_][A-Z0-9_]*_$/;

function envPrefixOption(flag: string, value: string | undefined): string {
  if (value === undefined) return registryEnvPrefix;
  if (!envPrefixPattern.test(value)) {
    throw new MigrateError(
      'MIGRATE_USAGE',
      `${flag} ${JSON.stringify(value)}: a prefix is made of uppercase letters, digits and underscores and ends ` +
        `with "_" (e.g. MIGRATE_TO_)`,
    );
  }
  return value;
}

type Env = Readonly<Record<string, string | undefined>>;

/** The environment a side's config is loaded with: its P<PATH> variables renamed REGISTRY_<PATH>. */
function envWithPrefix(env: Env, prefix: string): Env {
  if (prefix === registryEnvPrefix) return env;
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(registryEnvPrefix)) out[name] = value;
  }
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith(prefix)) out[registryEnvPrefix + name.slice(prefix.length)] = value;
  }
  return out;
}

/** Loads a side's config; errors name the variables as they were set (P<PATH>, not REGISTRY_<PATH>). */
async function loadSide(path: string, prefix: string): Promise<LoadedConfig> {
  try {
    return await loadConfig(path, envWithPrefix(process.env, prefix));
  } catch (err) {
    if (!(err instanceof ConfigError) || prefix === registryEnvPrefix) throw err;
    const issues = err.issues.map((issue) =>
      issue.env?.startsWith(registryEnvPrefix) === true
        ? { ...issue, env: prefix + issue.env.slice(registryEnvPrefix.length) }
        : issue,
    );
    throw new ConfigError(err.code, err.source, issues, { cause: err });
  }
}

function parse(args: string[]): ParsedArgs | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: false,
      strict: true,
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        delete: { type: 'boolean', default: false },
        'dry-run': { type: 'boolean', short: 'd', default: false },
        quiet: { type: 'boolean', short: 'q', default: false },
        concurrency: { type: 'string' },
        'from-env-prefix': { type: 'string' },
        'to-env-prefix': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new MigrateError('MIGRATE_USAGE', (err as Error).message);
  }
  const { values } = parsed;
  if (values.help) return 'help';
  if (values.from === undefined || values.to === undefined) {
    throw new MigrateError('MIGRATE_USAGE', 'both --from and --to are required');
  }
  const concurrency =
    values.concurrency === undefined
      ? defaultConcurrency
      : integerOption('concurrency', values.concurrency, 1, 1024, (message) => {
          return new MigrateError('MIGRATE_USAGE', message);
        });
  const fromEnvPrefix = envPrefixOption('--from-env-prefix', values['from-env-prefix']);
  const toEnvPrefix = envPrefixOption('--to-env-prefix', values['to-env-prefix']);
  return {
    from: values.from,
    to: values.to,
    deleteExtra: values.delete,
    dryRun: values['dry-run'],
    quiet: values.quiet,
    concurrency,
    fromEnvPrefix,
    toEnvPrefix,
  };
}

/** Whether two storage sections name the same place (the same driver with the same parameters). */
function sameStorage(a: RegistryConfig['storage'], b: RegistryConfig['storage']): boolean {
  const [x, y] = [storageDriverOf(a), storageDriverOf(b)];
  // Every in-memory driver is a store of its own.
  return x.name !== 'inmemory' && isDeepStrictEqual(x, y);
}

async function openStorage(config: RegistryConfig, which: string): Promise<StorageDriver> {
  try {
    return await createStorageDriver(config.storage);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new MigrateError('MIGRATE_CONFIG', `${which}: ${message}`, { cause: err });
  }
}

/** Runs the command; resolves to the process exit code. Never throws. */
export async function migrateCommand(
  args: string[],
  io: CommandIO = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const started = performance.now();
  let dryRun = args.includes('--dry-run') || args.includes('-d');
  const fail = (err: unknown): number => {
    const error =
      err instanceof MigrateError
        ? err
        : err instanceof ConfigError
          ? new MigrateError('MIGRATE_CONFIG', err.message, { cause: err })
          : new MigrateError('MIGRATE_FAILED', err instanceof Error ? err.message : String(err), {
              cause: err,
            });
    return reportFailure(io, {
      command: 'migrate',
      usage: migrateUsage,
      code: error.code,
      message: error.message,
      isUsage: error.code === 'MIGRATE_USAGE',
      summary: error.summary ?? {
        ...emptySummary(dryRun),
        durationMs: Math.round(performance.now() - started),
      },
      exitCode: migrateErrorCatalogue[error.code].exitCode,
    });
  };

  let options: ParsedArgs;
  try {
    const parsed = parse(args);
    if (parsed === 'help') {
      io.stdout.write(migrateUsage);
      return 0;
    }
    options = parsed;
    dryRun = options.dryRun;
    sizeThreadPool(options.concurrency);
  } catch (err) {
    return fail(err);
  }

  let source: StorageDriver;
  let target: StorageDriver;
  try {
    const [fromConfig, toConfig] = await Promise.all([
      loadSide(options.from, options.fromEnvPrefix),
      loadSide(options.to, options.toEnvPrefix),
    ]).catch((err: unknown) => {
      throw new MigrateError('MIGRATE_CONFIG', err instanceof Error ? err.message : String(err), {
        cause: err,
      });
    });
    if (sameStorage(fromConfig.config.storage, toConfig.config.storage)) {
      throw new MigrateError('MIGRATE_CONFIG', '--from and --to name the same storage');
    }
    source = await openStorage(fromConfig.config, '--from');
    target = await openStorage(toConfig.config, '--to');
  } catch (err) {
    return fail(err);
  }

  const log = (line: string): void => {
    if (!options.quiet) io.stderr.write(`${line}\n`);
  };
  try {
    log(
      `migrate: ${source.name} (${options.from}) -> ${target.name} (${options.to}), delete=${options.deleteExtra}, ` +
        `dry-run=${options.dryRun}, concurrency=${options.concurrency}`,
    );
    const summary = await migrate(source, target, {
      deleteExtra: options.deleteExtra,
      dryRun: options.dryRun,
      concurrency: options.concurrency,
      ...(options.quiet ? {} : { onProgress: (p) => log(formatProgress(p)) }),
    });
    io.stdout.write(`${JSON.stringify(summary)}\n`);
    return 0;
  } catch (err) {
    return fail(err);
  } finally {
    for (const driver of [source, target]) {
      (driver as { destroy?: () => void }).destroy?.();
    }
  }
}
