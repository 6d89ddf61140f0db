// The registry's logs, in the formats of Distribution's `log.formatter`:
//   json      pino JSON lines (Berth's default wherever stdout is not a terminal: containers, log collectors)
//   text      one human-readable line per record (the default on a terminal); see log-text.ts
//   logstash  JSON with `@timestamp`, `@version: "1"`, `message` and a `level` name, as Distribution writes it
// Credentials never reach the log: request headers that carry them are redacted, and the registry never logs
// request bodies.
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { textDestination, type LogStream } from './log-text.ts';

export type { LogStream } from './log-text.ts';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogFormatter = 'text' | 'json' | 'logstash';

const registryRedactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'password',
  'token',
  'secret',
];

export interface LogOptions {
  /** A pino level name; default info. */
  level?: string;
  /** Extra fields on every record (`log.fields`). */
  fields?: Record<string, unknown>;
  /** Unset: text when `stream` is a terminal, json otherwise. */
  formatter?: LogFormatter | undefined;
  /** Where records go. Default stdout. */
  stream?: LogStream;
  /** The `service` field. Default berth-registry. */
  service?: string;
  /** Paths censored in every record. Default: the registry's credential-bearing headers and fields. */
  redact?: readonly string[];
}

/** The formatter in force: the configured one, else text for a terminal and json for anything else. */
export function resolveFormatter(configured: LogFormatter | undefined, stream: LogStream): LogFormatter {
  return configured ?? (stream.isTTY === true ? 'text' : 'json');
}

/** logrus level names, which Distribution's logstash output uses (`warning`, not `warn`). */
const logstashLevels: Record<string, string> = { warn: 'warning' };

function logstashOptions(): Pick<LoggerOptions, 'messageKey' | 'timestamp' | 'formatters'> {
  return {
    messageKey: 'message',
    timestamp: () => `,"@timestamp":"${new Date().toISOString()}"`,
    formatters: { level: (label) => ({ level: logstashLevels[label] ?? label }) },
  };
}

export function createLogger(options: LogOptions = {}): Logger {
  const stream = options.stream ?? process.stdout;
  const formatter = resolveFormatter(options.formatter, stream);
  const base: Record<string, unknown> = {
    service: options.service ?? 'berth-registry',
    ...(options.fields ?? {}),
  };
  const pinoOptions: LoggerOptions = {
    level: options.level ?? 'info',
    base: formatter === 'logstash' ? { '@version': '1', ...base } : base,
    redact: { paths: [...(options.redact ?? registryRedactPaths)], censor: '[redacted]' },
    ...(formatter === 'logstash' ? logstashOptions() : {}),
  };
  let destination: DestinationStream | undefined;
  if (formatter === 'text') {
    // A terminal shows the time of day; a file or pipe with `formatter: text` needs the date as well.
    destination = textDestination(stream, stream.isTTY !== true);
  } else if (options.stream) {
    destination = options.stream;
  }
  // Without a stream, pino writes to fd 1 itself (synchronously, so nothing is lost on exit).
  return destination ? pino(pinoOptions, destination) : pino(pinoOptions);
}
