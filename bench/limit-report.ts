// The table of the physical limit (bench/physical-limit.ts) against the monolithic pushes of the same rounds:
// each registry's push as a percentage of the limit measured in its round. Issue 14's target: Berth ≥ 85%.
import type { RegistryKind } from '../test/harness/registry.ts';
import type { PhysicalLimit } from './physical-limit.ts';
import { kindLabels, kinds } from './registries.ts';
import { median, num, type Sample } from './report.ts';

export interface LimitSample extends PhysicalLimit {
  round: number;
}

/** Berth's monolithic push must reach this share of the limit (median over rounds). */
export const limitTarget = 0.85;

export interface LimitSummary {
  /** Markdown lines: a heading sentence and the table. */
  lines: string[];
  /** Median over rounds of Berth's push / the round's limit; NaN without samples. */
  berthShare: number;
  met: boolean;
}

const fmt = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '–' : num(v, 0));

export function summarizeLimit(
  limits: readonly LimitSample[],
  mono: Partial<Record<RegistryKind, Sample[]>> | undefined,
): LimitSummary {
  const push = (kind: RegistryKind, round: number): number | undefined =>
    mono?.[kind]?.find((s) => s.round === round)?.value;
  const share = (kind: RegistryKind, l: LimitSample): number | undefined => {
    const v = push(kind, l.round);
    return v === undefined ? undefined : v / l.limitMBps;
  };
  const head = [
    'round',
    'sha256, one core (MB/s)',
    'write + fsync (MB/s)',
    'physical limit (MB/s)',
    ...kinds.map((k) => `${kindLabels[k]} push, % of limit`),
  ];
  const row = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  const lines = [row(head), row(head.map(() => '---'))];
  for (const l of limits) {
    lines.push(
      row([
        String(l.round + 1),
        fmt(l.hashMBps),
        fmt(l.writeMBps),
        fmt(l.limitMBps),
        ...kinds.map((k) => `${fmt((share(k, l) ?? NaN) * 100)}%`),
      ]),
    );
  }
  const medianShare = (kind: RegistryKind): number => median(limits.flatMap((l) => share(kind, l) ?? []));
  lines.push(
    row([
      'median',
      fmt(median(limits.map((l) => l.hashMBps))),
      fmt(median(limits.map((l) => l.writeMBps))),
      fmt(median(limits.map((l) => l.limitMBps))),
      ...kinds.map((k) => `**${fmt(medianShare(k) * 100)}%**`),
    ]),
  );
  const berthShare = medianShare('berth');
  const met = berthShare >= limitTarget;
  return {
    lines: [
      `Physical limit of the monolithic push, measured in each round at a rotating place among the registries: ` +
        `sha256 of the blob file on one core (\`openssl dgst -sha256\`, file in the page cache) and the same bytes ` +
        `written to the registries' disk with fsync (\`dd bs=4M conv=fsync\` into the bench's temp dir); ` +
        `limit = the lower of the two. Target: Berth ≥ ${limitTarget * 100}% (median over rounds): ` +
        `${met ? 'met' : '**not met**'}.`,
      '',
      ...lines,
    ],
    berthShare,
    met,
  };
}
