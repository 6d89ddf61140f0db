// CLI hooks (wired into berth-registry by registry/cli.ts):
//   berth-registry token-server CONFIG
//   berth-registry access-token create --name N --scopes read_registry,write_registry --repositories 'team/**'
//                                      --file PATH [--expires 90d|2026-12-31T00:00:00Z] [--description TEXT]
//   berth-registry access-token revoke --name N --file PATH
import { parseArgs } from 'node:util';
import { addAccessToken, removeAccessToken, type NewAccessToken } from './access-tokens.ts';
import { registryScopes, type RegistryScope } from './grants.ts';
import { durationSchema, loadTokenServerConfig } from './token-server-config.ts';
import {
  buildTokenServer,
  createTokenServerLogger,
  createTokenService,
  listenOptions,
} from './token-server.ts';

export interface CommandIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

const processIo: CommandIo = { stdout: process.stdout, stderr: process.stderr };

/**
 * Runs the issuer until SIGTERM/SIGINT (or `options.signal`), then closes it. SIGHUP re-reads the signing key,
 * certificate and access-token file at once (they are also polled every `reloadInterval`).
 */
export async function tokenServerCommand(
  args: string[],
  options: { signal?: AbortSignal } = {},
): Promise<void> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  const [configPath, ...rest] = positionals;
  if (configPath === undefined || rest.length > 0) {
    throw new Error('usage: berth-registry token-server CONFIG');
  }
  const config = await loadTokenServerConfig(configPath);
  const logger = createTokenServerLogger(config.log.level, undefined, config.log.formatter);
  const service = await createTokenService(config, { logger });
  const app = await buildTokenServer(config, service, logger);
  try {
    await app.listen(listenOptions(config));
  } catch (err) {
    await service.close();
    throw err;
  }
  await new Promise<void>((resolve, reject) => {
    const reload = () => {
      service.reload().then(
        () => logger.info('token issuer reloaded'),
        (err: unknown) =>
          logger.error({ reason: (err as Error).message }, 'reload failed; previous keys and tokens stay'),
      );
    };
    const stop = () => {
      process.off('SIGHUP', reload);
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      options.signal?.removeEventListener('abort', stop);
      app
        .close()
        .then(() => service.close())
        .then(resolve, reject);
    };
    process.on('SIGHUP', reload);
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    if (options.signal?.aborted) stop();
    else options.signal?.addEventListener('abort', stop, { once: true });
  });
}

function parseScopes(value: string): RegistryScope[] {
  const scopes = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const scope of scopes) {
    if (!(registryScopes as readonly string[]).includes(scope)) {
      throw new Error(`unknown scope ${scope}; use ${registryScopes.join(', ')}`);
    }
  }
  return scopes as RegistryScope[];
}

/** `--expires`: an RFC 3339 time, or a duration from now (`90d`, `12h`). */
function parseExpiry(value: string, now: Date): Date {
  const duration = durationSchema.safeParse(value);
  if (duration.success) return new Date(now.getTime() + duration.data * 1000);
  const date = new Date(value);
  if (Number.isNaN(date.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(value)) {
    throw new Error(`--expires ${value} is neither a date (2026-12-31T00:00:00Z) nor a duration (90d)`);
  }
  return date;
}

/** `access-token create ...`: prints the new secret on stdout, once; everything else goes to stderr. */
export async function createAccessTokenCommand(args: string[], io: CommandIo = processIo): Promise<void> {
  const { values, positionals } = parseArgs({
    args: args[0] === 'create' ? args.slice(1) : args,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      scopes: { type: 'string' },
      repositories: { type: 'string', multiple: true },
      file: { type: 'string' },
      expires: { type: 'string' },
      description: { type: 'string' },
    },
  });
  const usage =
    'usage: berth-registry access-token create --name NAME --scopes read_registry[,write_registry,...] ' +
    "--repositories 'team/**'[,...] --file PATH [--expires 90d|DATE] [--description TEXT]";
  if (positionals.length > 0 || !values.name || !values.scopes || !values.repositories || !values.file) {
    throw new Error(usage);
  }
  const token: NewAccessToken = {
    name: values.name,
    scopes: parseScopes(values.scopes),
    repositories: values.repositories
      .flatMap((r) => r.split(','))
      .map((r) => r.trim())
      .filter((r) => r !== ''),
  };
  if (values.expires) token.expiresAt = parseExpiry(values.expires, new Date());
  if (values.description) token.description = values.description;
  const secret = await addAccessToken(values.file, token);
  io.stdout.write(`${secret}\n`);
  io.stderr.write(
    `access token ${token.name} added to ${values.file}; the secret above is shown only this once.\n` +
      `log in with: docker login REGISTRY -u ${token.name} --password-stdin\n`,
  );
}

/** `access-token revoke --name N --file PATH`. */
export async function revokeAccessTokenCommand(args: string[], io: CommandIo = processIo): Promise<void> {
  const { values } = parseArgs({
    args: args[0] === 'revoke' ? args.slice(1) : args,
    options: { name: { type: 'string' }, file: { type: 'string' } },
  });
  if (!values.name || !values.file) {
    throw new Error('usage: berth-registry access-token revoke --name NAME --file PATH');
  }
  if (!(await removeAccessToken(values.file, values.name))) {
    throw new Error(`no access token ${values.name} in ${values.file}`);
  }
  // Says exactly what ends when: bearer tokens are checked against the file only where the issuer is local.
  io.stderr.write(
    `access token ${values.name} revoked in ${values.file}.\n` +
      'The issuer refuses it once it has re-read the file (within its reloadInterval, 5 s by default): new\n' +
      'logins, and the refresh token `docker login` stored with it. Registry tokens already issued with it:\n' +
      '`berth-registry standalone` (npm start) refuses them from then on too; a registry with a separate\n' +
      "token-server accepts them until they expire (the issuer's lifetime, 5 minutes by default).\n",
  );
}
