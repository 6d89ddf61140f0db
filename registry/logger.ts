// pino JSON logs. Credentials never reach the log: request headers that carry them are redacted, and the
// registry never logs request bodies.
import { pino, type Logger } from 'pino';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export function createLogger(level: LogLevel = 'info', fields: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { service: 'berth-registry', ...fields },
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        'authorization',
        'password',
        'token',
        'secret',
      ],
      censor: '[redacted]',
    },
  });
}
