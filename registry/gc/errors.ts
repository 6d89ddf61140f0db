// The garbage collector's error catalogue: stable codes, and the exit code the CLI returns for each.
import type { GcSummary } from './summary.ts';

export const gcErrorCatalogue = {
  /** Bad command line. */
  GC_USAGE: { exitCode: 2 },
  /** The config file is missing or invalid, or names a driver this build lacks. */
  GC_CONFIG: { exitCode: 2 },
  /** A registry process is (or may be) writing to this storage: refusing to sweep. */
  GC_LIVE_REGISTRY: { exitCode: 3 },
  /** A stored manifest cannot be read as JSON, so what it protects is unknown: nothing is swept. */
  GC_MANIFEST_UNREADABLE: { exitCode: 1 },
  /** Any other failure (storage errors). */
  GC_FAILED: { exitCode: 1 },
} as const satisfies Record<string, { exitCode: number }>;

export type GcErrorCode = keyof typeof gcErrorCatalogue;

export class GcError extends Error {
  readonly code: GcErrorCode;
  /** What a collection that failed half way had counted (and deleted) before the failure. */
  summary: GcSummary | undefined;

  constructor(code: GcErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GcError';
    this.code = code;
  }

  get exitCode(): number {
    return gcErrorCatalogue[this.code].exitCode;
  }
}
