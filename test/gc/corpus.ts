// Builds garbage-collection corpora by pushing through the registry's real HTTP API, and keeps a model of
// what was pushed (every manifest revision with its references and subject, every tag, every blob) so
// tests can compute what a collector must keep.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { pushBlob, putManifest, sha256 } from '../registry/client.ts';
import { trackDir } from '../harness/cleanup.ts';
import { makeTempDir } from '../harness/tmp.ts';

export const media = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  platform?: { architecture: string; os: string };
}

export interface ManifestRecord {
  repo: string;
  digest: string;
  mediaType: string;
  /** Digests the manifest references (config, layers, index children). */
  refs: string[];
  /** Index children (a subset of refs). */
  children: string[];
  subject?: string;
  bytes: Buffer;
}

/** Pushes content and records the model. */
export class CorpusBuilder {
  readonly url: string;
  /** Live manifest revisions by `${repo}@${digest}`. */
  readonly manifests = new Map<string, ManifestRecord>();
  /** Current tags: repo → tag → digest. */
  readonly tags = new Map<string, Map<string, string>>();
  /** Blob contents by digest (everything ever uploaded, manifests excluded). */
  readonly blobs = new Map<string, Buffer>();
  private counter = 0;

  constructor(url: string) {
    this.url = url;
  }

  unique(label: string, size = 64): Buffer {
    return Buffer.concat([Buffer.from(`${label}#${this.counter++}:`), randomBytes(size)]);
  }

  async blob(repo: string, content: Buffer): Promise<Descriptor> {
    const digest = await pushBlob(this.url, repo, content);
    this.blobs.set(digest, content);
    return { mediaType: media.ociLayer, digest, size: content.length };
  }

  /** Pushes an image (config + layers) and its manifest under `ref` (a tag) or by digest when ref is null. */
  async image(
    repo: string,
    ref: string | null,
    options: {
      layers: Buffer[];
      docker?: boolean;
      subject?: Descriptor;
      artifactType?: string;
      emptyConfig?: boolean;
    },
  ): Promise<Descriptor> {
    const docker = options.docker ?? false;
    const configBytes = options.emptyConfig
      ? Buffer.from('{}')
      : Buffer.from(
          JSON.stringify({
            architecture: 'amd64',
            os: 'linux',
            config: { Labels: { id: this.unique('config', 8).toString('hex') } },
            rootfs: { type: 'layers', diff_ids: [] },
          }),
        );
    const config = await this.blob(repo, configBytes);
    const layers: Descriptor[] = [];
    for (const layer of options.layers) layers.push(await this.blob(repo, layer));
    const body: Record<string, unknown> = {
      schemaVersion: 2,
      mediaType: docker ? media.dockerManifest : media.ociManifest,
      ...(options.artifactType ? { artifactType: options.artifactType } : {}),
      config: {
        mediaType: options.emptyConfig ? media.ociEmpty : docker ? media.dockerConfig : media.ociConfig,
        digest: config.digest,
        size: config.size,
      },
      layers: layers.map((l) => ({
        mediaType: docker ? media.dockerLayer : media.ociLayer,
        digest: l.digest,
        size: l.size,
      })),
      ...(options.subject
        ? {
            subject: {
              mediaType: options.subject.mediaType,
              digest: options.subject.digest,
              size: options.subject.size,
            },
          }
        : {}),
    };
    return this.manifest(repo, ref, body, {
      refs: [config.digest, ...layers.map((l) => l.digest)],
      children: [],
      ...(options.subject ? { subject: options.subject.digest } : {}),
      ...(options.artifactType ? { artifactType: options.artifactType } : {}),
    });
  }

  /** Pushes an OCI index (or Docker manifest list) of already pushed manifests. */
  async index(
    repo: string,
    ref: string | null,
    children: Descriptor[],
    options: { docker?: boolean; subject?: Descriptor } = {},
  ): Promise<Descriptor> {
    const docker = options.docker ?? false;
    const body: Record<string, unknown> = {
      schemaVersion: 2,
      mediaType: docker ? media.dockerList : media.ociIndex,
      manifests: children.map((c, i) => ({
        mediaType: c.mediaType,
        digest: c.digest,
        size: c.size,
        platform: { architecture: i % 2 === 0 ? 'amd64' : 'arm64', os: 'linux' },
      })),
      ...(options.subject
        ? {
            subject: {
              mediaType: options.subject.mediaType,
              digest: options.subject.digest,
              size: options.subject.size,
            },
          }
        : {}),
    };
    const digests = children.map((c) => c.digest);
    return this.manifest(repo, ref, body, {
      refs: digests,
      children: digests,
      ...(options.subject ? { subject: options.subject.digest } : {}),
    });
  }

