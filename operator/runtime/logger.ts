// pino JSON logs for the operator. Secret material never reaches the log: the runtime logs keys, kinds and
// reasons, never object bodies, and the usual credential fields are redacted in case one slips through.
import { pino, type Logger } from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export function createLogger(level: LogLevel = 'info', fields: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { service: 'berth-operator', ...fields },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['authorization', 'token', 'password', 'secret', 'data', 'stringData', '*.data', '*.stringData'],
      censor: '[redacted]',
    },
  });
}

/** A logger that drops everything (tests, library defaults). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
