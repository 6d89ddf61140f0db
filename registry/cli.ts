#!/usr/bin/env node
// berth-registry: the registry server and its maintenance commands.
// Commands load their modules on demand: the server should not carry the issuer's or the garbage
// collector's code (memory), and a maintenance command should not load the HTTP stack (start-up time).
import { enableCompileCache } from 'node:module';
import { parseArgs } from 'node:util';

// V8's code cache for our modules (and the type-stripped TypeScript), in the OS temp dir: it halves the
// start-up of short-lived commands such as garbage-collect (~0.2 s to ~0.1 s). Silently off where the
// directory is not writable.
enableCompileCache();

const usage = `usage: berth-registry <command> [options]

commands:
  serve CONFIG    run the registry with the Distribution-compatible config.yml at CONFIG
  standalone [--data DIR] [--addr ADDR] [--realm URL] [--public PATTERN]...
                  the registry and its token issuer in one process, token auth on (what \`npm start\` runs):
                  storage and keys under DIR (default ./data), listening on ADDR (default :5000); the first
                  start creates an admin access token and prints it once
  garbage-collect [--delete-untagged|-m] [--dry-run|-d] [--quiet|-q] [--force-live] [--concurrency N]
                  [--workers N] CONFIG
                  remove blobs (and with -m, untagged manifests) nothing tagged references; refuses while any
                  registry on the same storage is read-write (see README, "Garbage collection")
  migrate --from CONFIG_A --to CONFIG_B [--delete] [--dry-run|-d] [--concurrency N] [--quiet|-q]
                  copy the registry's content from CONFIG_A's storage to CONFIG_B's: incremental (run it while
                  online, then once more read-only), verified; the last stdout line is a JSON summary
  token-server CONFIG
                  run the token issuer with the YAML config at CONFIG
  access-token create --name NAME --scopes read_registry[,write_registry,delete_registry,admin_registry]
                      --repositories 'team/**'[,...] --file PATH [--expires 90d|DATE] [--description TEXT]
                  add an access token to the file at PATH and print its secret (once)
  access-token revoke --name NAME --file PATH
                  remove an access token
`;

/** A command-line mistake: exit code 2 and the usage text. */
class UsageError extends Error {}

function isUsageError(err: unknown): boolean {
  if (err instanceof UsageError) return true;
  const code = (err as { code?: unknown }).code;
  // The auth commands throw `usage: ...`; node:util parseArgs throws ERR_PARSE_ARGS_* codes.
  return (
    (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) ||
    (err instanceof Error && err.message.startsWith('usage:'))
  );
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case 'serve': {
      const [configPath, ...rest] = args;
      if (configPath === undefined || rest.length > 0) {
        throw new UsageError('berth-registry serve: expected exactly one argument, the config file');
      }
      const { serve } = await import('./serve.ts');
      const registry = await serve(configPath);
      await waitForShutdown(async () => registry.close());
      return 0;
    }
    case 'standalone': {
      const { values } = parseArgs({
        args,
        options: {
          data: { type: 'string' },
          addr: { type: 'string' },
          realm: { type: 'string' },
          public: { type: 'string', multiple: true },
        },
      });
      const { standalone } = await import('./standalone.ts');
      const registry = await standalone({
        ...(values.data !== undefined ? { dataDir: values.data } : {}),
        ...(values.addr !== undefined ? { addr: values.addr } : {}),
        ...(values.realm !== undefined ? { realm: values.realm } : {}),
        ...(values.public !== undefined ? { publicRepositories: values.public } : {}),
      });
      await waitForShutdown(async () => registry.close());
      return 0;
    }
    case 'garbage-collect':
      return (await import('./gc/command.ts')).garbageCollectCommand(args);
    case 'migrate':
      return (await import('./migrate/command.ts')).migrateCommand(args);
    case 'token-server':
      // Handles SIGTERM/SIGINT (shutdown) and SIGHUP (reload) itself; resolves once stopped.
      await (await import('./auth/token-server-cli.ts')).tokenServerCommand(args);
      return 0;
    case 'access-token': {
      const [action, ...rest] = args;
      const commands = await import('./auth/token-server-cli.ts');
      if (action === 'create') await commands.createAccessTokenCommand(rest);
      else if (action === 'revoke') await commands.revokeAccessTokenCommand(rest);
      else throw new UsageError('berth-registry access-token: expected create or revoke');
      return 0;
    }
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(usage);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`berth-registry: unknown command ${JSON.stringify(command)}`);
  }
}

/** Resolves after SIGTERM/SIGINT once `close` finished: in-flight requests drain, new ones get 503. */
function waitForShutdown(close: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    let closing = false;
    const stop = () => {
      if (closing) return;
      closing = true;
      close().then(resolve, (err: unknown) => {
        process.stderr.write(`berth-registry: error during shutdown: ${String(err)}\n`);
        resolve();
      });
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    if (isUsageError(err)) {
      process.stderr.write(`${message}\n\n${usage}`);
      process.exit(2);
    }
    process.stderr.write(`berth-registry: ${message}\n`);
    process.exit(1);
  },
);
