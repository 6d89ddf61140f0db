// `log.formatter: text`: pino's JSON records rewritten as one human-readable line each, for a terminal:
//   10:57:09.123 INFO  registry listening address=http://127.0.0.1:5000 storage=filesystem
// Colours only where the stream is a terminal that wants them (tty's hasColors() honours NO_COLOR, FORCE_COLOR).
import type { WriteStream } from 'node:tty';
import { styleText } from 'node:util';
import { pino, type DestinationStream } from 'pino';

/** Record keys the line shows in fixed places, or not at all (constant per process). */
const placed = new Set(['level', 'time', 'msg', 'component', 'service', 'pid', 'hostname']);

type Style = Parameters<typeof styleText>[0];
const levelStyles: Record<string, Style> = {
  fatal: ['red', 'bold'],
  error: 'red',
  warn: 'yellow',
  info: 'green',
  debug: 'gray',
  trace: 'gray',
};

/** Where log lines go: a Node stream, or anything with `write` (tests). */
export interface LogStream {
  write(line: string): unknown;
  isTTY?: boolean;
}

export interface TextLineOptions {
  /** Where the line goes: decides whether it is coloured. */
  stream: LogStream;
  /** Full date and time (files, pipes) rather than the time of day (a terminal). */
  fullTime: boolean;
}

function wantsColor(stream: LogStream): boolean {
  const tty = stream as Partial<WriteStream>;
  return tty.isTTY === true && typeof tty.hasColors === 'function' && tty.hasColors();
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return JSON.stringify(value) ?? String(value);
}

function timeOf(epochMs: unknown, fullTime: boolean): string {
  const date = new Date(typeof epochMs === 'number' ? epochMs : Date.now());
  if (fullTime) return date.toISOString();
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

/** One pino JSON record as a text line (with a trailing newline); lines that are not JSON pass unchanged. */
export function formatTextLine(json: string, options: TextLineOptions): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const colored = wantsColor(options.stream);
  const color = (style: Style, text: string) =>
    colored ? styleText(style, text, { validateStream: false }) : text;
  const label = typeof record.level === 'number' ? (pino.levels.labels[record.level] ?? 'info') : 'info';
  const parts = [
    color('dim', timeOf(record.time, options.fullTime)),
    color(levelStyles[label] ?? 'white', label.toUpperCase().padEnd(5)),
  ];
  if (typeof record.component === 'string') parts.push(color('cyan', `[${record.component}]`));
  parts.push(typeof record.msg === 'string' ? record.msg : '');
  let stack = '';
  for (const [key, value] of Object.entries(record)) {
    if (placed.has(key) || value === undefined) continue;
    if (key === 'err' && value !== null && typeof value === 'object') {
      const err = value as { message?: unknown; stack?: unknown };
      parts.push(`${color('dim', 'err=')}${formatValue(err.message ?? value)}`);
      // A stack is worth its lines for errors only; a warning names the problem in its message.
      if (typeof err.stack === 'string' && label !== 'warn' && label !== 'info') {
        stack = `\n${err.stack.replace(/^/gm, '    ')}`;
      }
      continue;
    }
    parts.push(`${color('dim', `${key}=`)}${formatValue(value)}`);
  }
  return `${parts.join(' ')}${stack}\n`;
}

/** A pino destination that writes each record to `stream` as a text line. */
export function textDestination(stream: LogStream, fullTime: boolean): DestinationStream {
  return {
    write(json: string) {
      stream.write(formatTextLine(json, { stream, fullTime }));
    },
  };
}
