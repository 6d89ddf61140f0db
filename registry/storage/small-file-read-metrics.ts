// Prometheus counters for the filesystem driver's small-file reads (small-file-reads.ts): how many links were
// read with blocking calls and how many through the thread pool, and how often a slow blocking read paused
// the blocking path. A pause count that keeps rising on a local disk means the watchdog keeps tripping (a
// stalling disk or a starved host), and every manifest GET then pays the thread pool's round trips.
import { Counter, type Registry } from 'prom-client';
import type { SmallFileReads } from './small-file-reads.ts';

export function registerSmallFileReadMetrics(registry: Registry, reads: SmallFileReads): void {
  const registers = [registry];
  // The counts live in SmallFileReads (no prom-client call on the read path); each scrape copies them.
  new Counter({
    name: 'berth_storage_small_file_reads_total',
    help: 'Small files (up to 16 KiB: links) the filesystem driver read, by mode: blocking or pooled (thread pool)',
    labelNames: ['mode'],
    registers,
    collect() {
      this.reset();
      this.inc({ mode: 'blocking' }, reads.counts.blocking);
      this.inc({ mode: 'pooled' }, reads.counts.pooled);
    },
  });
  new Counter({
    name: 'berth_storage_small_file_read_pauses_total',
    help: 'Blocking small-file reads slower than the limit (5 ms), each sending reads through the thread pool for 10 s',
    registers,
    collect() {
      this.reset();
      this.inc(reads.counts.slow);
    },
  });
}
