// `berth-registry standalone [--data DIR] [--addr ADDR] [--realm URL] [--public PATTERN]...`: the embedded
// default behind `npm start`. One process serves the registry with filesystem storage under the data dir and
// the token issuer at /auth/token, with token auth on and anonymous pull off (unless --public says otherwise).
//
// Under the data dir (default ./data):
//   docker/registry/v2/...      the registry's storage (Distribution's layout; what `npm start` always used)
//   auth/token.key, token.crt   the issuer's signing key and its self-signed certificate (made on first start)
//   auth/access-tokens.yml      access tokens (scrypt hashes only); `admin` is created on first start
//
// On the first start the admin token's secret is printed once, on stderr, set apart from the log lines on stdout
// (it never goes through the logger); later starts only say it exists. Commands it prints are written as
// `npx berth-registry ...`: that runs the CLI with the Node 24 in node_modules whatever `node` the machine has.
//
// The issuer is local, so the registry also refuses bearer tokens issued for an access token that has been
// revoked since (once the issuer has re-read the access-token file; see token-verifier.ts).
//
// The base configuration is registry/default-config.yml (REGISTRY_* overrides apply); its changes are followed
// like `serve` does, with the standalone settings laid over every reloaded version.
//
// The realm: Docker fetches tokens from the realm URL exactly as the challenge names it, so it must be an address
// the client can reach. By default it is built from --addr (a wildcard host becomes `localhost`, which is what
// `docker login localhost:5000` needs); for clients on other machines pass --realm with the registry's external
// address. (`auth.token.autoredirect` would derive it from each request's Host, but assumes https.)
import { access, chmod, mkdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join, relative, resolve, isAbsolute } from 'node:path';
import type { Logger } from 'pino';
import { addAccessToken, readAccessTokenFile } from './auth/access-tokens.ts';
import { ensureSigningKeyPair } from './auth/keypair.ts';
import { parseTokenServerConfig } from './auth/token-server-config.ts';
import { createTokenService, registerTokenRoutes, type TokenService } from './auth/token-server.ts';
import { configRevision, loadConfig, type LoadedConfig } from './config/load.ts';
import type { RegistryConfig } from './config/schema.ts';
import { ConfigWatcher } from './config/watch.ts';
import {
  buildRegistry,
  parseListenAddress,
  type Registry,
  type RevocationCheck,
  type RunningRegistry,
} from './serve.ts';

export const defaultConfigPath = fileURLToPath(new URL('./default-config.yml', import.meta.url));

/** The issuer's path on the registry's own address, and the names both sides agree on. */
export const standaloneRealmPath = '/auth/token';
export const standaloneService = 'berth-registry';
export const standaloneIssuer = 'berth-token-issuer';
export const adminTokenName = 'admin';

export interface StandaloneOptions {
  /** Storage and auth material; relative to the working directory. Default `data`. */
  dataDir?: string;
  /** Listen address, `[host]:port`. Default: the base config's `http.addr` (`:5000`). */
  addr?: string;
  /** The token realm clients are sent to. Default: `http(s)://<addr host or localhost>:<port>/auth/token`. */
  realm?: string;
  /** Repository patterns anyone may pull without logging in. Default none. */
  publicRepositories?: string[];
  /** The base configuration. Default registry/default-config.yml. */
  configPath?: string;
  logger?: Logger;
  /** Where the admin-token notice goes. Default stderr: apart from the logs on stdout. */
  notice?: { write(text: string): unknown };
}

/** How the CLI is run from the repository: the machine's `node` may be too old for .ts files, npx is not. */
export const cliCommand = 'npx berth-registry';

export interface StandalonePaths {
  dataDir: string;
  authDir: string;
  signingKey: string;
  certificate: string;
  accessTokens: string;
}

