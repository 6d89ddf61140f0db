// Where the real parts live. Paths are fixed (not looked up on PATH) so a run uses exactly what
// test/tools/install-system.sh installs: e.g. a newer docker CLI in /usr/local/bin must not shadow
// Debian's, because the harness relies on the Debian CLI's legacy builder.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const tools = {
  docker: '/usr/bin/docker',
  dockerd: '/usr/sbin/dockerd',
  skopeo: '/usr/bin/skopeo',
  podman: '/usr/bin/podman',
  distribution: '/usr/bin/docker-registry',
  /** CNCF Distribution v3.1, built by bench/install.sh (the benchmarks' second reference). */
  'distribution-v3': path.join(repoRoot, '.cache/bin/distribution-v3'),
  conformance: path.join(repoRoot, '.cache/bin/oci-conformance'),
  node: path.join(repoRoot, 'node_modules/.bin/node'),
} as const;

export type ToolName = keyof typeof tools;

/** The tool's path; throws a message that says how to get it when it is missing. */
export function requireTool(name: ToolName): string {
  const file = tools[name];
  if (!existsSync(file)) {
    const how =
      name === 'node'
        ? 'run `npm ci` (Node 24 is a devDependency)'
        : name === 'distribution-v3'
          ? 'run bench/install.sh'
          : 'run test/tools/install-system.sh';
    throw new Error(`required tool "${name}" is missing at ${file}: ${how}`);
  }
  return file;
}

export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    throw new Error(`${what} needs root (it starts daemons with private storage); run the tests as root`);
  }
}

/**
 * The Node flags Berth's registry runs with (README, "Running the registry"): a 1 MiB young generation makes
 * V8 reclaim the request buffers of a large push promptly, which keeps peak RSS ~50 MiB lower. `--expose-gc`
 * gives registry/body-garbage.ts V8's minor GC, which it runs every 4 MiB of upload body; with the filesystem
 * writer's 1 MiB queue that keeps the body's external memory below the old generation's slack, even under a
 * pod's heap limit, so a push starts no full mark-compacts, and the 64 MiB initial old generation that used to
 * prevent them is gone (bench/README.md, "The bimodal push explained", "Memory under manifest load" and "Push
 * in a pod: body Buffers count against the old generation").
 */
export const registryNodeFlags: readonly string[] = ['--max-semi-space-size=1', '--expose-gc'];

/**
 * The Node flags the operator image runs berth-operator with (Dockerfile). While many reconciles allocate at
 * once, V8's defaults let the heap grow to ~3x what is live (a 16 MiB young generation, an old generation
 * limit up to 4x the live size); a 1 MiB young generation and a fixed 1.5x growth factor keep the peak RSS
 * ~100 MiB lower, for more frequent (short) collections during the burst (bench/README.md, "Operator").
 */
export const operatorNodeFlags: readonly string[] = ['--max-semi-space-size=1', '--heap-growing-percent=50'];
