// The real clients besides the Docker engine: skopeo and podman, each isolated from the machine's
// configuration (private policy, registries.conf, auth file and podman storage in a temp dir).
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Dockerd } from './dockerd.ts';
import { exec, type ExecOptions, type ExecResult } from './exec.ts';
import { makeTempDir, removeTempDir } from './tmp.ts';
import { requireTool } from './tools.ts';

interface Sandbox {
  dir: string;
  policy: string;
  env: NodeJS.ProcessEnv;
  podmanGlobal: string[];
}

let sandbox: Promise<Sandbox> | undefined;

async function createSandbox(): Promise<Sandbox> {
  const dir = await makeTempDir('clients');
  const policy = path.join(dir, 'policy.json');
  const registriesConf = path.join(dir, 'registries.conf');
  const storageConf = path.join(dir, 'storage.conf');
  const podmanDir = path.join(dir, 'podman');
  const tmp = path.join(dir, 'tmp');
  await mkdir(tmp);
  await mkdir(podmanDir);
  // Accept unsigned images: the system policy.json might not, and is not ours to change.
  await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  // Only fully qualified references; no mirrors or blocks from /etc/containers.
  await writeFile(registriesConf, 'unqualified-search-registries = []\n');
  // podman insists that REGISTRY_AUTH_FILE exists.
  await writeFile(path.join(dir, 'auth.json'), '{"auths":{}}\n');
  await writeFile(
    storageConf,
    `[storage]\ndriver = "vfs"\ngraphroot = "${podmanDir}/root"\nrunroot = "${podmanDir}/run"\n`,
  );
  return {
    dir,
    policy,
    env: {
      ...process.env,
      CONTAINERS_REGISTRIES_CONF: registriesConf,
      CONTAINERS_STORAGE_CONF: storageConf,
      REGISTRY_AUTH_FILE: path.join(dir, 'auth.json'),
      TMPDIR: tmp,
    },
    podmanGlobal: [
      `--root=${podmanDir}/root`,
      `--runroot=${podmanDir}/run`,
      `--tmpdir=${podmanDir}/tmp`,
      '--storage-driver=vfs',
      '--events-backend=none',
      '--cgroup-manager=cgroupfs',
    ],
  };
}

function getSandbox(): Promise<Sandbox> {
  sandbox ??= createSandbox();
  return sandbox;
}

export interface SkopeoOptions extends ExecOptions {
  /** Runs it through a wrapper, e.g. a Docker engine's `inMountNamespace` (its /etc/hosts). */
  wrap?: (file: string, args: readonly string[]) => [string, string[]];
}

/** skopeo with a private policy; pass `--tls-verify=false` (or src/dest variants) for the local registries. */
export async function skopeo(args: readonly string[], opts: SkopeoOptions = {}): Promise<ExecResult> {
  const bin = requireTool('skopeo');
  const sb = await getSandbox();
  const full = ['--policy', sb.policy, '--tmpdir', path.join(sb.dir, 'tmp'), ...args];
  const [file, fileArgs] = opts.wrap !== undefined ? opts.wrap(bin, full) : [bin, full];
  return exec(file, fileArgs, {
    ...opts,
    env: { ...sb.env, ...opts.env },
  });
}

/** podman as root with private vfs storage under a temp dir. */
export async function podman(args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const bin = requireTool('podman');
  const sb = await getSandbox();
  const [sub, ...rest] = args;
  // --signature-policy is per command, and only pull/push check signatures.
  const withPolicy =
    sub === 'pull' || sub === 'push' ? [sub, '--signature-policy', sb.policy, ...rest] : [...args];
  return exec(bin, [...sb.podmanGlobal, ...withPolicy], { ...opts, env: { ...sb.env, ...opts.env } });
}

/** Removes podman's storage and the client config (call from `after`). */
export async function removeClientState(): Promise<void> {
  if (sandbox === undefined) return;
  const sb = await sandbox;
  sandbox = undefined;
  await removeTempDir(sb.dir);
}

export interface ScratchImage {
  tag: string;
  /** How many layers the image has (one per COPY). */
  layers: number;
  /** The local image id (the config digest). */
  imageId: string;
}

/**
 * Builds `tag` FROM scratch with `layers` layers of fresh random content, so every call produces
 * blobs the registry has not seen.
 */
export async function buildScratchImage(
  docker: Dockerd['docker'],
  tag: string,
  layers: number,
  opts: { layerBytes?: number } = {},
): Promise<ScratchImage> {
  const ctx = await makeTempDir('build');
  try {
    const lines = ['FROM scratch'];
    for (let i = 0; i < layers; i++) {
      // Different sizes, so layers are told apart in failure output as well as by content.
      const size = Math.max(1, Math.floor((opts.layerBytes ?? 256 * 1024) * (1 + i / 2)));
      await writeFile(path.join(ctx, `layer-${i}.bin`), randomBytes(size));
      lines.push(`COPY layer-${i}.bin /layer-${i}.bin`);
    }
    await writeFile(path.join(ctx, 'Dockerfile'), `${lines.join('\n')}\n`);
    await docker(['build', '--quiet', '-t', tag, ctx]);
    const { stdout } = await docker(['image', 'inspect', '--format', '{{.Id}}', tag]);
    return { tag, layers, imageId: stdout.trim() };
  } finally {
    await removeTempDir(ctx);
  }
}
