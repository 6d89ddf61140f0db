// The registry's log formats (`log.formatter`): pino JSON, readable text lines, and Distribution's logstash
// shape; the default follows whether stdout is a terminal; credentials are censored in every format.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, resolveFormatter, type LogFormatter } from '../../registry/logger.ts';

function capture(formatter: LogFormatter | undefined, isTTY?: boolean) {
  const lines: string[] = [];
  const stream = { write: (line: string) => void lines.push(line), ...(isTTY ? { isTTY } : {}) };
  const log = createLogger({ level: 'debug', fields: { instance: 'r1' }, formatter, stream });
  return { log, lines };
}

describe('registry logs', () => {
  it('default: text on a terminal, JSON anywhere else; a configured formatter wins', () => {
    assert.equal(resolveFormatter(undefined, { write: () => true, isTTY: true }), 'text');
    assert.equal(resolveFormatter(undefined, { write: () => true }), 'json');
    assert.equal(resolveFormatter('json', { write: () => true, isTTY: true }), 'json');
    assert.equal(resolveFormatter('text', { write: () => true }), 'text');
  });

  it('json: pino records with the service and log.fields', () => {
    const { log, lines } = capture('json');
    log.info({ address: 'http://127.0.0.1:5000' }, 'registry listening');
    const record = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    assert.equal(record['level'], 30);
    assert.equal(record['msg'], 'registry listening');
    assert.equal(record['service'], 'berth-registry');
    assert.equal(record['instance'], 'r1');
    assert.equal(typeof record['time'], 'number');
  });

  it("logstash: Distribution's @timestamp, @version, message and level names", () => {
    const { log, lines } = capture('logstash');
    log.warn({ reason: 'slow storage' }, 'health check failed');
    const record = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    assert.match(String(record['@timestamp']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(record['@version'], '1');
    assert.equal(record['message'], 'health check failed');
    assert.equal(record['level'], 'warning');
    assert.equal(record['reason'], 'slow storage');
    assert.equal(record['instance'], 'r1');
    assert.equal(record['msg'], undefined);
    assert.equal(record['time'], undefined);
  });

  it('text: one line per record, with the time, level, component, message and fields', () => {
    const { log, lines } = capture('text');
    log.child({ component: 'token-issuer' }).info({ tokens: 2, file: 'a b.yml' }, 'access tokens loaded');
    log.error({ err: new Error('disk full') }, 'request failed');
    assert.match(
      lines[0] ?? '',
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO {2}\[token-issuer\] access tokens loaded instance=r1 tokens=2 file="a b\.yml"\n$/,
    );
    const error = lines[1] ?? '';
    assert.match(
      error,
      /^\S+ ERROR request failed instance=r1 err="disk full"\n {4}Error: disk full\n {8}at /,
    );
    assert.ok(!error.includes('"level"'), 'JSON in a text line');
  });

  it('text on a terminal: the time of day only', () => {
    const { log, lines } = capture('text', true);
    log.info('registry listening');
    assert.match(lines[0] ?? '', /^\d\d:\d\d:\d\d\.\d{3} INFO {2}registry listening instance=r1\n$/);
  });

  it('censors credentials in every format', () => {
    for (const formatter of ['json', 'text', 'logstash'] as const) {
      const { log, lines } = capture(formatter);
      log.info({ authorization: 'Bearer eyJhbGciOi', password: 'bth_secret', token: 'eyJx' }, 'request');
      const text = lines.join('');
      for (const leaked of ['eyJhbGciOi', 'bth_secret', 'eyJx']) {
        assert.ok(!text.includes(leaked), `${formatter} logged ${leaked}`);
      }
      assert.ok(text.includes('[redacted]'), text);
    }
  });
});
