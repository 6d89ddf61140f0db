// GitLab's cleanup-policy algorithm for one repository, as a pure function from the repository's tag details
// (GET /berth/v1/repositories/<name>/tags), the policy's rules, the time, and the images Pods use, to a
// decision per tag. GitLab's order (CleanupTagsBaseService and its docs, "How the cleanup policy works"):
//
//   1. collect the tags;  2. keep `latest`;  3. keep names nameRegex does not match;  4. keep names
//   nameRegexKeep matches;  5. keep tags without a manifest;  6. order the rest by date, newest first;
//   7. keep the newest keepN of them;  8. keep those newer than olderThan;  9. delete the rest, by tag.
//
// So nameRegexKeep and `latest` never take one of the keepN places. Berth adds two steps between 8 and 9,
// which only ever turn a deletion into a keep and so change no other tag's fate: tags whose manifest or
// `repository:tag` a Pod uses are kept (inUse), and deletions beyond the run's budget wait for the next run
// (defer), the oldest going first.
import type { TagDetailsEntry } from '../../../registry/http/tag-details-api.ts';
import { compileTagRegex, type CleanupPolicySpec } from '../../api/cleanup-policy.ts';
import { parseAge } from '../../api/formats.ts';

export type CleanupRules = Pick<CleanupPolicySpec, 'keepN' | 'olderThan' | 'nameRegex' | 'nameRegexKeep'>;

/** What Pods in the cluster run, from their specs and `status.containerStatuses[].imageID`. */
export interface ImagesInUse {
  /** Manifest digests (`sha256:…`), from references by digest and from image IDs. */
  digests: ReadonlySet<string>;
  /** `repository:tag` references, the registry host removed (`team/app:v1`). */
  references: ReadonlySet<string>;
}

export interface CleanupInput {
  repository: string;
  tags: readonly TagDetailsEntry[];
  rules: CleanupRules;
  now: Date;
  inUse?: ImagesInUse;
  /** How many tags this run may still delete (maxTagsPerRun less earlier repositories'); unbounded if unset. */
  maxDeletions?: number;
}

/** Why a tag is kept, by the step that keeps it. */
export type KeepReason =
  | 'latest' // step 2
  | 'noMatch' // step 3: nameRegex does not match the whole name
  | 'nameRegexKeep' // step 4
  | 'noManifest' // step 5: the tag's manifest is not in the repository
  | 'keepN' // step 7
  | 'newerThan' // step 8: not older than olderThan
  | 'inUse'; // Berth: a Pod uses the image

/** Where a tag's date comes from: the image's `created`, else when the tag was written, else none (= now). */
export type DateSource = 'created' | 'tagWrittenAt' | 'none';

export interface DatedTag {
  tag: string;
  digest: string;
  /** The date the tag was ordered by (RFC 3339). */
  date: string;
  dateSource: DateSource;
}

/** Reasons of steps 2–5, which come before tags are dated. */
type UndatedReason = Extract<KeepReason, 'latest' | 'noMatch' | 'nameRegexKeep' | 'noManifest'>;

export type TagDecision =
  | { action: 'keep'; tag: string; digest?: string; reason: UndatedReason }
  | (DatedTag & { action: 'keep'; reason: Exclude<KeepReason, UndatedReason> })
  /** Deleted by tag; manifestStillTagged: a tag that stays points at the same manifest, so it stays too. */
  | (DatedTag & { action: 'delete'; manifestStillTagged: boolean })
  /** Expired, but over this run's budget: the next run deletes it. */
  | (DatedTag & { action: 'defer' });

export interface CleanupPlan {
  repository: string;
  /** One per tag, sorted by tag name. */
  decisions: TagDecision[];
  /** The tags to delete now, oldest first (so an interrupted run has removed the most expired ones). */
  deletions: string[];
  /** Expired tags left for the next run. */
  deferred: string[];
  /** Some expired tags were deferred. */
  truncated: boolean;
  /** Manifests no remaining tag points at once the deletions are done (a GC with delete-untagged frees them). */
  untaggedDigests: string[];
  kept: Record<KeepReason, number>;
}

