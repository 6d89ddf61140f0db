// Reads a registry storage root (Distribution's layout) directly and says whether it is consistent:
// every blob's content matches its digest (no partial blob is visible), every link resolves, and
// nothing Distribution would trip over lies outside the upload area.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';

const digestRe = /^(sha256|sha512):([0-9a-f]+)$/;

export interface StoreReport {
  /** Digests of every blob under blobs/ */
  blobs: string[];
  /** Repository names (directories holding _manifests or _layers) */
  repositories: string[];
  problems: string[];
  /** Harmless remains, e.g. an empty blob directory (no data: the blob does not exist). */
  leftovers: string[];
}

export function v2Root(root: string): string {
  return path.join(root, 'docker', 'registry', 'v2');
}

async function list(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

async function hashFile(file: string, algorithm: string): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

export function blobDataPath(root: string, digest: string): string {
  const m = digestRe.exec(digest);
  if (!m?.[1] || !m[2]) throw new Error(`not a digest: ${digest}`);
  return path.join(v2Root(root), 'blobs', m[1], m[2].slice(0, 2), m[2], 'data');
}

function isLinkDir(segments: string[]): boolean {
  const last = segments.at(-1) ?? '';
  return last === 'current' || /^[0-9a-f]{64,128}$/.test(last);
}

export async function checkStore(root: string): Promise<StoreReport> {
  const problems: string[] = [];
  const leftovers: string[] = [];
  const blobs: string[] = [];
  const blobsDir = path.join(v2Root(root), 'blobs');
  for (const alg of await list(blobsDir)) {
    for (const prefix of await list(path.join(blobsDir, alg))) {
      const prefixDir = path.join(blobsDir, alg, prefix);
      if (!(await stat(prefixDir)).isDirectory()) {
        problems.push(`stray file ${prefixDir}`);
        continue;
      }
      for (const hex of await list(prefixDir)) {
        const dir = path.join(prefixDir, hex);
        const entries = await list(dir);
        const rel = path.relative(root, dir);
        if (!hex.startsWith(prefix)) problems.push(`blob ${rel} is under the wrong prefix`);
        // A leftover beside `data` (e.g. a temp file of a write cut short) is invisible to readers.
        for (const e of entries) if (e !== 'data') leftovers.push(`stray file ${rel}/${e}`);
        if (!entries.includes('data')) {
          leftovers.push(`blob dir without data: ${rel}`);
          continue;
        }
        const actual = await hashFile(path.join(dir, 'data'), alg);
        if (actual !== hex)
          problems.push(`partial or corrupt blob ${rel}/data (content hashes to ${alg}:${actual})`);
        else blobs.push(`${alg}:${hex}`);
      }
    }
  }
  const blobSet = new Set(blobs);
  const repositories: string[] = [];
  const reposDir = path.join(v2Root(root), 'repositories');

  const checkLink = async (repo: string, file: string, segments: string[]): Promise<void> => {
    const rel = path.relative(root, file);
    const content = (await readFile(file, 'utf8')).trim();
    if (!digestRe.test(content)) {
      problems.push(`link ${rel} holds "${content.slice(0, 100)}", not a digest`);
      return;
    }
    if (!blobSet.has(content)) problems.push(`link ${rel} → ${content}, which has no blob`);
    // …/<alg>/<hex>/link must name itself.
    const [alg, hex] = segments.slice(-3, -1);
    const area = segments[0];
    const named =
      area === '_layers' ||
      segments[1] === 'revisions' ||
      (segments[1] === 'tags' && segments[3] === 'index');
    if (named && content !== `${alg}:${hex}`) problems.push(`link ${rel} holds ${content}`);
    // A tag's current link must point at a manifest revision of the same repository.
    if (segments[1] === 'tags' && segments[3] === 'current') {
      const [calg, chex] = content.split(':');
      const revision = path.join(reposDir, repo, '_manifests', 'revisions', calg ?? '', chex ?? '', 'link');
      if (!(await isFile(revision)))
        problems.push(`tag link ${rel} → ${content}, which is no revision of ${repo}`);
    }
  };

  const walk = async (dir: string, repoParts: string[]): Promise<void> => {
    const entries = await list(dir);
    if (entries.some((e) => e === '_manifests' || e === '_layers')) repositories.push(repoParts.join('/'));
    for (const e of entries) {
      const p = path.join(dir, e);
      if (e.startsWith('_')) {
        // _uploads holds in-progress uploads: anything goes there.
        if (e !== '_uploads') await walkArea(p, repoParts.join('/'), [e]);
      } else if ((await stat(p)).isDirectory()) {
        await walk(p, [...repoParts, e]);
      } else {
        problems.push(`stray file ${path.relative(root, p)}`);
      }
    }
  };

  const walkArea = async (dir: string, repo: string, segments: string[]): Promise<void> => {
    for (const e of await list(dir)) {
      const p = path.join(dir, e);
      if ((await stat(p)).isDirectory()) await walkArea(p, repo, [...segments, e]);
      else if (e === 'link') await checkLink(repo, p, [...segments, e]);
      // Beside a link (in `current/` or a `<hex>/` dir) a stray file is invisible to readers; where
      // Distribution lists names (tags/, <alg>/, …) it would show up as a bogus tag or digest.
      else if (isLinkDir(segments)) leftovers.push(`stray file ${path.relative(root, p)}`);
      else problems.push(`stray file ${path.relative(root, p)}`);
    }
  };

  await walk(reposDir, []);
  return { blobs: blobs.sort(), repositories: repositories.sort(), problems, leftovers };
}
