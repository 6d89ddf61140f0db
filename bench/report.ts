// Turns raw samples into the Markdown table (metric, Distribution, Berth, ratio, target, met?) and the JSON
// file with every sample. Targets are judged on ratios (or Berth's worst RSS), never on absolute speeds.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as prettier from 'prettier';
import type { RegistryKind } from '../test/harness/registry.ts';
import type { MetricName } from './options.ts';

export interface Sample {
  round: number;
  /** 0 when this registry went first in the round, 1 when second. */
  position: number;
  value: number;
  /** Server CPU (user + system) per unit of work: seconds per GB, or µs per request. */
  cpuPerUnit?: number;
  detail?: Record<string, unknown>;
}

export type Samples = Partial<Record<MetricName, Record<RegistryKind, Sample[]>>>;

interface MetricDef {
  label: string;
  unit: string;
  /** Berth/Distribution must be at least this, or Berth's worst sample must stay below `maxBerth`. */
  minRatio?: number;
  maxBerth?: number;
  digits: number;
}

export const metricDefs: Record<MetricName, MetricDef> = {
  mono: { label: 'monolithic push', unit: 'MB/s', minRatio: 2, digits: 0 },
  'mono-put': {
    label: 'monolithic push, POST + PUT (same protocol for both)',
    unit: 'MB/s',
    minRatio: 2,
    digits: 0,
  },
  chunked: { label: 'chunked push', unit: 'MB/s', minRatio: 2, digits: 0 },
  pull: { label: 'pull', unit: 'MB/s', minRatio: 1, digits: 0 },
  manifest: { label: 'manifest GET by tag', unit: 'req/s', minRatio: 1.5, digits: 0 },
  rss: { label: 'peak RSS during the monolithic push', unit: 'MiB', maxBerth: 200, digits: 0 },
};

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export interface SummaryRow {
  metric: MetricName;
  label: string;
  unit: string;
  distribution: { median: number; min: number; max: number; spreadPct: number };
  berth: { median: number; min: number; max: number; spreadPct: number };
  /** Median server CPU per unit of work (see Sample.cpuPerUnit), when measured. */
  cpu?: { distribution: number; berth: number; unit: string };
  /** Berth/Distribution of the medians, and the range of the per-round ratios. */
  ratio: number;
  roundRatios: number[];
  target: string;
  met: boolean;
}

function stats(samples: readonly Sample[]) {
  const v = samples.map((s) => s.value);
  const m = median(v);
  const min = Math.min(...v);
  const max = Math.max(...v);
  return { median: m, min, max, spreadPct: m === 0 ? 0 : ((max - min) / m) * 100 };
}

export function summarize(samples: Samples): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const [metric, def] of Object.entries(metricDefs) as [MetricName, MetricDef][]) {
    const per = samples[metric];
    if (!per || per.distribution.length === 0 || per.berth.length === 0) continue;
    const d = stats(per.distribution);
    const b = stats(per.berth);
    const roundRatios: number[] = [];
    for (const bs of per.berth) {
      const ds = per.distribution.find((s) => s.round === bs.round);
      if (ds && ds.value !== 0) roundRatios.push(bs.value / ds.value);
    }
    const ratio = b.median / d.median;
    let target: string;
    let met: boolean;
    if (def.maxBerth !== undefined) {
      target = `Berth < ${def.maxBerth} ${def.unit} (worst round)`;
      met = b.max < def.maxBerth;
    } else {
      target = `≥ ${def.minRatio ?? 1}×`;
      met = ratio >= (def.minRatio ?? 1);
    }
    const cpuOf = (list: readonly Sample[]): number[] =>
      list.flatMap((x) => (x.cpuPerUnit === undefined ? [] : [x.cpuPerUnit]));
    const dc = cpuOf(per.distribution);
    const bc = cpuOf(per.berth);
    const cpu =
      dc.length > 0 && bc.length > 0
        ? {
            distribution: median(dc),
            berth: median(bc),
            unit: def.unit === 'req/s' ? 'CPU µs/request' : 'CPU s/GB',
          }
        : undefined;
    rows.push({
      metric,
      label: def.label,
      unit: def.unit,
      distribution: d,
      berth: b,
      ...(cpu ? { cpu } : {}),
      ratio,
      roundRatios,
      target,
      met,
    });
  }
  return rows;
}

