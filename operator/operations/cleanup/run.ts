// One cleanup run over a registry: the repositories the policy covers, each planned with GitLab's algorithm
// (algorithm.ts) and, unless it is a dry run, its expired tags deleted one by one. Bounded: at most
// maxTagsPerRun deletions and the policy's timeout; what is left is reported as truncated and goes next run
// (GitLab's behaviour). A repository that cannot be read or a tag that cannot be deleted is reported and the
// run goes on; the run fails when any did.
import { compilePattern, matchesAny } from '../../../registry/auth/patterns.ts';
import type { CleanupPolicySpec } from '../../api/cleanup-policy.ts';
import { planCleanup, type CleanupPlan, type ImagesInUse, type KeepReason } from './algorithm.ts';
import type { RegistryClient } from './registry-client.ts';

export interface RepositoryReport {
  repository: string;
  /** Tags deleted (or, in a dry run, that would be). */
  deleted: string[];
  /** Expired tags left for a later run (budget or time). */
  deferred: string[];
  /** Tags kept, by reason. */
  kept: Partial<Record<KeepReason, string[]>>;
  errors: string[];
}

export interface RunReport {
  dryRun: boolean;
  repositories: RepositoryReport[];
  tagsDeleted: number;
  tagsKept: number;
  tagsInUse: number;
  truncated: boolean;
  errors: number;
}

export interface RunInput {
  registry: RegistryClient;
  spec: Pick<
    CleanupPolicySpec,
    'keepN' | 'olderThan' | 'nameRegex' | 'nameRegexKeep' | 'repositories' | 'dryRun' | 'maxTagsPerRun'
  >;
  inUse: ImagesInUse;
  now: Date;
  /** No new deletion starts after this time. */
  deadline: Date;
}

/** The repositories the policy's include/exclude patterns select, sorted. */
export function selectRepositories(
  all: readonly string[],
  scope: CleanupPolicySpec['repositories'],
): string[] {
  const include = scope.include.map(compilePattern);
  const exclude = scope.exclude.map(compilePattern);
  return all.filter((r) => matchesAny(include, r) && !matchesAny(exclude, r)).sort();
}

function keptByReason(plan: CleanupPlan): RepositoryReport['kept'] {
  const kept: RepositoryReport['kept'] = {};
  for (const d of plan.decisions) if (d.action === 'keep') (kept[d.reason] ??= []).push(d.tag);
  return kept;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export async function runCleanup(input: RunInput): Promise<RunReport> {
  const { registry, spec } = input;
  const report: RunReport = {
    dryRun: spec.dryRun,
    repositories: [],
    tagsDeleted: 0,
    tagsKept: 0,
    tagsInUse: 0,
    truncated: false,
    errors: 0,
  };
  const repositories = selectRepositories(await registry.repositories(), spec.repositories);
  let budget = spec.maxTagsPerRun;
  for (const repository of repositories) {
    const entry: RepositoryReport = { repository, deleted: [], deferred: [], kept: {}, errors: [] };
    report.repositories.push(entry);
    if (Date.now() >= input.deadline.getTime()) {
      entry.errors.push('not looked at: the run reached its timeout');
      report.truncated = true;
      continue;
    }
    let plan: CleanupPlan;
    try {
      plan = planCleanup({
        repository,
        tags: await registry.tagDetails(repository),
        rules: spec,
        now: input.now,
        inUse: input.inUse,
        maxDeletions: budget,
      });
    } catch (err) {
      entry.errors.push(`listing tags: ${message(err)}`);
      report.errors++;
      continue;
    }
    entry.kept = keptByReason(plan);
    entry.deferred = [...plan.deferred];
    for (const tag of plan.deletions) {
      if (Date.now() >= input.deadline.getTime()) {
        entry.deferred.push(tag);
        continue;
      }
      if (!spec.dryRun) {
        try {
          await registry.deleteTag(repository, tag);
        } catch (err) {
          entry.errors.push(message(err));
          report.errors++;
          continue;
        }
      }
      entry.deleted.push(tag);
    }
    budget -= entry.deleted.length;
    report.truncated ||= entry.deferred.length > 0;
    report.tagsDeleted += entry.deleted.length;
    report.tagsInUse += plan.kept.inUse;
    report.tagsKept += Object.values(plan.kept).reduce((a, b) => a + b, 0);
  }
  return report;
}
