// Token auth as users run it, for the e2e tests: signing keys made in process (registry/auth/keypair.ts), the
// issuer as a real `berth-registry token-server CONFIG` process, access tokens made with
// `berth-registry access-token create`, the registry as `berth-registry serve CONFIG` with `auth.token`, and
// `berth-registry standalone` (what `npm start` runs) with the admin token it prints.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { dump } from 'js-yaml';
import { generateSigningKeyPair } from '../../registry/auth/keypair.ts';
import type { RegistryScope } from '../../registry/auth/grants.ts';
import { startBerth } from './berth.ts';
import { spawnDaemon, type Daemon } from './daemon.ts';
import { exec } from './exec.ts';
import { freePort } from './ports.ts';
import type { ConfigObject, RunningRegistry } from './registry.ts';
import { makeTempDir, removeTempDir } from './tmp.ts';
import { registryNodeFlags, repoRoot, requireTool } from './tools.ts';
import { httpStatus, waitFor } from './wait.ts';

export const authService = 'berth-e2e-registry';
export const authIssuer = 'berth-e2e-issuer';

export interface KeyFiles {
  key: string;
  certificate: string;
  certificatePem: string;
}

/** A fresh signing key and its self-signed certificate, written as `<name>.key` / `<name>.crt` in `dir`. */
export async function writeSigningKeyPair(dir: string, name: string): Promise<KeyFiles> {
  const pair = await generateSigningKeyPair({ commonName: authIssuer });
  const key = path.join(dir, `${name}.key`);
  const certificate = path.join(dir, `${name}.crt`);
  await writeFile(key, pair.privateKeyPem, { mode: 0o600 });
  await writeFile(certificate, pair.certificatePem);
  return { key, certificate, certificatePem: pair.certificatePem };
}

/** `berth-registry access-token create ...`; returns the secret it printed. */
export async function createAccessToken(
  file: string,
  name: string,
  scopes: readonly RegistryScope[],
  repositories: readonly string[],
): Promise<string> {
  const node = requireTool('node');
  const { stdout } = await exec(
    node,
    [
      'registry/cli.ts',
      'access-token',
      'create',
      '--name',
      name,
      '--scopes',
      scopes.join(','),
      '--repositories',
      repositories.join(','),
      '--file',
      file,
    ],
    { cwd: repoRoot, timeoutMs: 60_000 },
  );
  const secret = stdout.trim();
  if (!/^bth_[A-Za-z0-9_-]+$/.test(secret)) throw new Error(`access-token create printed ${stdout}`);
  return secret;
}

export interface RunningTokenServer {
  /** http://127.0.0.1:<port> */
  url: string;
  /** The token endpoint: the registry's auth.token.realm. */
  realm: string;
  dir: string;
  configPath: string;
  accessTokenFile: string;
  daemon: Daemon;
  output(): string;
  stop(): Promise<void>;
}

export interface TokenServerOptions {
  keys: KeyFiles;
  /** Repositories anyone may pull. */
  public?: string[];
  /** Merged over the generated token-server config. */
  config?: ConfigObject;
}

