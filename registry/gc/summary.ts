// What a collection did (the JSON line the operator parses) and how it reports progress while it runs.

export interface GcSummary {
  /** Repository manifest revisions kept (a digest kept in two repositories counts twice). */
  manifestsMarked: number;
  /** Distinct digests marked in the blob store (layers, configs and the kept manifests' own blobs). */
  blobsMarked: number;
  /** Untagged manifest revisions deleted (or, in a dry run, that would be deleted). */
  manifestsDeleted: number;
  /** Blobs deleted from the blob store (or that would be). */
  blobsDeleted: number;
  /** Bytes of the deleted blobs' data. */
  bytesFreed: number;
  /** Repository `_layers` links to unmarked blobs removed (or that would be). */
  layerLinksDeleted: number;
  /** Repositories scanned. */
  repositories: number;
  durationMs: number;
  dryRun: boolean;
}

export type GcPhase = 'mark' | 'delete-manifests' | 'delete-layer-links' | 'sweep-blobs' | 'done';

export interface GcProgress extends Omit<GcSummary, 'durationMs' | 'dryRun'> {
  phase: GcPhase;
  /** Blob directories looked at so far in the sweep. */
  blobsScanned: number;
  elapsedMs: number;
}

/** One thing the collector deletes (or, in a dry run, would delete). */
export type GcDeletion =
  | { kind: 'manifest'; repository: string; digest: string }
  | { kind: 'layerLink'; repository: string; digest: string }
  | { kind: 'blob'; digest: string; size: number };

/** Running counters, with a timer that reports them every `intervalMs` and at every phase change. */
export class ProgressTracker {
  readonly counts: Omit<GcProgress, 'phase' | 'elapsedMs'> = {
    manifestsMarked: 0,
    blobsMarked: 0,
    manifestsDeleted: 0,
    blobsDeleted: 0,
    bytesFreed: 0,
    layerLinksDeleted: 0,
    repositories: 0,
    blobsScanned: 0,
  };
  phase: GcPhase = 'mark';
  private readonly started = performance.now();
  private readonly onProgress: ((progress: GcProgress) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(onProgress: ((progress: GcProgress) => void) | undefined, intervalMs: number) {
    this.onProgress = onProgress;
    if (onProgress && intervalMs > 0) {
      this.timer = setInterval(() => this.report(), intervalMs);
      this.timer.unref();
    }
  }

  get elapsedMs(): number {
    return Math.round(performance.now() - this.started);
  }

  enter(phase: GcPhase): void {
    this.phase = phase;
    this.report();
  }

  report(): void {
    this.onProgress?.({ phase: this.phase, ...this.counts, elapsedMs: this.elapsedMs });
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** A one-line human summary of a progress report, for stderr. */
export function formatProgress(p: GcProgress): string {
  const seconds = (p.elapsedMs / 1000).toFixed(1);
  switch (p.phase) {
    case 'mark':
      return `garbage-collect: marking: ${p.repositories} repositories, ${p.manifestsMarked} manifests and ${p.blobsMarked} blobs marked (${seconds}s)`;
    case 'delete-manifests':
      return `garbage-collect: deleting untagged manifests: ${p.manifestsDeleted} so far (${seconds}s)`;
    case 'delete-layer-links':
      return `garbage-collect: removing layer links: ${p.layerLinksDeleted} so far (${seconds}s)`;
    case 'sweep-blobs':
      return `garbage-collect: sweeping blobs: ${p.blobsScanned} scanned, ${p.blobsDeleted} deleted, ${p.bytesFreed} bytes (${seconds}s)`;
    case 'done':
      return `garbage-collect: done in ${seconds}s`;
  }
}
