// Reading single samples out of a Prometheus text exposition (what /metrics serves).
import assert from 'node:assert/strict';

/** The value of one sample line, e.g. `name{label="x"}`, or undefined when the exposition has none. */
export function metricSample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Like metricSample, but the series must be there: a missing one fails the test, naming it. */
export function requireMetricSample(text: string, series: string): number {
  const value = metricSample(text, series);
  assert.ok(value !== undefined, `no ${series} in:\n${text}`);
  return value;
}

export interface GcCounts {
  /** Mark-compacts (full collections). */
  major: number;
  /** Scavenges (young generation). */
  minor: number;
}

/** A registry's GC counts from one read of its /metrics; a kind appears once it has run. */
export async function gcCounts(url: string): Promise<GcCounts> {
  const text = await (await fetch(`${url}/metrics`)).text();
  assert.match(
    text,
    /^# TYPE registry_process_nodejs_gc_duration_seconds histogram$/m,
    'GCs are in /metrics',
  );
  const count = (kind: string): number =>
    metricSample(text, `registry_process_nodejs_gc_duration_seconds_count{kind="${kind}"}`) ?? 0;
  return { major: count('major'), minor: count('minor') };
}
