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
  /**
   * Command and arguments that run `file args` in the engine's mount namespace, where its /etc/hosts and
   * /etc/docker/certs.d are (so skopeo resolves and trusts the same registries). Without `hosts` or
   * `trustedRegistries` the engine shares the host's namespace and this runs the command as it is.
   */
  inMountNamespace(file: string, args: readonly string[]): [string, string[]];
}

export interface DockerdOptions {
  /** Extra /etc/hosts entries (host name -> address) for the engine, as a private bind mount. */
  hosts?: Record<string, string>;
  /** CA certificates (PEM) the engine trusts per registry host (/etc/docker/certs.d/<host>/ca.crt). */
  trustedRegistries?: Record<string, string>;
}

/**
 * Runs dockerd in a private mount namespace whose /etc/hosts and /etc/docker are files of the test: the
 * machine's own stay untouched. `exec` keeps dockerd's pid that of the started process.
 */
async function privateMountCommand(
  dir: string,
  opts: DockerdOptions,
  file: string,
  args: readonly string[],
): Promise<[string, string[]]> {
  const hosts = path.join(dir, 'hosts');
  const etcDocker = path.join(dir, 'etc-docker');
  const base = await readFile('/etc/hosts', 'utf8').catch(() => '127.0.0.1 localhost\n');
  const extra = Object.entries(opts.hosts ?? {}).map(([name, addr]) => `${addr} ${name}`);
  await writeFile(hosts, `${base.trimEnd()}\n${extra.join('\n')}\n`);
  for (const [host, ca] of Object.entries(opts.trustedRegistries ?? {})) {
    await mkdir(path.join(etcDocker, 'certs.d', host), { recursive: true });
    await writeFile(path.join(etcDocker, 'certs.d', host, 'ca.crt'), ca);
  }
  await mkdir(etcDocker, { recursive: true });
  const script = 'mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/docker && shift 2 && exec "$@"';
  return [
    '/usr/bin/unshare',
    [
      '--mount',
      '--propagation',
      'private',
      '--',
      '/bin/sh',
      '-c',
      script,
      'sh',
      hosts,
      etcDocker,
      file,
      ...args,
    ],
  ];
}

export async function startDockerd(opts: DockerdOptions = {}): Promise<Dockerd> {
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

  const dockerdArgs = [
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
  ];
  const isolated = opts.hosts !== undefined || opts.trustedRegistries !== undefined;
  const [file, args] = isolated
    ? await privateMountCommand(dir, opts, dockerdBin, dockerdArgs)
    : [dockerdBin, dockerdArgs];
  const daemon = spawnDaemon('dockerd', file, args);
  const inMountNamespace = (cmd: string, cmdArgs: readonly string[]): [string, string[]] =>
    isolated
      ? ['/usr/bin/nsenter', [`--target=${String(daemon.pid)}`, '--mount', '--', cmd, ...cmdArgs]]
      : [cmd, [...cmdArgs]];

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

  return { host, dir, docker, output: daemon.output, stop, inMountNamespace };
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
