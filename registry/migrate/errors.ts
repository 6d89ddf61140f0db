// The migration's error catalogue: stable codes, and the exit code the CLI returns for each.
import type { MigrateSummary } from './summary.ts';

export const migrateErrorCatalogue = {
  /** Bad command line. */
  MIGRATE_USAGE: { exitCode: 2 },
  /** A config file is missing or invalid, names a driver this build lacks, or both name the same storage. */
  MIGRATE_CONFIG: { exitCode: 2 },
  /** The copy finished but the target does not hold what the source listed (counts or sizes differ). */
  MIGRATE_VERIFY: { exitCode: 1 },
  /** Any other failure (storage errors on either side). */
  MIGRATE_FAILED: { exitCode: 1 },
} as const satisfies Record<string, { exitCode: number }>;

export type MigrateErrorCode = keyof typeof migrateErrorCatalogue;

export class MigrateError extends Error {
  readonly code: MigrateErrorCode;
  /** What a migration that failed had done before the failure. */
  summary: MigrateSummary | undefined;

  constructor(code: MigrateErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MigrateError';
    this.code = code;
  }

  get exitCode(): number {
    return migrateErrorCatalogue[this.code].exitCode;
  }
}
