// A private Docker engine: its own socket, data-root, exec-root and containerd namespace, so it never
// touches a system dockerd or its users.
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { spawnDaemon, describeExit } from './daemon.ts';
import { exec, type ExecOptions, type ExecResult } from './exec.ts';
import { makeTempDir, removeTempDir } from './tmp.ts';
import { requireRoot, requireTool } from './tools.ts';
import { waitFor } from './wait.ts';

export interface Dockerd {
  /** DOCKER_HOST of the private engine, unix:///…/docker.sock */
  host: string;
  dir: string;
  /** Runs the Debian docker CLI against this engine. Throws on a non-zero exit unless `check: false`. */
  docker(args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  output(): string;
  stop(): Promise<void>;
}

export async function startDockerd(): Promise<Dockerd> {
  requireRoot('dockerd');
  const dockerdBin = requireTool('dockerd');
  const dockerBin = requireTool('docker');
  const dir = await makeTempDir('dockerd');
  const sock = path.join(dir, 'docker.sock');
  const host = `unix://${sock}`;
  const configFile = path.join(dir, 'daemon.json');
  const clientConfig = path.join(dir, 'client');
  // An empty daemon.json so /etc/docker/daemon.json cannot change the engine under test.
  await writeFile(configFile, '{}\n');
  await mkdir(clientConfig);
  // A private client config: no credential helpers or auths from the user's ~/.docker.
  await writeFile(path.join(clientConfig, 'config.json'), '{}\n');
  const namespace = `berth-e2e-${path.basename(dir).slice(-6)}`;

  const daemon = spawnDaemon('dockerd', dockerdBin, [
    `--host=${host}`,
    `--config-file=${configFile}`,
    `--data-root=${path.join(dir, 'data')}`,
    `--exec-root=${path.join(dir, 'exec')}`,
    `--pidfile=${path.join(dir, 'docker.pid')}`,
    // vfs works on any filesystem (no overlay inside the sandbox); no iptables/bridge: we never run containers.
    '--storage-driver=vfs',
    '--iptables=false',
    '--bridge=none',
    // If a system containerd is running, dockerd uses it: keep our objects in our own namespaces.
    `--containerd-namespace=${namespace}`,
    `--containerd-plugins-namespace=${namespace}-plugins`,
    '--log-level=warn',
  ]);

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DOCKER_HOST: host,
    DOCKER_CONFIG: clientConfig,
    // Debian's docker.io has no buildx; the legacy builder handles FROM scratch.
    DOCKER_BUILDKIT: '0',
    DOCKER_CLI_HINTS: 'false',
  };
  delete env['DOCKER_CONTEXT'];
  delete env['DOCKER_TLS_VERIFY'];
  delete env['DOCKER_CERT_PATH'];

  const docker = (args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> =>
    exec(dockerBin, args, { ...opts, env: { ...env, ...opts.env } });

  const stop = async (): Promise<void> => {
    await daemon.stop(20_000);
    await unmountUnder(dir);
    await removeTempDir(dir);
  };

  try {
    await waitFor(
      'dockerd to answer `docker info`',
      async () =>
        (await docker(['info'], { check: false, timeoutMs: 10_000 })).code === 0 ? true : undefined,
      {
        timeoutMs: 60_000,
        intervalMs: 250,
        abort: () =>
          daemon.running() ? undefined : `dockerd exited early\n${daemon.output().slice(-4_000)}`,
      },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  void daemon.exited.then((e) => {
    if (e.signal !== 'SIGTERM' && e.code !== 0)
      process.stderr.write(`[harness] dockerd ${describeExit(e)}\n`);
  });

  return { host, dir, docker, output: daemon.output, stop };
}

/** Lazily unmounts anything dockerd left mounted below `dir` (deepest first), so the dir can be removed. */
async function unmountUnder(dir: string): Promise<void> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const mounts = info
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((m): m is string => m !== undefined && (m === dir || m.startsWith(`${dir}/`)))
    .map((m) => m.replace(/\\040/g, ' '))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) {
    await exec('umount', ['-l', m], { check: false });
  }
}