/** Decides every tag of one repository. Throws only on rules the schema would refuse. */
export function planCleanup(input: CleanupInput): CleanupPlan {
  const { repository, rules, now } = input;
  const nameRegex = compileTagRegex(rules.nameRegex);
  const keepRegex = rules.nameRegexKeep === undefined ? undefined : compileTagRegex(rules.nameRegexKeep);
  const cutoff = now.getTime() - parseAge(rules.olderThan);
  const maxDeletions = input.maxDeletions ?? Infinity;
  if (!(maxDeletions === Infinity || (Number.isSafeInteger(maxDeletions) && maxDeletions >= 0))) {
    throw new RangeError(`maxDeletions must be a whole number >= 0, got ${maxDeletions}`);
  }

  const decisions = new Map<string, TagDecision>();
  const keep = (tag: TagDetailsEntry, reason: UndatedReason): void => {
    decisions.set(tag.name, {
      action: 'keep',
      tag: tag.name,
      ...(tag.digest !== undefined ? { digest: tag.digest } : {}),
      reason,
    });
  };

  // Steps 1–5: filters on the name and the manifest.
  const candidates: Candidate[] = [];
  for (const tag of input.tags) {
    if (tag.name === 'latest') keep(tag, 'latest');
    else if (!nameRegex.test(tag.name)) keep(tag, 'noMatch');
    else if (keepRegex?.test(tag.name)) keep(tag, 'nameRegexKeep');
    else if (tag.digest === undefined || tag.mediaType === undefined) keep(tag, 'noManifest');
    else candidates.push(candidate(tag, tag.digest, now));
  }

  // Step 6: newest first; equal dates by name, Z to A (GitLab sorts ascending and reverses the list, which
  // the registry gives sorted by name), so the order never depends on how the tags were listed.
  candidates.sort(
    (a, b) => b.ms - a.ms || (a.dated.tag < b.dated.tag ? 1 : a.dated.tag > b.dated.tag ? -1 : 0),
  );

  // Steps 7 and 8, then Berth's in-use protection.
  const expired: Candidate[] = [];
  for (const [i, c] of candidates.entries()) {
    if (i < rules.keepN) decisions.set(c.dated.tag, { ...c.dated, action: 'keep', reason: 'keepN' });
    else if (c.ms >= cutoff) decisions.set(c.dated.tag, { ...c.dated, action: 'keep', reason: 'newerThan' });
    else if (isInUse(c, repository, input.inUse)) {
      decisions.set(c.dated.tag, { ...c.dated, action: 'keep', reason: 'inUse' });
    } else expired.push(c);
  }

  // The budget: the oldest expired tags are deleted now, the newer ones wait.
  const deleteCount = Math.min(expired.length, maxDeletions);
  const toDelete = expired.slice(expired.length - deleteCount).reverse();
  const toDefer = expired.slice(0, expired.length - deleteCount).reverse();
  for (const c of toDefer) decisions.set(c.dated.tag, { ...c.dated, action: 'defer' });

  // Step 9: by tag; a manifest stays while any tag that is not deleted now points at it.
  const deleting = new Set(toDelete.map((c) => c.dated.tag));
  const stillTagged = new Set<string>();
  for (const tag of input.tags) {
    if (!deleting.has(tag.name) && tag.digest !== undefined) stillTagged.add(tag.digest);
  }
  for (const c of toDelete) {
    decisions.set(c.dated.tag, {
      ...c.dated,
      action: 'delete',
      manifestStillTagged: stillTagged.has(c.dated.digest),
    });
  }

  const sorted = [...decisions.values()].sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
  const kept: Record<KeepReason, number> = {
    latest: 0,
    noMatch: 0,
    nameRegexKeep: 0,
    noManifest: 0,
    keepN: 0,
    newerThan: 0,
    inUse: 0,
  };
  for (const d of sorted) if (d.action === 'keep') kept[d.reason]++;
  const untagged = new Set(toDelete.map((c) => c.dated.digest).filter((d) => !stillTagged.has(d)));
  return {
    repository,
    decisions: sorted,
    deletions: toDelete.map((c) => c.dated.tag),
    deferred: toDefer.map((c) => c.dated.tag),
    truncated: toDefer.length > 0,
    untaggedDigests: [...untagged].sort(),
    kept,
  };
}

interface Candidate {
  dated: DatedTag;
  ms: number;
  /** An index's manifests: a Pod may run one of them by digest. */
  children: readonly string[];
}

function candidate(tag: TagDetailsEntry, digest: string, now: Date): Candidate {
  const created = parseDate(tag.created);
  const written = parseDate(tag.tagWrittenAt);
  // A `created` at or before 1970 is a reproducible build's placeholder (SOURCE_DATE_EPOCH=0, Go's zero
  // time), not a date: ordering by it would make every such image the oldest.
  const [ms, dateSource]: [number, DateSource] =
    created !== undefined && created > 0
      ? [created, 'created']
      : written !== undefined
        ? [written, 'tagWrittenAt']
        : [now.getTime(), 'none']; // GitLab: a tag without a date counts as the newest
  return {
    dated: { tag: tag.name, digest, date: new Date(ms).toISOString(), dateSource },
    ms,
    children: tag.manifests ?? [],
  };
}

function parseDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

function isInUse(c: Candidate, repository: string, inUse: ImagesInUse | undefined): boolean {
  if (inUse === undefined) return false;
  if (inUse.references.has(`${repository}:${c.dated.tag}`)) return true;
  return inUse.digests.has(c.dated.digest) || c.children.some((d) => inUse.digests.has(d));
}
