// The GC corpus of `node bench/s3.ts`, written straight into a bucket in Distribution's storage layout with
// the S3 SDK (far faster than pushing it through a registry). Per repository: image manifests with a unique
// config, three unique layers and one layer from a pool shared by all repositories; even ones tagged, odd
// ones untagged (garbage under -m), every tenth one deleted (revision link gone); a tagged OCI index over
// the first two; one orphan blob. Both collectors then run on server-side copies of this bucket.
import { createHash, randomBytes } from 'node:crypto';
import { forEachConcurrent } from '../registry/gc/limit.ts';
import { rootDirectory, type Buckets } from './s3-store.ts';

export interface S3Corpus {
  bucket: string;
  repos: number;
  manifests: number;
  blobs: number;
  objects: number;
  seconds: number;
}

interface Desc {
  digest: string;
  size: number;
}

const hexOf = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Sizes the corpus to about `targetBlobs` blobs. */
export function corpusShape(targetBlobs: number): { repos: number; perRepo: number; pool: number } {
  const repos = Math.max(2, Math.round(targetBlobs / 100));
  const pool = Math.max(4, Math.round(targetBlobs / 25));
  // Five unique blobs per image manifest (config, 3 layers, the manifest), two per repository (index, orphan).
  const perRepo = Math.max(3, Math.round((targetBlobs - pool - 2 * repos) / (5 * repos)));
  return { repos, perRepo, pool };
}

export async function writeS3Corpus(
  buckets: Buckets,
  bucket: string,
  targetBlobs: number,
  concurrency = 32,
): Promise<S3Corpus> {
  const started = performance.now();
  const { repos, perRepo, pool } = corpusShape(targetBlobs);
  const v2 = `${rootDirectory.slice(1)}/docker/registry/v2`;
  const written = new Set<string>();
  let objects = 0;
  let manifests = 0;
  const put = async (key: string, body: Buffer | string): Promise<void> => {
    await buckets.put(bucket, key, body);
    objects++;
  };
  const blob = async (content: Buffer): Promise<Desc> => {
    const hex = hexOf(content);
    if (!written.has(hex)) {
      written.add(hex);
      await put(`${v2}/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`, content);
    }
    return { digest: `sha256:${hex}`, size: content.length };
  };
  const link = (repo: string, kind: string, digest: string): Promise<void> =>
    put(`${v2}/repositories/${repo}/${kind}/sha256/${digest.slice(7)}/link`, digest);
  const tag = async (repo: string, name: string, digest: string): Promise<void> => {
    const dir = `${v2}/repositories/${repo}/_manifests/tags/${name}`;
    await put(`${dir}/current/link`, digest);
    await put(`${dir}/index/sha256/${digest.slice(7)}/link`, digest);
  };
  const shared = Array.from({ length: pool }, (_, i) =>
    Buffer.concat([Buffer.from(`shared ${i} `), randomBytes(256)]),
  );

  await forEachConcurrent(
    Array.from({ length: repos }, (_, r) => r),
    concurrency,
    async (r) => {
      const repo = `team${r % 10}/svc${r}`;
      const images: Desc[] = [];
      for (let j = 0; j < perRepo; j++) {
        const config = await blob(
          Buffer.from(
            JSON.stringify({ architecture: 'amd64', os: 'linux', id: randomBytes(8).toString('hex') }),
          ),
        );
        const layers = [await blob(shared[(r * 5 + j) % pool] ?? Buffer.alloc(1))];
        for (let k = 0; k < 3; k++) layers.push(await blob(randomBytes(128 + k)));
        await Promise.all([config, ...layers].map((b) => link(repo, '_layers', b.digest)));
        const manifest = await blob(
          Buffer.from(
            JSON.stringify({
              schemaVersion: 2,
              mediaType: 'application/vnd.oci.image.manifest.v1+json',
              config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
              layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...l })),
            }),
          ),
        );
        manifests++;
        images.push(manifest);
        if (j % 10 === 9) continue; // deleted: the blobs stay, the revision link does not
        await link(repo, '_manifests/revisions', manifest.digest);
        if (j % 2 === 0 && j >= 2) await tag(repo, `v${j}`, manifest.digest);
      }
      const index = await blob(
        Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: 'application/vnd.oci.image.index.v1+json',
            manifests: images.slice(0, 2).map((m, i) => ({
              mediaType: 'application/vnd.oci.image.manifest.v1+json',
              ...m,
              platform: { architecture: i === 0 ? 'amd64' : 'arm64', os: 'linux' },
            })),
          }),
        ),
      );
      manifests++;
      await link(repo, '_manifests/revisions', index.digest);
      await tag(repo, 'multi', index.digest);
      const orphan = await blob(randomBytes(512));
      await link(repo, '_layers', orphan.digest);
    },
  );
  return {
    bucket,
    repos,
    manifests,
    blobs: written.size,
    objects,
    seconds: (performance.now() - started) / 1000,
  };
}
