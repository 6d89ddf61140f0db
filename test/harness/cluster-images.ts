// Images for the test cluster, made here without pulling anything:
//   - pause: Kubernetes' pause.c compiled static (test/tools/install-cluster.sh), as a FROM scratch OCI archive
//     written in-process, so `npm run cluster -- up` needs no Docker engine;
//   - a Node 24 base: the pinned `node` binary from node_modules, the shared libraries it links, npm (JS) and
//     busybox-static as /bin/sh and friends, `docker import`ed: what the official node:*-slim image gives the
//     Dockerfile;
//   - Berth itself, built from the repository's own Dockerfile on that base (BASE_IMAGE build argument).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  chmod,
  copyFile,
  cp,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import { exec, type ExecOptions, type ExecResult } from './exec.ts';
import { blob, mediaTypes, sha256, tarFiles, type Blob, type BuiltImage } from './oci-image.ts';
import { repoRoot } from './tools.ts';
import type { Dockerd } from './dockerd.ts';

/** The sandbox image containerd is configured with (it is never pulled). */
export const pauseImage = 'berth.test/pause:3.10';
/** What the tests build from the Dockerfile and import into the cluster's containerd. */
export const berthImage = 'berth.test/berth:e2e';

const nodeBinary = path.join(repoRoot, 'node_modules/node/bin/node');
const hostNpm = '/usr/lib/node_modules/npm';
const busybox = '/bin/busybox';
const caBundle = '/etc/ssl/certs/ca-certificates.crt';

/** The Node version the Dockerfile pins (and package.json's `node` devDependency). */
export async function pinnedNodeVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as {
    devDependencies: Record<string, string>;
  };
  const v = pkg.devDependencies['node'];
  if (v === undefined) throw new Error('package.json has no `node` devDependency');
  return v;
}

/**
 * The pause image: one uncompressed layer (tiny; no gzip keeps the diff id and the digest the same) holding the
 * static pause binary, run as nobody. `created` sets the config's creation time (the cleanup tests push pause
 * images with old dates, so Pods can really run a tag a policy would otherwise expire).
 */
export async function buildPauseImage(opts: { created?: string } = {}): Promise<BuiltImage> {
  const pause = await readFile(path.join(repoRoot, '.cache/bin/pause'));
  const layerTar = tarFiles([{ name: 'pause', content: pause, mode: 0o755 }]);
  const types = mediaTypes.oci;
  const layer = blob('application/vnd.oci.image.layer.v1.tar', layerTar);
  const config = blob(
    types.config,
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        ...(opts.created !== undefined ? { created: opts.created } : {}),
        config: { Entrypoint: ['/pause'], User: '65535:65535' },
        rootfs: { type: 'layers', diff_ids: [sha256(layerTar)] },
      }),
    ),
  );
  const manifest = blob(
    types.manifest,
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: types.manifest,
        config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
        layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
      }),
    ),
  );
  return {
    kind: 'image',
    format: 'oci',
    manifest,
    config,
    layers: [layer],
    platform: { os: 'linux', architecture: 'amd64' },
  };
}

/** Writes the pause image as an OCI archive (a tar of an OCI image layout) that `ctr images import` reads. */
export async function writePauseImageArchive(file: string): Promise<void> {
  const { manifest, config, layers } = await buildPauseImage();
  const [layer] = layers as [Blob];
  const types = mediaTypes.oci;
  const index = {
    schemaVersion: 2,
    mediaType: types.index,
    manifests: [
      {
        mediaType: manifest.mediaType,
        digest: manifest.digest,
        size: manifest.size,
        annotations: {
          'io.containerd.image.name': pauseImage,
          'org.opencontainers.image.ref.name': pauseImage.split(':')[1],
        },
      },
    ],
  };
  const blobFile = (b: { digest: string; bytes: Buffer }) => ({
    name: `blobs/sha256/${b.digest.slice('sha256:'.length)}`,
    content: b.bytes,
  });
  await writeFile(
    file,
    tarFiles([
      { name: 'oci-layout', content: Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })) },
      { name: 'index.json', content: Buffer.from(JSON.stringify(index)) },
      blobFile(layer),
      blobFile(config),
      blobFile(manifest),
    ]),
  );
}

