#!/usr/bin/env node
// berth-operator: the Kubernetes operator (see operator/operator.ts for options; `--help` prints them).
// SIGTERM/SIGINT stop it gracefully: running reconciles finish, the leader Lease is released so a standby
// takes over at once, then the process exits 0. A second signal exits at once. Losing the Lease exits 1 (the
// Deployment restarts the process, which campaigns again).
import { dropInlineSourceMaps } from './runtime/drop-inline-source-maps.ts';

// Before the operator's modules load (hence the dynamic imports): their dependencies' inline source maps cost
// ~10 MiB of memory.
dropInlineSourceMaps();
const { ConfigError, HelpRequested, parseOperatorConfig, startOperator } = await import('./operator.ts');
const { createLogger } = await import('./runtime/logger.ts');

async function main(): Promise<number> {
  let config;
  try {
    config = parseOperatorConfig(process.argv.slice(2));
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stdout.write(`${err.message}\n`);
      return 0;
    }
    if (
      err instanceof ConfigError ||
      (err as { code?: unknown }).code?.toString().startsWith('ERR_PARSE_ARGS')
    ) {
      process.stderr.write(`${(err as Error).message}\n`);
      return 2;
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  const operator = await startOperator(config, logger);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal; exiting now');
      process.exit(1);
    }
    logger.info({ signal }, 'signal received');
    void operator.stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const { lostLeadership } = await operator.done;
  return lostLeadership ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    createLogger('error').fatal(
      { err: err instanceof Error ? err.message : String(err) },
      'berth-operator failed',
    );
    process.exitCode = 1;
  },
);
