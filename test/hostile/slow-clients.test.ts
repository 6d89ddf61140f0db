// Slow-loris and oversized headers: clients that trickle their headers byte by byte, stall a body, or send
// 100 KB of headers are cut by the server (headers timeout, idle timeout, 431) while a normal client is served
// meanwhile. The limits are short here so the test is quick; the assertions are outcomes, not tight timings.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Server } from 'node:http';
import { pino } from 'pino';
import { generateSigningKeyPair } from '../../registry/auth/keypair.ts';
import { buildRegistryApp } from '../../registry/http/app.ts';
import type { Services } from '../../registry/http/context.ts';
import { defaultServerLimits } from '../../registry/http/server-limits.ts';
import { startTestRegistry, type TestRegistry } from '../registry/server.ts';
import { pushBlob } from '../registry/client.ts';

interface RawClient {
  socket: Socket;
  /** Everything the server sent. */
  received(): string;
  /** Resolves when the server closed the connection (never when we do: we never end it). */
  closed: Promise<void>;
  isClosed(): boolean;
}

function open(url: string): Promise<RawClient> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let data = '';
    let isClosed = false;
    const closed = new Promise<void>((done) =>
      socket.on('close', () => {
        isClosed = true;
        done();
      }),
    );
    socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve({ socket, received: () => data, closed, isClosed: () => isClosed }));
    socket.once('error', reject);
  });
}

/** Writes `text` one byte per `everyMs` until the connection closes or `stop` is set. */
async function trickle(client: RawClient, text: string, everyMs: number, stop: { now: boolean }) {
  for (let i = 0; !stop.now && !client.isClosed(); i = (i + 1) % text.length) {
    client.socket.write(text[i] ?? 'x');
    await sleep(everyMs);
  }
}

function withinMs<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A normal client's round: ping, push a small blob, pull it back. */
async function normalRound(url: string, i: number): Promise<void> {
  const ping = await fetch(`${url}/v2/`);
  assert.equal(ping.status, 200);
  await ping.body?.cancel();
  const content = randomBytes(1024 + i);
  const digest = await pushBlob(url, 'hostile/normal', content);
  const pulled = await fetch(`${url}/v2/hostile/normal/blobs/${digest}`);
  assert.equal(pulled.status, 200);
  assert.deepEqual(Buffer.from(await pulled.arrayBuffer()), content);
}

describe('slow and oversized clients', () => {
  const headersTimeoutMs = 1500;
  const idleTimeoutMs = 2500;
  let registry: TestRegistry;
  before(async () => {
    registry = await startTestRegistry({
      limits: { headersTimeoutMs, connectionsCheckingIntervalMs: 250, idleTimeoutMs },
    });
  });
  after(() => registry.close());

  it('cuts slow-loris connections after the headers timeout while a normal client is served', async () => {
    const slowCount = 60;
    const slow = await Promise.all(Array.from({ length: slowCount }, () => open(registry.url)));
    const stop = { now: false };
    const trickling = slow.map((client, i) => {
      client.socket.write(`GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
      return trickle(client, `X-Slow-${i}: ${'a'.repeat(50)}`, 100, stop);
    });
    try {
      // The normal client runs while every slow connection is still open, and again once they were cut.
      const started = Date.now();
      for (let i = 0; i < 10; i++) await withinMs(10_000, `normal round ${i}`, normalRound(registry.url, i));
      assert.ok(
        slow.some((c) => !c.isClosed()) || Date.now() - started > headersTimeoutMs,
        'the normal client ran alongside the slow ones',
      );
      // Generous: headers timeout + checking interval + a noisy machine's scheduling.
      await withinMs(
        headersTimeoutMs + 15_000,
        'the server closing every slow-loris connection',
        Promise.all(slow.map((c) => c.closed)),
      );
      for (const client of slow) {
        const status = /^HTTP\/1\.1 (\d+)/.exec(client.received())?.[1];
        // node answers 408 when it can; a bare close is also a cut.
        assert.ok(status === undefined || status === '408', `slow client got ${client.received()}`);
      }
      await withinMs(10_000, 'normal round after', normalRound(registry.url, 99));
    } finally {
      stop.now = true;
      for (const client of slow) client.socket.destroy();
      await Promise.all(trickling);
    }
  });

  it('cuts a connection whose upload body stalls after the idle timeout', async () => {
    const client = await open(registry.url);
    const digest = `sha256:${'0'.repeat(64)}`;
    client.socket.write(
      `POST /v2/hostile/stall/blobs/uploads/?digest=${digest} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
        `Content-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(1000)}`,
    );
    await withinMs(idleTimeoutMs + 15_000, 'the server closing a stalled upload', client.closed);
    await withinMs(10_000, 'normal round after a stalled upload', normalRound(registry.url, 1));
  });

  it('answers 100 KB of headers with 431 and goes on serving', async () => {
    const clients = await Promise.all(Array.from({ length: 10 }, () => open(registry.url)));
    for (const [i, client] of clients.entries()) {
      client.socket.write(
        `GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big-${i}: ${'b'.repeat(100 * 1024)}\r\n\r\n`,
      );
    }
    await withinMs(15_000, 'oversized-header connections closed', Promise.all(clients.map((c) => c.closed)));
    for (const client of clients) assert.match(client.received(), /^HTTP\/1\.1 431 /);
    await withinMs(10_000, 'normal round after oversized headers', normalRound(registry.url, 2));
  });

  it('accepts headers above node’s 16 KiB default (large bearer tokens) below the limit', async () => {
    const res = await fetch(`${registry.url}/v2/`, { headers: { 'X-Large': 'c'.repeat(32 * 1024) } });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  });
});

describe('server limits by default', () => {
  // Both as plain HTTP and with http.tls: the limits are node server options, given at construction either way.
  for (const tls of [false, true]) {
    it(`are set on the ${tls ? 'HTTPS' : 'HTTP'} server`, async () => {
      let https: { cert: Buffer; key: Buffer } | undefined;
      if (tls) {
        const pair = await generateSigningKeyPair({ commonName: 'registry.test' });
        https = { cert: Buffer.from(pair.certificatePem), key: Buffer.from(pair.privateKeyPem) };
      }
      const { app } = buildRegistryApp({
        services: {} as Services,
        logger: pino({ level: 'silent' }),
        ...(https ? { https } : {}),
      });
      await app.ready();
      try {
        // node keeps maxHeaderSize on the server without typing it.
        const server = app.server as Server & { maxHeaderSize?: number };
        assert.equal(server.headersTimeout, defaultServerLimits.headersTimeoutMs);
        assert.equal(server.requestTimeout, 0);
        assert.equal(server.timeout, defaultServerLimits.idleTimeoutMs);
        assert.equal(server.keepAliveTimeout, defaultServerLimits.keepAliveTimeoutMs);
        assert.equal(server.maxHeaderSize, defaultServerLimits.maxHeaderSize);
      } finally {
        await app.close();
      }
    });
  }
});
