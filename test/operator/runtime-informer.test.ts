// operator/runtime's informer against the real kube-apiserver, through a TCP proxy that can silently stall
// every open connection (what a half-dead connection looks like to client-node: no error, no data). The
// watchdog must notice the quiet watch and restart it; the periodic relist must find changes (deletes too)
// that a stalled watch never delivered.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.ts';
import { failureReport } from '../harness/report.ts';
import { waitFor } from '../harness/wait.ts';
import { KubeClient, ResourceClient } from '../../operator/runtime/kube-client.ts';
import { Informer, type InformerEvent } from '../../operator/runtime/informer.ts';
import type { KubeObject } from '../../operator/runtime/objects.ts';

const step = { timeout: 180_000 };
const ns = 'rt-informer';

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

/** A TCP relay that can freeze the connections it has open (new ones keep working). */
class StallingProxy {
  private readonly server: Server;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket; stalled: boolean }>();
  private readonly target: { host: string; port: number };
  port = 0;

  constructor(target: { host: string; port: number }) {
    this.target = target;
    this.server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      const pair = { client, upstream, stalled: false };
      this.pairs.add(pair);
      upstream.on('data', (d: Buffer) => {
        if (!pair.stalled) client.write(d);
      });
      client.on('data', (d: Buffer) => {
        if (!pair.stalled) upstream.write(d);
      });
      const close = () => {
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      };
      client.on('error', close);
      upstream.on('error', close);
      client.on('close', close);
      upstream.on('close', close);
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const addr = this.server.address();
    assert.ok(addr !== null && typeof addr === 'object');
    this.port = addr.port;
    return this.port;
  }

  /** Every connection open now stops forwarding, silently, in both directions. */
  stallAll(): number {
    for (const p of this.pairs) p.stalled = true;
    return this.pairs.size;
  }

  async close(): Promise<void> {
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('runtime informer + watchdog (real kube-apiserver, stalling proxy)', () => {
  let cp: ControlPlane | undefined;
  let direct: KubeClient | undefined;
  let proxy: StallingProxy | undefined;
  let proxiedKubeconfig = '';
  const report = failureReport();
  const cleanup: (() => Promise<void> | void)[] = [];

  before(async () => {
    cp = await startControlPlane();
    await cp.kubectl(['create', 'namespace', ns]);
    direct = KubeClient.load(cp.kubeconfigPath);
    const server = new URL(cp.server);
    proxy = new StallingProxy({ host: server.hostname, port: Number(server.port) });
    const port = await proxy.listen();
    // Same credentials and CA, different address (the serving certificate is for the IP, any port).
    const config = JSON.parse(await readFile(cp.kubeconfigPath, 'utf8')) as {
      clusters: { cluster: { server: string } }[];
    };
    for (const c of config.clusters) c.cluster.server = `https://127.0.0.1:${String(port)}`;
    proxiedKubeconfig = path.join(cp.dir, 'kubeconfig-proxied.json');
    await writeFile(proxiedKubeconfig, JSON.stringify(config), { mode: 0o600 });
  }, step);
  afterEach(report.check);
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  after(async () => {
    report.print({ 'control plane': cp });
    direct?.close();
    await proxy?.close();
    await cp?.stop();
  });

  function writer(): ResourceClient<ConfigMap> {
    assert.ok(direct, 'the control plane did not start');
    return new ResourceClient<ConfigMap>(direct, 'v1', 'ConfigMap');
  }

  function proxiedInformer(labelSet: string, opts: { quietTimeoutMs: number; resyncMs: number }) {
    const client = KubeClient.load(proxiedKubeconfig, { requestTimeoutMs: 5_000 });
    const informer = new Informer<ConfigMap>(client, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: ns,
      labelSelector: `set=${labelSet}`,
      watchdogIntervalMs: 100,
      ...opts,
    });
    const events: InformerEvent<ConfigMap>[] = [];
    informer.on((e) => events.push(e));
    cleanup.push(async () => {
      await informer.stop();
      client.close();
    });
    return { informer, events };
  }

  async function seen(informer: Informer<ConfigMap>, what: string, test: () => boolean, timeoutMs = 20_000) {
    await waitFor(what, async () => (test() ? true : undefined), { timeoutMs, intervalMs: 50 });
  }

  it('lists, syncs, then follows changes through the watch', step, async () => {
    const w = writer();
    await w.apply({ metadata: { name: 'pre', namespace: ns, labels: { set: 'basic' } }, data: { v: '1' } });
    const { informer, events } = proxiedInformer('basic', { quietTimeoutMs: 60_000, resyncMs: 60_000 });
    informer.start();
    await informer.waitForSync();
    assert.deepEqual(informer.keys(), [`${ns}/pre`]);
    await w.apply({ metadata: { name: 'new', namespace: ns, labels: { set: 'basic' } }, data: { v: '1' } });
    await w.apply({ metadata: { name: 'pre', namespace: ns, labels: { set: 'basic' } }, data: { v: '2' } });
    await seen(
      informer,
      'the add and the update',
      () => informer.get(`${ns}/pre`)?.data?.['v'] === '2' && informer.get(`${ns}/new`) !== undefined,
    );
    await w.delete('new', ns);
    await seen(informer, 'the delete', () => informer.get(`${ns}/new`) === undefined);
    const types = events.map((e) => `${e.type}:${e.key}`);
    assert.deepEqual(types, [`add:${ns}/pre`, `add:${ns}/new`, `update:${ns}/pre`, `delete:${ns}/new`]);
    assert.equal(
      informer.get(`${ns}/pre`)?.metadata.managedFields,
      undefined,
      'managedFields are not cached',
    );
  });

  it(
    'restarts a watch that went quiet (stalled connection) and catches up from its resourceVersion',
    step,
    async () => {
      const w = writer();
      const { informer } = proxiedInformer('quiet', { quietTimeoutMs: 1_500, resyncMs: 120_000 });
      informer.start();
      await informer.waitForSync();
      await w.apply({ metadata: { name: 'a', namespace: ns, labels: { set: 'quiet' } }, data: { v: '1' } });
      await seen(informer, 'a via the watch', () => informer.get(`${ns}/a`) !== undefined);
      await sleep(200);
      const stalled = proxy?.stallAll() ?? 0;
      assert.ok(stalled >= 1, 'the watch connection was open through the proxy');
      const quietBefore = informer.stats.quietRestarts;
      const relistsBefore = informer.stats.relists;

      await w.apply({ metadata: { name: 'a', namespace: ns, labels: { set: 'quiet' } }, data: { v: '2' } });
      await w.apply({ metadata: { name: 'b', namespace: ns, labels: { set: 'quiet' } }, data: { v: '1' } });
      await sleep(500);
      assert.equal(informer.get(`${ns}/a`)?.data?.['v'], '1', 'the stalled watch delivered nothing');

      await seen(
        informer,
        'the missed changes',
        () => informer.get(`${ns}/a`)?.data?.['v'] === '2' && informer.get(`${ns}/b`) !== undefined,
      );
      assert.ok(informer.stats.quietRestarts > quietBefore, 'the watchdog restarted the quiet watch');
      assert.equal(
        informer.stats.relists,
        relistsBefore,
        'resuming from the resourceVersion needed no relist',
      );
    },
  );

  it('the periodic relist finds changes, deletes included, that a stalled watch missed', step, async () => {
    const w = writer();
    await w.apply({ metadata: { name: 'keep', namespace: ns, labels: { set: 'relist' } }, data: { v: '1' } });
    await w.apply({
      metadata: { name: 'doomed', namespace: ns, labels: { set: 'relist' } },
      data: { v: '1' },
    });
    // A long quiet timeout: only the relist can save this informer.
    const { informer, events } = proxiedInformer('relist', { quietTimeoutMs: 600_000, resyncMs: 3_000 });
    informer.start();
    await informer.waitForSync();
    await sleep(300);
    proxy?.stallAll();
    const relistsBefore = informer.stats.relists;
    await w.delete('doomed', ns);
    await w.apply({ metadata: { name: 'late', namespace: ns, labels: { set: 'relist' } }, data: { v: '1' } });
    await sleep(300);
    assert.ok(informer.get(`${ns}/doomed`) !== undefined, 'the stalled watch missed the delete');
    await seen(
      informer,
      'the relist',
      () => informer.get(`${ns}/doomed`) === undefined && informer.get(`${ns}/late`) !== undefined,
    );
    assert.ok(informer.stats.relists > relistsBefore);
    assert.equal(informer.stats.quietRestarts, 0);
    assert.ok(
      events.some((e) => e.type === 'delete' && e.key === `${ns}/doomed`),
      'the relist reported the delete',
    );
    assert.ok(
      events.some((e) => e.type === 'resync' && e.key === `${ns}/keep`),
      'unchanged objects are resynced',
    );
  });
});