export function standalonePaths(dataDir: string): StandalonePaths {
  const root = resolve(dataDir);
  const authDir = join(root, 'auth');
  return {
    dataDir: root,
    authDir,
    signingKey: join(authDir, 'token.key'),
    certificate: join(authDir, 'token.crt'),
    accessTokens: join(authDir, 'access-tokens.yml'),
  };
}

/** `host:port` as a client writes it: wildcard hosts are reached as `localhost`, IPv6 literals in brackets. */
export function clientAddress(addr: string): string {
  const { host, port } = parseListenAddress(addr);
  const reachable = host === '::' || host === '0.0.0.0' || host === '' ? 'localhost' : host;
  return `${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}

/** The standalone settings laid over a (reloaded) base config. */
export function standaloneConfig(
  base: RegistryConfig,
  paths: StandalonePaths,
  options: { addr?: string; realm?: string },
): RegistryConfig {
  const addr = options.addr ?? base.http.addr;
  const scheme = base.http.tls?.certificate ? 'https' : 'http';
  const { filesystem, ...storage } = base.storage;
  return {
    ...base,
    storage: {
      ...storage,
      inmemory: undefined,
      s3: undefined,
      gcs: undefined,
      azure: undefined,
      filesystem: { maxthreads: filesystem?.maxthreads ?? 100, rootdirectory: paths.dataDir },
    },
    http: { ...base.http, addr },
    auth: {
      ...base.auth,
      token: {
        realm: options.realm ?? `${scheme}://${clientAddress(addr)}${standaloneRealmPath}`,
        service: standaloneService,
        issuer: standaloneIssuer,
        rootcertbundle: paths.certificate,
        autoredirect: false,
        autoredirectpath: `${standaloneRealmPath}/`,
      },
    },
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** A path as the user would type it from the working directory. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/**
 * Creates the admin access token when the access-token file does not exist yet (the first start). Returns its
 * secret then, undefined on later starts: a revoked admin token is not brought back.
 */
async function ensureAdminToken(paths: StandalonePaths): Promise<string | undefined> {
  if (await exists(paths.accessTokens)) return undefined;
  return addAccessToken(paths.accessTokens, {
    name: adminTokenName,
    scopes: ['read_registry', 'write_registry', 'delete_registry', 'admin_registry'],
    repositories: ['**'],
    description: 'created by `berth-registry standalone` on first start',
  });
}

function firstStartNotice(secret: string, registry: string, paths: StandalonePaths): string {
  const rule = '='.repeat(78);
  return [
    '',
    rule,
    'Berth: token authentication is on. An admin access token was created; its secret is shown',
    'only this once (only a hash is stored). Keep it somewhere safe.',
    '',
    `  username: ${adminTokenName}`,
    `  password: ${secret}`,
    '',
    'Log in with (the password is read from stdin):',
    `  docker login ${registry} -u ${adminTokenName} --password-stdin`,
    '',
    `Scopes: read_registry, write_registry, delete_registry, admin_registry on '**'. Stored in`,
    `${shown(paths.accessTokens)}; create more tokens with \`${cliCommand} access-token create\`.`,
    rule,
    '',
  ].join('\n');
}

async function laterStartNotice(registry: string, paths: StandalonePaths): Promise<string> {
  const file = await readAccessTokenFile(paths.accessTokens);
  const admin = file.tokens.some((t) => t.name === adminTokenName);
  return [
    '',
    admin
      ? `Berth: the admin access token "${adminTokenName}" exists in ${shown(paths.accessTokens)} (its secret was shown on the first start).`
      : `Berth: ${file.tokens.length} access token(s) in ${shown(paths.accessTokens)}; there is no "${adminTokenName}" token any more.`,
    'Create another access token (its secret is printed once) with:',
    `  ${cliCommand} access-token create --name NAME --scopes read_registry,write_registry \\`,
    `    --repositories '**' --file ${shown(paths.accessTokens)}`,
    `and log in with: docker login ${registry} -u NAME --password-stdin`,
    '',
  ].join('\n');
}