/** The shared libraries `file` loads (absolute paths, from ldd), including the dynamic loader. */
async function sharedLibraries(file: string): Promise<string[]> {
  const out = (await exec('/usr/bin/ldd', [file], { timeoutMs: 30_000 })).stdout;
  const libs = new Set<string>();
  for (const line of out.split('\n')) {
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m?.[1] !== undefined) libs.add(m[1]);
  }
  if (libs.size === 0) throw new Error(`ldd found no libraries for ${file}:\n${out}`);
  return [...libs];
}

/**
 * Builds the Node base image (tag berth.test/node:<version>) in `docker` unless it exists; returns its tag.
 * Layout as the official image: node and npm in /usr/local, a shell in /bin, /tmp writable by everyone.
 */
export async function buildNodeBaseImage(docker: Dockerd, workDir: string): Promise<string> {
  const version = await pinnedNodeVersion();
  const tag = `berth.test/node:${version}-busybox`;
  if ((await docker.docker(['image', 'inspect', tag], { check: false })).code === 0) return tag;

  const root = path.join(workDir, 'node-rootfs');
  for (const d of ['bin', 'usr/local/bin', 'usr/local/lib', 'etc', 'tmp', 'root', 'lib64', 'usr/bin']) {
    await mkdir(path.join(root, d), { recursive: true });
  }
  await chmod(path.join(root, 'tmp'), 0o1777);
  await copyFile(nodeBinary, path.join(root, 'usr/local/bin/node'));
  await chmod(path.join(root, 'usr/local/bin/node'), 0o755);
  for (const lib of await sharedLibraries(nodeBinary)) {
    await mkdir(path.join(root, path.dirname(lib)), { recursive: true });
    await copyFile(lib, path.join(root, lib));
  }
  // npm is JavaScript: the machine's copy runs on any Node; the Dockerfile's `npm ci` needs it.
  await cp(hostNpm, path.join(root, 'usr/local/lib/node_modules/npm'), { recursive: true });
  await writeFile(
    path.join(root, 'usr/local/bin/npm'),
    '#!/bin/sh\nexec node /usr/local/lib/node_modules/npm/bin/npm-cli.js "$@"\n',
    { mode: 0o755 },
  );
  await copyFile(busybox, path.join(root, 'bin/busybox'));
  await chmod(path.join(root, 'bin/busybox'), 0o755);
  const applets = (await exec(busybox, ['--list'], { timeoutMs: 10_000 })).stdout.split('\n').filter(Boolean);
  for (const applet of applets) {
    if (applet === 'busybox') continue;
    await symlink('/bin/busybox', path.join(root, 'bin', applet)).catch(() => undefined);
  }
  await symlink('/bin/busybox', path.join(root, 'usr/bin/env')).catch(() => undefined);
  // The machine's CA bundle, as the official image carries Debian's: `npm ci` in the Dockerfile reaches the npm
  // registry the way this machine does (through whatever TLS proxy its bundle trusts).
  await mkdir(path.join(root, 'etc/ssl/certs'), { recursive: true });
  await copyFile(caBundle, path.join(root, 'etc/ssl/certs/ca-certificates.crt'));
  await writeFile(
    path.join(root, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532::/tmp:/bin/sh\n',
  );
  await writeFile(path.join(root, 'etc/group'), 'root:x:0:\nnonroot:x:65532:\n');

  const tar = path.join(workDir, 'node-rootfs.tar');
  await exec('/usr/bin/tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', tar, '.'], {
    timeoutMs: 120_000,
  });
  await docker.docker(
    [
      'import',
      '--change',
      'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin',
      '--change',
      `ENV NODE_EXTRA_CA_CERTS=${caBundle}`,
      '--change',
      'CMD ["node"]',
      tar,
      tag,
    ],
    { timeoutMs: 300_000 },
  );
  return tag;
}

/** Builds the Berth image from the repository's Dockerfile on the local Node base; returns its tag. */
export async function buildBerthImage(docker: Dockerd, workDir: string): Promise<string> {
  const base = await buildNodeBaseImage(docker, workDir);
  // --network host: the Dockerfile's `npm ci` reaches the npm registry the way the host does (the private
  // engine has no bridge network).
  await docker.docker(
    ['build', '--network', 'host', '--build-arg', `BASE_IMAGE=${base}`, '-t', berthImage, repoRoot],
    { timeoutMs: 900_000 },
  );
  return berthImage;
}

