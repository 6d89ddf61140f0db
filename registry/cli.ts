#!/usr/bin/env node
// berth-registry: the registry server and its maintenance commands.
// Commands load their modules on demand: the server should not carry the issuer's or the garbage
// collector's code (memory), and a maintenance command should not load the HTTP stack (start-up time).
import { enableCompileCache } from 'node:module';
import { parseArgs } from 'node:util';
import type { CloseOptions } from './serve.ts';

// V8's code cache for our modules (and the type-stripped TypeScript), in the OS temp dir: it halves the
// start-up of short-lived commands such as garbage-collect (~0.2 s to ~0.1 s). Silently off where the
// directory is not writable.
enableCompileCache();

/** Each command's usage, shown by `berth-registry`, `berth-registry help` and `berth-registry COMMAND --help`. */
const commandUsage: Record<string, string> = {
  serve: `  serve CONFIG    run the registry with the Distribution-compatible config.yml at CONFIG
`,
  standalone: `  standalone [--data DIR] [--addr ADDR] [--realm URL] [--public PATTERN]...
                  the registry and its token issuer in one process, token auth on (what \`npm start\` runs):
                  storage and keys under DIR (default ./data), listening on ADDR (default :5000); the first
                  start creates an admin access token and prints it once. Port 5000 taken? \`--addr :5055\`
                  (with npm: \`npm start -- --addr :5055\`)
`,
  'garbage-collect': `  garbage-collect [--delete-untagged|-m] [--dry-run|-d] [--quiet|-q] [--force-live] [--concurrency N]
                  [--workers N] CONFIG
                  remove blobs (and with -m, untagged manifests) nothing tagged references; refuses while any
                  registry on the same storage is read-write (see README, "Garbage collection")
`,
  migrate: `  migrate --from CONFIG_A --to CONFIG_B [--delete] [--dry-run|-d] [--concurrency N] [--quiet|-q]
                  [--from-env-prefix P] [--to-env-prefix P]
                  copy the registry's content from CONFIG_A's storage to CONFIG_B's: incremental (run it while
                  online, then once more read-only), verified; the last stdout line is a JSON summary
`,
  'token-server': `  token-server CONFIG
                  run the token issuer with the YAML config at CONFIG
`,
  'access-token': `  access-token create --name NAME --scopes read_registry[,write_registry,delete_registry,admin_registry]
                      --repositories 'team/**'[,...] --file PATH [--expires 90d|DATE] [--description TEXT]
                  add an access token to the file at PATH and print its secret (once)
  access-token revoke --name NAME --file PATH
                  remove an access token
`,
};

const usage = `usage: berth-registry <command> [options]

From this repository, run it as \`npx berth-registry ...\` (Node 24 from node_modules, whatever \`node\` is).

commands:
${Object.values(commandUsage).join('')}`;

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

/** `--help` or `-h` among the options (not after a `--` that ends them). */
function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  // garbage-collect and migrate have their own, longer help.
  const ownHelp = command === 'garbage-collect' || command === 'migrate';
  if (command !== undefined && !ownHelp && commandUsage[command] !== undefined && wantsHelp(args)) {
    process.stdout.write(`usage:\n${commandUsage[command].replace(/^ {2}(?=\S)/gm, '  berth-registry ')}`);
    return 0;
  }
  switch (command) {
    case 'serve': {
      const [configPath, ...rest] = args;
      if (configPath === undefined || rest.length > 0) {
        throw new UsageError('berth-registry serve: expected exactly one argument, the config file');
      }
      const { serve } = await import('./serve.ts');
      const registry = await serve(configPath);
      await waitForShutdown((options) => registry.close(options));
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
      await waitForShutdown((options) => registry.close(options));
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

/**
 * Resolves after SIGTERM/SIGINT once `close` finished: new connections are refused, requests in flight get the
 * drain time to finish. A second signal cuts them at once (the shutdown still tidies up); a third exits now.
 */
function waitForShutdown(close: (options: CloseOptions) => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    let signals = 0;
    const cutNow = new AbortController();
    const onSignal = () => {
      signals++;
      if (signals === 1) {
        close({ signal: cutNow.signal }).then(resolve, (err: unknown) => {
          process.stderr.write(`berth-registry: error during shutdown: ${String(err)}\n`);
          resolve();
        });
      } else if (signals === 2) {
        cutNow.abort();
      } else {
        process.stderr.write('berth-registry: stopping now, without tidying up\n');
        process.exit(130);
      }
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

/** `host:port` as the user would write it (a wildcard host as `:port`). */
function listenAddress(err: { address?: unknown; port?: unknown }): string {
  const host = typeof err.address === 'string' ? err.address : '';
  const shownHost = host === '::' || host === '0.0.0.0' ? '' : host.includes(':') ? `[${host}]` : host;
  return `${shownHost}:${String(err.port ?? '?')}`;
}

/** What to do when the listen address is taken, for the command that tried it. */
function addressInUseHint(command: string | undefined, err: { address?: unknown; port?: unknown }): string {
  const address = listenAddress(err);
  const other = err.port === 5055 ? ':5056' : ':5055';
  const what = `cannot listen on ${address}: the address is already in use (another registry, or another program, listens there).`;
  switch (command) {
    case 'standalone':
      return `${what}\nStart on another port:\n  ${
        process.env['npm_lifecycle_event'] === 'start'
          ? `npm start -- --addr ${other}`
          : `npx berth-registry standalone --addr ${other}`
      }\n`;
    case 'serve':
      return `${what}\nSet http.addr in the config file to a free port, or override it: REGISTRY_HTTP_ADDR=${other}\n`;
    case 'token-server':
      return `${what}\nSet addr in the token-server config file to a free port.\n`;
    default:
      return `${what}\n`;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    if (isUsageError(err)) {
      process.stderr.write(`${message}\n\n${usage}`);
      process.exit(2);
    }
    if ((err as { code?: unknown }).code === 'EADDRINUSE') {
      process.stderr.write(`berth-registry: ${addressInUseHint(process.argv[2], err as object)}`);
      process.exit(1);
    }
    process.stderr.write(`berth-registry: ${message}\n`);
    process.exit(1);
  },
);