export async function standalone(options: StandaloneOptions = {}): Promise<RunningRegistry> {
  const paths = standalonePaths(options.dataDir ?? 'data');
  const configPath = options.configPath ?? defaultConfigPath;
  const overlay = {
    ...(options.addr !== undefined ? { addr: options.addr } : {}),
    ...(options.realm !== undefined ? { realm: options.realm } : {}),
  };
  const base = await loadConfig(configPath);
  const withOverlay = (loaded: LoadedConfig) => {
    const config = standaloneConfig(loaded.config, paths, overlay);
    return { config, revision: configRevision(config) };
  };
  const effective = withOverlay(base);
  // A bad --addr fails before anything is written; the realm names the port, so it cannot be picked at random.
  if (parseListenAddress(effective.config.http.addr).port === 0 && options.realm === undefined) {
    throw new Error('standalone: --addr needs a fixed port (the token realm names it), or pass --realm');
  }

  // Also validates --public before anything is written.
  const issuerConfig = parseTokenServerConfig(
    {
      addr: effective.config.http.addr, // unused: the issuer shares the registry's server
      realmPath: standaloneRealmPath,
      issuer: standaloneIssuer,
      service: standaloneService,
      signingKey: paths.signingKey,
      certificate: paths.certificate,
      accessTokenFile: paths.accessTokens,
      public: options.publicRepositories ?? [],
      log: { level: effective.config.log.level },
    },
    paths.authDir,
  );
  await mkdir(paths.dataDir, { recursive: true });
  await mkdir(paths.authDir, { recursive: true, mode: 0o700 });
  await chmod(paths.authDir, 0o700);
  await ensureSigningKeyPair(paths.signingKey, paths.certificate, { commonName: standaloneIssuer });
  const adminSecret = await ensureAdminToken(paths);

  // A start that fails from here on must not swallow the admin secret: without the file it was just created
  // in, the next start creates the token again.
  const forgetAdmin = async () => {
    if (adminSecret !== undefined) await rm(paths.accessTokens, { force: true });
  };
  // The issuer is made once the registry is; until then nothing can have been issued, so nothing is revoked.
  let issuer: TokenService | undefined;
  const isRevoked: RevocationCheck = (credential) => issuer?.isRevoked(credential) ?? false;
  let registry: Registry;
  try {
    registry = await buildRegistry(effective, {
      isRevoked,
      ...(options.logger ? { logger: options.logger } : {}),
    });
  } catch (err) {
    await forgetAdmin();
    throw err;
  }
  const log = registry.log;
  const watcher = new ConfigWatcher(configPath, { initial: base });
  let url: string;
  try {
    const service = await createTokenService(issuerConfig, {
      logger: log.child({ component: 'token-issuer' }),
    });
    issuer = service;
    registry.app.addHook('onClose', () => service.close());
    await registerTokenRoutes(registry.app, service, standaloneRealmPath);
    watcher.on('change', (next: LoadedConfig) => void registry.apply(withOverlay(next)));
    watcher.on('error', (err: Error) =>
      log.error({ err: err.message }, 'configuration reload rejected; keeping the running configuration'),
    );
    url = await registry.listen();
  } catch (err) {
    await watcher.close();
    await registry.close();
    await forgetAdmin();
    throw err;
  }

  log.info(
    {
      realm: effective.config.auth.token?.realm,
      data: paths.dataDir,
      public: issuerConfig.public,
    },
    'standalone registry with token auth',
  );
  const out = options.notice ?? process.stderr;
  const reachable = clientAddress(effective.config.http.addr);
  out.write(
    adminSecret !== undefined
      ? firstStartNotice(adminSecret, reachable, paths)
      : await laterStartNotice(reachable, paths),
  );
  return {
    url,
    async close(closeOptions) {
      await watcher.close();
      await registry.close(closeOptions);
    },
  };
}