// What `docker build` sees of the repository (keep in step with .dockerignore), and what else decides the image:
// the Dockerfile, .dockerignore, the files copied from the machine into the base image, and this file's recipe.
export const buildContext = [
  'package.json',
  'package-lock.json',
  'registry',
  'operator',
  'image/warm-compile-cache.ts',
];
const buildInputs = ['Dockerfile', '.dockerignore', 'test/harness/cluster-images.ts'];
const imageCacheDir = path.join(repoRoot, '.cache/images');

async function filesUnder(root: string, relative: string): Promise<string[]> {
  const full = path.join(root, relative);
  const entries = await readdir(full, { withFileTypes: true }).catch(() => undefined);
  if (entries === undefined) return [relative];
  const files: string[] = [];
  for (const e of entries) {
    const child = path.join(relative, e.name);
    if (e.isDirectory()) files.push(...(await filesUnder(root, child)));
    else if (e.isFile() && !e.name.endsWith('.log')) files.push(child);
  }
  return files;
}

/** A digest of every input of the Berth image: a changed file, flag or base means another image. */
export async function berthImageKey(root = repoRoot): Promise<string> {
  const hash = createHash('sha256');
  const files = (await Promise.all([...buildContext, ...buildInputs].map((f) => filesUnder(root, f))))
    .flat()
    .sort();
  for (const file of files) {
    hash.update(`${file}\0`);
    hash.update(await readFile(path.join(root, file)));
    hash.update('\0');
  }
  // What buildNodeBaseImage copies from the machine (the node binary's shared libraries are Debian's, fixed).
  for (const file of [nodeBinary, path.join(hostNpm, 'package.json'), busybox, caBundle]) {
    hash.update(await readFile(file));
  }
  return hash.digest('hex').slice(0, 32);
}

/**
 * An archive of the Berth image built from the working tree, for `importImages`. The cluster test files each
 * start their own cluster and engine, but the image is the same for all of them: the first one builds it (~7 min
 * on the shared machine) and saves it under .cache/images by the digest of its inputs; the others import that
 * archive. A change to any input gives a new key, so a stale image is never used; older archives are removed.
 */
export async function berthImageArchive(docker: Dockerd, workDir: string): Promise<string> {
  const key = await berthImageKey();
  const archive = path.join(imageCacheDir, `berth-${key}.tar`);
  if (existsSync(archive)) return archive;
  await buildBerthImage(docker, workDir);
  await mkdir(imageCacheDir, { recursive: true });
  for (const old of await readdir(imageCacheDir)) await rm(path.join(imageCacheDir, old), { force: true });
  const partial = `${archive}.${process.pid}.partial`;
  await saveImages(docker, [berthImage], partial);
  // Renamed only once complete: a run killed while saving leaves no archive under the real name.
  await rename(partial, archive);
  return archive;
}

/** `docker save` of `tags` into one archive that `ctr images import` reads. */
export async function saveImages(docker: Dockerd, tags: readonly string[], file: string): Promise<void> {
  await docker.docker(['save', '-o', file, ...tags], { timeoutMs: 600_000 });
}

/**
 * `helm install` of charts/berth into `namespace` with the image built here; waits for the pods. `set` adds
 * `--set key=value` pairs (e.g. replicaCount, maintenance.confirmTimeout).
 */
export async function helmInstallBerth(
  helm: (args: readonly string[], opts?: ExecOptions) => Promise<ExecResult>,
  namespace: string,
  set: Readonly<Record<string, string>> = {},
): Promise<void> {
  const [repository = '', tag = ''] = berthImage.split(':');
  const values = { 'image.repository': repository, 'image.tag': tag, ...set };
  await helm(
    [
      'install',
      'berth',
      path.join(repoRoot, 'charts/berth'),
      '--namespace',
      namespace,
      '--create-namespace',
      ...Object.entries(values).flatMap(([k, v]) => ['--set', `${k}=${v}`]),
      '--wait',
      '--timeout',
      '6m',
    ],
    { timeoutMs: 420_000 },
  );
}