  private async manifest(
    repo: string,
    ref: string | null,
    body: Record<string, unknown>,
    model: { refs: string[]; children: string[]; subject?: string; artifactType?: string },
  ): Promise<Descriptor> {
    const bytes = Buffer.from(JSON.stringify(body));
    const digest = sha256(bytes);
    const mediaType = String(body['mediaType']);
    const res = await putManifest(this.url, repo, ref ?? digest, bytes, mediaType);
    if (res.status !== 201)
      throw new Error(`manifest push to ${repo} failed: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
    this.manifests.set(`${repo}@${digest}`, {
      repo,
      digest,
      mediaType,
      refs: model.refs,
      children: model.children,
      ...(model.subject === undefined ? {} : { subject: model.subject }),
      bytes,
    });
    if (ref !== null) this.tagsOf(repo).set(ref, digest);
    return {
      mediaType,
      digest,
      size: bytes.length,
      ...(model.artifactType ? { artifactType: model.artifactType } : {}),
    };
  }

  private tagsOf(repo: string): Map<string, string> {
    let tags = this.tags.get(repo);
    if (!tags) {
      tags = new Map();
      this.tags.set(repo, tags);
    }
    return tags;
  }

  async deleteTag(repo: string, tag: string): Promise<void> {
    const res = await fetch(`${this.url}/v2/${repo}/manifests/${tag}`, { method: 'DELETE' });
    if (res.status !== 202) throw new Error(`tag delete failed: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
    this.tagsOf(repo).delete(tag);
  }

  /** Deletes a manifest revision by digest (and, as Distribution v3 does, the tags pointing at it). */
  async deleteManifest(repo: string, digest: string): Promise<void> {
    const res = await fetch(`${this.url}/v2/${repo}/manifests/${digest}`, { method: 'DELETE' });
    if (res.status !== 202) throw new Error(`manifest delete failed: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
    this.manifests.delete(`${repo}@${digest}`);
    const tags = this.tagsOf(repo);
    for (const [tag, target] of tags) if (target === digest) tags.delete(tag);
  }

  /** Pushes a manifest (and its blobs, by cross-repository mount) already in `from` into `repo`. */
  async copyManifest(repo: string, from: string, digest: string, ref: string | null): Promise<void> {
    const record = this.manifests.get(`${from}@${digest}`);
    if (!record) throw new Error(`no manifest ${from}@${digest}`);
    if (record.children.length > 0) throw new Error('copyManifest copies image manifests only');
    for (const ref of record.refs) await this.mount(repo, from, ref);
    const res = await putManifest(this.url, repo, ref ?? digest, record.bytes, record.mediaType);
    if (res.status !== 201) throw new Error(`manifest copy failed: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
    this.manifests.set(`${repo}@${digest}`, { ...record, repo });
    if (ref !== null) this.tagsOf(repo).set(ref, digest);
  }

  /** Mounts a blob from one repository into another (cross-repository mount). */
  async mount(repo: string, from: string, digest: string): Promise<void> {
    const res = await fetch(`${this.url}/v2/${repo}/blobs/uploads/?mount=${digest}&from=${from}`, {
      method: 'POST',
    });
    if (res.status !== 201) throw new Error(`mount failed: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  }
}

// ---------------------------------------------------------------------------------------------------------
// The model: what a collector keeps.

export interface Kept {
  /** `${repo}@${digest}` revisions kept. */
  revisions: Set<string>;
  /** Blob digests kept. */
  blobs: Set<string>;
}

/**
 * Berth's rule. Without deleteUntagged every revision is kept. With it: tagged manifests, the manifests a kept
 * index references (recursively) and referrers of kept manifests (recursively), per repository. Blobs: every
 * kept manifest's own digest and references.
 */
export function berthKeeps(corpus: CorpusBuilder, deleteUntagged: boolean): Kept {
  const revisions = new Set<string>();
  const byRepo = new Map<string, ManifestRecord[]>();
  for (const m of corpus.manifests.values()) {
    const list = byRepo.get(m.repo) ?? [];
    list.push(m);
    byRepo.set(m.repo, list);
  }
  for (const [repo, list] of byRepo) {
    if (!deleteUntagged) {
      for (const m of list) revisions.add(`${repo}@${m.digest}`);
      continue;
    }
    const stack = [...(corpus.tags.get(repo)?.values() ?? [])];
    for (let digest = stack.pop(); digest !== undefined; digest = stack.pop()) {
      const key = `${repo}@${digest}`;
      const record = corpus.manifests.get(key);
      if (!record || revisions.has(key)) continue;
      revisions.add(key);
      stack.push(...record.children);
      for (const m of list) if (m.subject === digest) stack.push(m.digest);
    }
  }
  const blobs = new Set<string>();
  for (const key of revisions) {
    const record = corpus.manifests.get(key);
    if (!record) continue;
    blobs.add(record.digest);
    for (const ref of record.refs) blobs.add(ref);
  }
  return { revisions, blobs };
}

// ---------------------------------------------------------------------------------------------------------
// Reading a storage root's state straight from disk.

export interface RootState {
  /** Digests with a `data` file in the blob store. */
  blobs: Set<string>;
  /** `${repo}@${digest}` revision links. */
  revisions: Set<string>;
  /** `${repo}->${digest}` layer links. */
  layerLinks: Set<string>;
  /** `${repo}:${tag}@${digest}` tag history (index) entries. */
  tagHistory: Set<string>;
  /** `${repo}:${tag}` → digest current tags. */
  currentTags: Map<string, string>;
}

async function names(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => !n.startsWith('.'));
  } catch {
    return [];
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

async function linkDigests(dir: string): Promise<string[]> {
  const result: string[] = [];
  for (const alg of await names(dir)) {
    for (const hex of await names(path.join(dir, alg))) {
      if (await exists(path.join(dir, alg, hex, 'link'))) result.push(`${alg}:${hex}`);
    }
  }
  return result;
}

export async function readRootState(root: string): Promise<RootState> {
  const v2 = path.join(root, 'docker/registry/v2');
  const state: RootState = {
    blobs: new Set(),
    revisions: new Set(),
    layerLinks: new Set(),
    tagHistory: new Set(),
    currentTags: new Map(),
  };
  for (const alg of await names(path.join(v2, 'blobs'))) {
    for (const prefix of await names(path.join(v2, 'blobs', alg))) {
      for (const hex of await names(path.join(v2, 'blobs', alg, prefix))) {
        if (await exists(path.join(v2, 'blobs', alg, prefix, hex, 'data'))) state.blobs.add(`${alg}:${hex}`);
      }
    }
  }
  const walk = async (repo: string): Promise<void> => {
    const dir = path.join(v2, 'repositories', repo);
    const children = await names(dir);
    if (children.includes('_manifests')) {
      for (const d of await linkDigests(path.join(dir, '_manifests/revisions')))
        state.revisions.add(`${repo}@${d}`);
      for (const tag of await names(path.join(dir, '_manifests/tags'))) {
        const tagDir = path.join(dir, '_manifests/tags', tag);
        for (const d of await linkDigests(path.join(tagDir, 'index')))
          state.tagHistory.add(`${repo}:${tag}@${d}`);
        try {
          state.currentTags.set(
            `${repo}:${tag}`,
            (await readFile(path.join(tagDir, 'current/link'), 'utf8')).trim(),
          );
        } catch {
          // no current link
        }
      }
    }
    if (children.includes('_layers')) {
      for (const d of await linkDigests(path.join(dir, '_layers'))) state.layerLinks.add(`${repo}->${d}`);
    }
    for (const child of children)
      if (!child.startsWith('_')) await walk(repo === '' ? child : `${repo}/${child}`);
  };
  await walk('');
  return state;
}

/** Items of `a` missing from `b`, sorted. */
export function minus<T>(a: Iterable<T>, b: { has(value: T): boolean }): T[] {
  return [...a].filter((x) => !b.has(x)).sort();
}

/**
 * A temp dir on a RAM-backed filesystem when there is one (/dev/shm): corpora are thousands of tiny files,
 * each written with an fsync, so a disk-backed temp dir makes these tests several times slower.
 */
export async function fastTempDir(prefix: string): Promise<string> {
  try {
    await access('/dev/shm', constants.W_OK);
    const dir = await mkdtemp(path.join('/dev/shm', `berth-${prefix}-`));
    trackDir(dir);
    return dir;
  } catch {
    return makeTempDir(prefix);
  }
}
