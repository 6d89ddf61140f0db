// `npm start` (berth-registry standalone) as a newcomer meets it, for the e2e tests: a real process on loopback,
// its stdout (the logs) and stderr (the notices) kept apart, signals sent to it, and a PATH on which `node` is
// the machine's own (Node 20 here), so a command the program prints is run exactly as a user would run it.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { killGroup, trackGroup, untrackGroup } from '../harness/cleanup.ts';
import { freePort } from '../harness/ports.ts';
import { registryNodeFlags, repoRoot, requireTool } from '../harness/tools.ts';
import { waitFor } from '../harness/wait.ts';

/** PATH without this repository's node_modules/.bin: `node` and `npx` are whatever the machine has. */
export function machinePath(): string {
  const local = path.join(repoRoot, 'node_modules', '.bin');
  return (process.env['PATH'] ?? '')
    .split(path.delimiter)
    .filter(
      (dir) =>
        dir !== '' && path.resolve(dir) !== local && !dir.endsWith(`${path.sep}node_modules${path.sep}.bin`),
    )
    .join(path.delimiter);
}

/** The environment of a user's shell: the machine's PATH, no REGISTRY_* overrides from the test's caller. */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('REGISTRY_') && !k.startsWith('npm_')) env[k] = v;
  }
  return { ...env, PATH: machinePath(), ...extra };
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Spawned {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
  running(): boolean;
}

/** Starts `file args` in its own process group, keeping stdout and stderr apart. */
export function spawnApart(
  file: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Spawned {
  const child = spawn(file, args, {
    cwd: options.cwd ?? repoRoot,
    env: options.env ?? userEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString('utf8')));
  child.stderr?.on('data', (b: Buffer) => (err += b.toString('utf8')));
  const pid = child.pid ?? -1;
  if (pid > 0) trackGroup(pid);
  let exit: Exit | undefined;
  const exited = new Promise<Exit>((resolve) => {
    child.on('error', (e) => {
      err += `[test] cannot start ${file}: ${e.message}\n`;
      exit ??= { code: null, signal: null };
      resolve(exit);
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      if (pid > 0) {
        killGroup(pid, 'SIGKILL');
        untrackGroup(pid);
      }
      resolve(exit);
    });
  });
  return { child, stdout: () => out, stderr: () => err, exited, running: () => exit === undefined };
}

export interface StandaloneProcess extends Spawned {
  /** http://127.0.0.1:<port> */
  url: string;
  /** 127.0.0.1:<port> */
  host: string;
  dataDir: string;
  /** Sends `signal` to the registry process itself (what Ctrl-C or `kill` does). */
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL to the group if it has not stopped after `graceMs`. */
  stop(graceMs?: number): Promise<Exit>;
}

export interface StandaloneOptions {
  /** Extra environment (REGISTRY_* overrides of the embedded config). */
  env?: Record<string, string>;
}

/** `node registry/cli.ts standalone --data DIR --addr 127.0.0.1:<free port>`, up once it printed its notice. */
export async function startStandaloneProcess(
  dataDir: string,
  options: StandaloneOptions = {},
): Promise<StandaloneProcess> {
  const node = requireTool('node');
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const spawned = spawnApart(
    node,
    [...registryNodeFlags, 'registry/cli.ts', 'standalone', '--data', dataDir, '--addr', host],
    { env: userEnv(options.env) },
  );
  const signal = (sig: NodeJS.Signals) => {
    if (spawned.running() && spawned.child.pid !== undefined) process.kill(spawned.child.pid, sig);
  };
  const stop = async (graceMs = 20_000): Promise<Exit> => {
    signal('SIGTERM');
    const timer = setTimeout(() => {
      if (spawned.child.pid !== undefined) killGroup(spawned.child.pid, 'SIGKILL');
    }, graceMs);
    const exit = await spawned.exited;
    clearTimeout(timer);
    return exit;
  };
  try {
    await waitFor(
      'berth-registry standalone to print its access-token notice',
      // Either stream: the tests that check which one it is say so themselves.
      async () =>
        /^ {2}password: \S+$|access token "admin" exists/m.test(spawned.stderr() + spawned.stdout())
          ? true
          : undefined,
      {
        timeoutMs: 60_000,
        abort: () =>
          spawned.running() ? undefined : `standalone exited\n${spawned.stdout()}\n${spawned.stderr()}`,
      },
    );
  } catch (err) {
    await stop(5_000);
    throw err;
  }
  return { ...spawned, url: `http://${host}`, host, dataDir, signal, stop };
}

/** The admin secret a first start printed (in `notice`: its stderr, or all it printed). */
export function printedSecret(notice: string): string {
  const secret = /^ {2}password: (\S+)$/m.exec(notice)?.[1];
  if (!secret) throw new Error(`no admin secret in the notice:\n${notice}`);
  return secret;
}

/** The JSON log records among `output`'s lines. */
export function logRecords(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

export function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** A registry token from the standalone issuer (GET with Basic credentials, as `docker pull` asks). */
export async function fetchToken(
  url: string,
  username: string,
  password: string,
  scopes: readonly string[] = [],
): Promise<{ status: number; token?: string }> {
  const realm = new URL(`${url}/auth/token`);
  realm.searchParams.set('service', 'berth-registry');
  for (const scope of scopes) realm.searchParams.append('scope', scope);
  const res = await fetch(realm, { headers: { Authorization: basicAuth(username, password) } });
  const body = (await res.json()) as { token?: unknown };
  return { status: res.status, ...(typeof body.token === 'string' ? { token: body.token } : {}) };
}
