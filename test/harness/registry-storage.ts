// What a registry keeps in a storage backend, read from outside it: the blobs (Distribution's layout) and the
// heartbeat record every running registry process writes with its mode (registry/heartbeat.ts). The cluster
// tests read a filesystem backend through the hostPath folder of its volume and an S3 backend through MinIO's
// API, to tell which backend the registry pods really run on (their fresh heartbeats) and what it holds.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { heartbeatSchema, instancesRoot, staleAfterMs, type Heartbeat } from '../../registry/heartbeat.ts';
import type { Minio } from './minio.ts';

export type Backend =
  | {
      kind: 'filesystem';
      /** The registry's root directory on this machine (a local volume's folder). */ dir: string;
    }
  | {
      kind: 's3';
      minio: Minio;
      bucket: string;
      /** spec.storage.s3.rootDirectory ('' for none). */ root: string;
    };

const blobsRoot = 'docker/registry/v2/blobs/sha256';

/** The key prefix of a root directory in the bucket (as the s3 driver forms keys: no leading slash). */
const s3Prefix = (root: string) => {
  const trimmed = root.replace(/^\/+/, '').replace(/\/+$/, '');
  return trimmed === '' ? '' : `${trimmed}/`;
};

export function describeBackend(b: Backend): string {
  return b.kind === 'filesystem' ? `filesystem ${b.dir}` : `s3 ${b.bucket}/${s3Prefix(b.root)}`;
}

/** Every heartbeat record in the backend, fresh or not (unreadable records are skipped). */
export async function heartbeats(b: Backend): Promise<Heartbeat[]> {
  const records: string[] = [];
  const rel = instancesRoot.replace(/^\//, '');
  if (b.kind === 'filesystem') {
    const dir = path.join(b.dir, rel);
    for (const f of await readdir(dir).catch((): string[] => [])) {
      const text = await readFile(path.join(dir, f), 'utf8').catch(() => undefined);
      if (text !== undefined) records.push(text);
    }
  } else {
    for (const key of await b.minio.listKeys(b.bucket, `${s3Prefix(b.root)}${rel}/`)) {
      const text = await b.minio.readObject(b.bucket, key).catch(() => undefined);
      if (text !== undefined) records.push(text);
    }
  }
  return records.flatMap((text) => {
    try {
      const parsed = heartbeatSchema.safeParse(JSON.parse(text));
      return parsed.success ? [parsed.data] : [];
    } catch {
      return [];
    }
  });
}

/** Records younger than the staleness bound: processes running on this backend now. */
export async function freshHeartbeats(b: Backend, now = Date.now()): Promise<Heartbeat[]> {
  return (await heartbeats(b)).filter((h) => now - Date.parse(h.updatedAt) < staleAfterMs);
}

/** The digests (sha256:<hex>) of every blob whose data the backend holds. */
export async function blobDigests(b: Backend): Promise<Set<string>> {
  const digests = new Set<string>();
  if (b.kind === 'filesystem') {
    const root = path.join(b.dir, blobsRoot);
    for (const prefix of await readdir(root).catch((): string[] => [])) {
      for (const hex of await readdir(path.join(root, prefix)).catch((): string[] => [])) {
        const files = await readdir(path.join(root, prefix, hex)).catch((): string[] => []);
        if (files.includes('data')) digests.add(`sha256:${hex}`);
      }
    }
    return digests;
  }
  for (const key of await b.minio.listKeys(b.bucket, `${s3Prefix(b.root)}${blobsRoot}/`)) {
    const m = /\/([0-9a-f]{64})\/data$/.exec(key);
    if (m?.[1] !== undefined) digests.add(`sha256:${m[1]}`);
  }
  return digests;
}

/** Whether the backend holds the tag link of `repo:tag` (Distribution's _manifests/tags/<tag>/current/link). */
export async function hasTagLink(b: Backend, repo: string, tag: string): Promise<boolean> {
  const rel = `docker/registry/v2/repositories/${repo}/_manifests/tags/${tag}/current/link`;
  if (b.kind === 'filesystem') {
    return readFile(path.join(b.dir, rel)).then(
      () => true,
      () => false,
    );
  }
  const key = `${s3Prefix(b.root)}${rel}`;
  return (await b.minio.listKeys(b.bucket, key)).includes(key);
}