function num(v: number, digits: number): string {
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function cell(s: SummaryRow['berth'], digits: number, rounds: number): string {
  return rounds > 1
    ? `${num(s.median, digits)} (${num(s.min, digits)}–${num(s.max, digits)})`
    : num(s.median, digits);
}

export interface ReportMeta {
  date: string;
  command: string;
  machine: string;
  versions: Record<string, string>;
  settings: string[];
  notes: string[];
}

export function markdown(rows: SummaryRow[], meta: ReportMeta, rounds: number): string {
  const lines: string[] = [];
  lines.push('# Berth vs CNCF Distribution 2.8', '');
  lines.push(`Run ${meta.date} with \`${meta.command}\` on ${meta.machine}.`, '');
  lines.push(
    `Versions: ${Object.entries(meta.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join('; ')}.`,
    '',
  );
  for (const s of meta.settings) lines.push(`- ${s}`);
  lines.push('');
  lines.push('| metric | Distribution | Berth | ratio Berth/Distribution | target | met? |');
  lines.push('| --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const digits = metricDefs[r.metric].digits;
    const ratioRange =
      r.roundRatios.length > 1
        ? ` (rounds ${num(Math.min(...r.roundRatios), 2)}–${num(Math.max(...r.roundRatios), 2)})`
        : '';
    lines.push(
      `| ${r.label} (${r.unit}) | ${cell(r.distribution, digits, rounds)} | ${cell(r.berth, digits, rounds)} | ` +
        `${num(r.ratio, 2)}×${ratioRange} | ${r.target} | ${r.met ? 'yes' : '**no**'} |`,
    );
  }
  lines.push('');
  const cpuRows = rows.filter((r) => r.cpu);
  if (cpuRows.length > 0) {
    lines.push(
      'Server CPU (user + system, all threads, from /proc/PID/stat; median over rounds; lower is better). It is less',
      'disturbed by other load on a shared machine than wall-clock throughput:',
      '',
      '| metric | unit | Distribution | Berth | ratio Berth/Distribution |',
      '| --- | --- | --- | --- | --- |',
    );
    for (const r of cpuRows) {
      if (!r.cpu) continue;
      const digits = r.cpu.unit === 'CPU s/GB' ? 2 : 0;
      lines.push(
        `| ${r.label} | ${r.cpu.unit} | ${num(r.cpu.distribution, digits)} | ${num(r.cpu.berth, digits)} | ` +
          `${num(r.cpu.berth / r.cpu.distribution, 2)}× |`,
      );
    }
    lines.push('');
  }
  if (meta.notes.length > 0) {
    lines.push('Notes:', '');
    for (const n of meta.notes) lines.push(`- ${n}`);
    lines.push('');
  }
  return lines.join('\n');
}

/** Writes NAME.md and NAME.json, formatted as the repository's prettier config wants them. */
export async function writeResults(
  dir: string,
  name: string,
  md: string,
  json: unknown,
): Promise<{ markdownFile: string; jsonFile: string }> {
  await mkdir(dir, { recursive: true });
  const markdownFile = path.join(dir, `${name}.md`);
  const jsonFile = path.join(dir, `${name}.json`);
  const format = async (file: string, text: string): Promise<string> => {
    const config = (await prettier.resolveConfig(file)) ?? {};
    return prettier.format(text, { ...config, filepath: file });
  };
  await writeFile(markdownFile, await format(markdownFile, md));
  await writeFile(jsonFile, await format(jsonFile, JSON.stringify(json, null, 2)));
  return { markdownFile, jsonFile };
}
