// A run's report as a ConfigMap owned by the policy (`<policy>-cleanup-report`, replaced by every run): per
// repository the tags deleted (or, in a dry run, that would be), deferred, and kept with the reason; as JSON
// (`report.json`) and as text for `kubectl describe`/`get -o yaml` readers (`report.txt`). A ConfigMap holds at
// most 1 MiB, so long lists are cut, saying how many were left out.
import type { KubeObject } from '../../runtime/objects.ts';
import type { RunReport } from './run.ts';

const maxBytes = 900 * 1024;

export const reportName = (policy: string) => `${policy}-cleanup-report`;

function cut(list: readonly string[], max: number): string[] {
  return list.length <= max
    ? [...list]
    : [...list.slice(0, max), `... and ${String(list.length - max)} more`];
}

function abridged(report: RunReport, max: number): RunReport {
  return {
    ...report,
    repositories: report.repositories.map((r) => ({
      ...r,
      deleted: cut(r.deleted, max),
      deferred: cut(r.deferred, max),
      kept: Object.fromEntries(Object.entries(r.kept).map(([k, v]) => [k, cut(v, max)])),
      errors: cut(r.errors, max),
    })),
  };
}

/** The report as readable lines. */
export function reportText(runId: string, report: RunReport): string {
  const verb = report.dryRun ? 'would delete' : 'deleted';
  const lines = [
    `cleanup run ${runId}${report.dryRun ? ' (dry run: nothing deleted)' : ''}: ${String(report.tagsDeleted)} tags ${report.dryRun ? 'to delete' : 'deleted'}, ` +
      `${String(report.tagsKept)} kept (${String(report.tagsInUse)} in use)` +
      `${report.truncated ? '; truncated, the rest next run' : ''}${report.errors > 0 ? `; ${String(report.errors)} errors` : ''}`,
  ];
  for (const r of report.repositories) {
    lines.push(`${r.repository}:`);
    if (r.deleted.length > 0) lines.push(`  ${verb}: ${r.deleted.join(', ')}`);
    if (r.deferred.length > 0) lines.push(`  next run: ${r.deferred.join(', ')}`);
    for (const [reason, tags] of Object.entries(r.kept)) lines.push(`  kept (${reason}): ${tags.join(', ')}`);
    for (const e of r.errors) lines.push(`  error: ${e}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The report ConfigMap for a run of `policy`. */
export function reportConfigMap(
  policy: KubeObject,
  runId: string,
  report: RunReport,
  labels: Record<string, string>,
): KubeObject & { data: Record<string, string> } {
  let shown = report;
  for (const max of [Infinity, 1000, 100, 10]) {
    shown = max === Infinity ? report : abridged(report, max);
    if (JSON.stringify(shown).length + reportText(runId, shown).length < maxBytes) break;
  }
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: reportName(policy.metadata.name),
      namespace: policy.metadata.namespace,
      labels,
      ownerReferences: [
        {
          apiVersion: policy.apiVersion,
          kind: policy.kind,
          name: policy.metadata.name,
          uid: policy.metadata.uid ?? '',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    data: {
      'report.json': `${JSON.stringify({ run: runId, ...shown }, null, 1)}\n`,
      'report.txt': reportText(runId, shown),
    },
  };
}
