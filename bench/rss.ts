// Server memory from /proc/<pid>/status. VmHWM is the kernel's own peak RSS; writing 5 to clear_refs resets
// it to the current RSS, so the peak can be scoped to one push. A polling sampler cross-checks it.
import { readFileSync, writeFileSync } from 'node:fs';

export interface Memory {
  /** Current resident set, bytes. */
  rss: number;
  /** Peak resident set since start or the last reset, bytes. */
  hwm: number;
  /** Of rss: anonymous pages (heaps, stacks) and file-backed pages (the node binary, shared libraries). */
  anon: number;
  file: number;
}

export function readMemory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (!m?.[1]) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(m[1]) * 1024;
  };
  return { rss: kib('VmRSS'), hwm: kib('VmHWM'), anon: kib('RssAnon'), file: kib('RssFile') };
}

/** Resets VmHWM to the current RSS; false when the kernel refuses (then the peak includes start-up). */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export interface PeakWatch {
  /**
   * Stops sampling and returns the peak (the kernel's VmHWM and the highest sampled VmRSS) and the RSS when
   * the watch started, which tells the server's idle footprint apart from what the push added.
   */
  stop(): { hwm: number; sampledMax: number; start: number; scoped: boolean };
}

export function watchPeak(pid: number, intervalMs = 20): PeakWatch {
  const scoped = resetPeak(pid);
  const start = readMemory(pid).rss;
  let sampledMax = start;
  const timer = setInterval(() => {
    try {
      sampledMax = Math.max(sampledMax, readMemory(pid).rss);
    } catch {
      // the process exited; the caller's request fails and says why
    }
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      const { hwm, rss } = readMemory(pid);
      return { hwm, sampledMax: Math.max(sampledMax, rss), start, scoped };
    },
  };
}

export type Peak = ReturnType<PeakWatch['stop']>;

/**
 * Runs `work` under a peak watch of `pid`. The watch is stopped when the work fails too: its sampler's timer
 * would otherwise keep this process alive.
 */
export async function withPeak<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; peak: Peak }> {
  const watch = watchPeak(pid);
  try {
    const result = await work();
    return { result, peak: watch.stop() };
  } catch (err) {
    watch.stop();
    throw err;
  }
}
