// The mark phase, one repository at a time (repositories run in parallel). Nothing is written here.
//
// Without deleteUntagged every manifest revision of the repository is a root (Distribution's default): its
// own blob and everything it references are marked, and each revision is read once and forgotten.
//
// With deleteUntagged the roots are the manifests that a tag currently points at. From them the collector
// keeps, within the same repository:
//   - the manifests an index (or manifest list) references, recursively — Distribution v3 semantics;
//     Distribution 2.8 deletes these children with -m, which breaks multi-platform images;
//   - referrers: manifests whose `subject` is a kept manifest, recursively (a signature of an SBOM of an
//     image). They are found by reading every revision of the repository, not through Berth's `_referrers`
//     index, so roots written by Distribution (which has no such index) are handled the same way.
// A referrer does not keep its subject: an untagged image that nothing references goes, with its referrers.
// Every other revision is a deletion candidate. Tags, references and subjects are per repository: a
// manifest tagged in another repository does not protect this repository's untagged revision (its blob
// stays, marked by the other repository).
//
// Memory: the global mark set (one string per kept digest, until gc.ts turns it into a mark-set.ts MarkSet
// for the sweep) plus, with deleteUntagged, the reference graph of
// the repositories in progress (digests only, never manifest bytes).
import { isPathNotFound, type StorageDriver } from '../storage/driver.ts';
import * as paths from '../storage/paths.ts';
import { readLink } from '../store/links.ts';
import { forEachConcurrent, type Limiter } from './limit.ts';
import { manifestReferences, type ManifestReferences } from './references.ts';
import { linkFileDigests, listDir, listLinkDigests } from './walk.ts';

export interface MarkContext {
  driver: StorageDriver;
  io: Limiter;
  concurrency: number;
  deleteUntagged: boolean;
  /** Every digest that must stay in the blob store. */
  marked: Set<string>;
  /** Called for each kept revision. */
  onKept: () => void;
}

/** An untagged manifest revision nothing kept references. */
export interface Candidate {
  digest: string;
  subject?: string;
}

/**
 * Reads a revision's manifest, or returns null when the revision is not a manifest of this repository
 * (Distribution skips such revisions too): its `link` file is missing — Distribution's manifest delete
 * removes only the link file, leaving the directory — or its bytes are not in the blob store. The link is
 * checked with a stat (unless a flat listing showed it), not read: its content is the directory's own digest
 * (Berth and Distribution write it so), and a stat is one cheap operation on every driver.
 */
async function readRevision(
  ctx: MarkContext,
  repository: string,
  { digest, linked }: Revision,
): Promise<ManifestReferences | null> {
  const { driver, io } = ctx;
  let content: Buffer;
  try {
    if (!linked) await io.run(() => driver.stat(paths.manifestRevisionLinkPath(repository, digest)));
    content = await io.run(() => driver.getContent(paths.blobDataPath(digest)));
  } catch (err) {
    if (isPathNotFound(err)) return null;
    throw err;
  }
  return manifestReferences(content, `${repository}@${digest}`);
}

function markReferences(ctx: MarkContext, digest: string, refs: ManifestReferences): void {
  ctx.marked.add(digest);
  for (const ref of refs.references) ctx.marked.add(ref);
  ctx.onKept();
}

interface Revision {
  digest: string;
  /** Its `link` file is known to exist (seen in a flat listing). */
  linked: boolean;
}

/**
 * The repository's revision digests. Where the driver lists flat (object stores) one walk returns the `link`
 * files themselves, which saves a stat per revision; elsewhere two directory listings.
 */
async function listRevisions(ctx: MarkContext, repository: string): Promise<Revision[]> {
  const root = paths.manifestRevisionsRoot(repository);
  if (!ctx.driver.flatWalk) {
    const digests = await listLinkDigests(ctx.driver, ctx.io, root);
    return digests.map((digest) => ({ digest, linked: false }));
  }
  const digests = await linkFileDigests(ctx.driver, ctx.io, root);
  return digests.map((digest) => ({ digest, linked: true }));
}

/** The digests the repository's tags currently point at. */
async function taggedDigests(ctx: MarkContext, repository: string): Promise<Set<string>> {
  const tagged = new Set<string>();
  const tags = await listDir(ctx.driver, ctx.io, paths.tagsRoot(repository));
  await forEachConcurrent(tags, ctx.concurrency, async (tag) => {
    const digest = await ctx.io.run(() => readLink(ctx.driver, paths.tagCurrentLinkPath(repository, tag)));
    if (digest !== null) tagged.add(digest);
  });
  return tagged;
}

/** Marks what the repository keeps and returns its deletion candidates (always empty without deleteUntagged). */
export async function markRepository(ctx: MarkContext, repository: string): Promise<Candidate[]> {
  const revisions = await listRevisions(ctx, repository);

  if (!ctx.deleteUntagged) {
    await forEachConcurrent(revisions, ctx.concurrency, async (revision) => {
      const refs = await readRevision(ctx, repository, revision);
      if (refs) markReferences(ctx, revision.digest, refs);
    });
    return [];
  }

  const tagged = await taggedDigests(ctx, repository);
  const graph = new Map<string, ManifestReferences>();
  const referrersOf = new Map<string, string[]>();
  await forEachConcurrent(revisions, ctx.concurrency, async (revision) => {
    const { digest } = revision;
    const refs = await readRevision(ctx, repository, revision);
    if (!refs) return;
    graph.set(digest, refs);
    if (refs.subject !== undefined) {
      const list = referrersOf.get(refs.subject);
      if (list) list.push(digest);
      else referrersOf.set(refs.subject, [digest]);
    }
  });

  const kept = new Set<string>();
  const stack = [...tagged].filter((digest) => graph.has(digest));
  for (let digest = stack.pop(); digest !== undefined; digest = stack.pop()) {
    if (kept.has(digest)) continue;
    kept.add(digest);
    const refs = graph.get(digest);
    if (!refs) continue;
    markReferences(ctx, digest, refs);
    for (const ref of refs.references) if (graph.has(ref) && !kept.has(ref)) stack.push(ref);
    for (const referrer of referrersOf.get(digest) ?? []) if (!kept.has(referrer)) stack.push(referrer);
  }

  const candidates: Candidate[] = [];
  for (const [digest, refs] of graph) {
    if (kept.has(digest)) continue;
    candidates.push(refs.subject === undefined ? { digest } : { digest, subject: refs.subject });
  }
  return candidates;
}