/** `berth-registry token-server CONFIG` as a child process, up once `/healthz` answers. */
export async function startTokenServer(opts: TokenServerOptions): Promise<RunningTokenServer> {
  const node = requireTool('node');
  const dir = await makeTempDir('issuer');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const accessTokenFile = path.join(dir, 'access-tokens.yml');
  const configPath = path.join(dir, 'token-server.yml');
  await writeFile(
    configPath,
    dump({
      addr: `127.0.0.1:${port}`,
      issuer: authIssuer,
      service: authService,
      signingKey: opts.keys.key,
      certificate: opts.keys.certificate,
      accessTokenFile,
      public: opts.public ?? [],
      reloadInterval: '1s',
      // Tests poll with fresh credentials until the issuer has re-read its file; those misses must not lock
      // 127.0.0.1 out (the limiter itself is covered by the unit tests).
      rateLimit: { maxFailures: 1000 },
      // debug: one "token issued" line per token, with its subject (tests check who logged in).
      log: { level: 'debug' },
      ...opts.config,
    }),
  );
  const daemon = spawnDaemon('token-server', node, ['registry/cli.ts', 'token-server', configPath], {
    cwd: repoRoot,
  });
  const stop = async (): Promise<void> => {
    await daemon.stop(10_000);
    await removeTempDir(dir);
  };
  try {
    await waitFor(
      `the token server to answer GET ${url}/healthz`,
      async () => ((await httpStatus(`${url}/healthz`)) === 200 ? true : undefined),
      {
        timeoutMs: 30_000,
        abort: () => (daemon.running() ? undefined : `token-server exited\n${daemon.output()}`),
      },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    realm: `${url}/auth/token`,
    dir,
    configPath,
    accessTokenFile,
    daemon,
    output: daemon.output,
    stop,
  };
}

/** The registry's `auth.token` section for an issuer. */
export function tokenAuthConfig(realm: string, rootcertbundle: string): ConfigObject {
  return { auth: { token: { realm, service: authService, issuer: authIssuer, rootcertbundle } } };
}

export interface AuthStack {
  registry: RunningRegistry;
  issuer: RunningTokenServer;
  keys: KeyFiles;
  /** Adds an access token with the CLI; the issuer picks the file change up (checked until it does). */
  addToken(name: string, scopes: readonly RegistryScope[], repositories: readonly string[]): Promise<string>;
  output(): string;
  stop(): Promise<void>;
}

/**
 * The production topology on loopback: `berth-registry token-server` and `berth-registry serve` with
 * `auth.token` pointing at it, sharing one keypair (the registry holds only the certificate).
 */
export async function startAuthStack(opts: { public?: string[] } = {}): Promise<AuthStack> {
  const keyDir = await makeTempDir('keys');
  const keys = await writeSigningKeyPair(keyDir, 'token');
  const issuer = await startTokenServer({ keys, ...(opts.public ? { public: opts.public } : {}) });
  let registry: RunningRegistry;
  try {
    registry = await startBerth({ config: tokenAuthConfig(issuer.realm, keys.certificate) });
  } catch (err) {
    await issuer.stop();
    await removeTempDir(keyDir);
    throw err;
  }
  return {
    registry,
    issuer,
    keys,
    async addToken(name, scopes, repositories) {
      const secret = await createAccessToken(issuer.accessTokenFile, name, scopes, repositories);
      await waitForLogin(issuer, name, secret);
      return secret;
    },
    output: () => `--- registry\n${registry.output()}\n--- token-server\n${issuer.output()}`,
    async stop() {
      await Promise.allSettled([registry.stop(), issuer.stop()]);
      await removeTempDir(keyDir);
    },
  };
}

/** Waits until the issuer accepts `name`/`secret` (it re-reads the access-token file every reloadInterval). */
export async function waitForLogin(issuer: { realm: string }, name: string, secret: string): Promise<void> {
  const authorization = `Basic ${Buffer.from(`${name}:${secret}`).toString('base64')}`;
  await waitFor(
    `the issuer to accept access token ${name}`,
    async () => {
      const res = await fetch(`${issuer.realm}?service=${authService}`, { headers: { authorization } });
      await res.body?.cancel();
      return res.status === 200 ? true : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 250 },
  );
}

export interface RunningStandalone {
  url: string;
  /** 127.0.0.1:<port>, or localhost:<port> with `wildcard` */
  host: string;
  dataDir: string;
  /** What it printed on stdout and stderr. */
  output(): string;
  daemon: Daemon;
  stop(): Promise<void>;
}

/**
 * `node registry/cli.ts standalone --data DIR --addr 127.0.0.1:<port>` (what `npm start` runs, on a free port),
 * up once it has printed its token notice. The data dir is the caller's and is kept.
 */
export async function startStandalone(
  dataDir: string,
  opts: { wildcard?: boolean } = {},
): Promise<RunningStandalone> {
  const node = requireTool('node');
  const port = await freePort();
  // wildcard: `--addr :PORT` as `npm start` (`:5000`), reached as localhost:PORT like `docker login localhost:5000`.
  const host = opts.wildcard ? `localhost:${port}` : `127.0.0.1:${port}`;
  const addr = opts.wildcard ? `:${port}` : host;
  // REGISTRY_* in the caller's environment would change the embedded default config.
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('REGISTRY_')) env[k] = v;
  const daemon = spawnDaemon(
    'standalone',
    node,
    [...registryNodeFlags, 'registry/cli.ts', 'standalone', '--data', dataDir, '--addr', addr],
    { cwd: repoRoot, env },
  );
  try {
    await waitFor(
      'berth-registry standalone to print its access-token notice',
      async () =>
        /^ {2}password: \S+$|access token "admin" exists/m.test(daemon.output()) ? true : undefined,
      {
        timeoutMs: 60_000,
        abort: () => (daemon.running() ? undefined : `standalone exited\n${daemon.output()}`),
      },
    );
  } catch (err) {
    await daemon.stop(10_000);
    throw err;
  }
  return {
    url: `http://${host}`,
    host,
    dataDir,
    output: daemon.output,
    daemon,
    stop: async () => {
      await daemon.stop(10_000);
    },
  };
}

/** The admin credentials a first start printed. */
export function printedAdminToken(output: string): { username: string; password: string } {
  const username = /^ {2}username: (\S+)$/m.exec(output)?.[1];
  const password = /^ {2}password: (\S+)$/m.exec(output)?.[1];
  if (!username || !password) throw new Error(`no admin token in the standalone output:\n${output}`);
  return { username, password };
}

/** A registry token from the issuer for `scopes` (GET with Basic credentials, as `docker pull` asks). */
export async function issueToken(
  realm: string,
  scopes: readonly string[],
  credentials?: { username: string; password: string },
): Promise<string> {
  const url = new URL(realm);
  url.searchParams.set('service', authService);
  for (const scope of scopes) url.searchParams.append('scope', scope);
  const headers: Record<string, string> = {};
  if (credentials) {
    const basic = Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64');
    headers['Authorization'] = `Basic ${basic}`;
  }
  const res = await fetch(url, { headers });
  const body = (await res.json()) as { token?: unknown };
  if (res.status !== 200 || typeof body.token !== 'string') {
    throw new Error(`token request to ${url.origin} failed: ${res.status} ${JSON.stringify(body)}`);
  }
  return body.token;
}
