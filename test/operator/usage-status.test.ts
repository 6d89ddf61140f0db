// The usage controller against a real kube-apiserver and a real registry on loopback: a Ready registry's
// status.usage gets the deduplicated total, its 10 largest repositories and the scan time, from one request
// per poll interval (its own status write does not make it ask again); a registry that is not Ready is not
// asked; the status fields another manager owns stay. Only the usage controller runs (there is no kubelet and
// no registry reconciler here, so the test itself says which registry is Ready).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { generateSigningKeyPair } from '../../registry/auth/keypair.ts';
import { TokenSigner } from '../../registry/auth/token-signer.ts';
import { createTokenAuthorizer, type TokenAuthorizer } from '../../registry/auth/token-verifier.ts';
import { setupUsageController } from '../../operator/operations/usage/controller.ts';
import type { KubeClient } from '../../operator/runtime/kube-client.ts';
import { Manager } from '../../operator/runtime/manager.ts';
import type { KubeObject } from '../../operator/runtime/objects.ts';
import type { ControlPlane } from '../harness/control-plane.ts';
import { makeTempDir, removeTempDir } from '../harness/tmp.ts';
import { waitFor } from '../harness/wait.ts';
import { pushImage } from '../registry/client.ts';
import { startTestRegistry, type TestRegistry } from '../registry/server.ts';
import { layer, pushUsageFixture } from '../usage/usage-scenario.ts';
import { applyTestRegistry, group, setReady, startControlPlaneWithCrds } from './status-harness.ts';

const ns = 'usage';
const service = 'registry.test';
const issuer = 'berth-test-issuer';

interface UsageStatus {
  totalBytes: number;
  repositories: { name: string; bytes: number }[];
  scannedAt: string;
}
type Registry = KubeObject & {
  status?: { usage?: UsageStatus; conditions?: { type: string; status: string }[] };
};

describe('usage controller (real kube-apiserver)', () => {
  let cp: ControlPlane | undefined;
  let client: KubeClient | undefined;
  let manager: Manager | undefined;
  let open: TestRegistry | undefined;
  let registry: TestRegistry | undefined;
  /** A replica whose first scan has not finished: it answers 503 with Retry-After. */
  let early: TestRegistry | undefined;
  let authorizer: TokenAuthorizer | undefined;
  let dir: string | undefined;
  let expected: Omit<UsageStatus, 'scannedAt'>;

  const k = (): KubeClient => {
    assert.ok(client);
    return client;
  };
  const getRegistry = (name: string) =>
    k().get<Registry>({ apiVersion: group, kind: 'ContainerRegistry', namespace: ns, name });
  const createRegistry = async (name: string, ready: boolean): Promise<void> => {
    await setReady(k(), await applyTestRegistry(k(), ns, name), ready);
  };
  /** Requests to /berth/v1/usage a registry answered with `code` so far. */
  const usageRequests = async (of: TestRegistry | undefined, code = 200): Promise<number> => {
    assert.ok(of);
    const pattern = new RegExp(
      `^registry_http_requests_total\\{method="GET",route="usage",code="${String(code)}"\\} (\\d+)$`,
      'm',
    );
    return Number(pattern.exec(await of.metrics())?.[1] ?? 0);
  };

  before(
    async () => {
      dir = await makeTempDir('berth-usage-operator-');
      const pair = await generateSigningKeyPair();
      await writeFile(path.join(dir, 'token.crt'), pair.certificatePem);
      const signer = await TokenSigner.fromPem(pair.privateKeyPem, pair.certificatePem);
      authorizer = await createTokenAuthorizer({
        realm: 'http://127.0.0.1:9/auth/token',
        service,
        issuer,
        rootcertbundle: path.join(dir, 'token.crt'),
      });

      // Pushed through an open replica; the operator asks a second one over the same storage that checks tokens.
      open = await startTestRegistry();
      const fixture = await pushUsageFixture(open.url);
      const repositories = [
        { name: 'team/a', bytes: fixture.expectedA },
        { name: 'team/b', bytes: fixture.expectedB },
      ];
      let totalBytes = fixture.expectedTotal;
      // Nine more, each smaller than both: eleven repositories, of which status lists the ten largest.
      for (let i = 1; i <= 9; i++) {
        const name = `tiny/t${String(i)}`;
        const image = await pushImage(open.url, name, 'v1', [layer(10 * i, name)]);
        repositories.push({ name, bytes: 10 * i + fixture.configSize + image.manifest.length });
        totalBytes += 10 * i + image.manifest.length; // the config is the one team/a and team/b share
      }
      repositories.sort((a, b) => b.bytes - a.bytes);
      assert.equal(repositories[10]?.name, 'tiny/t1');
      expected = { totalBytes, repositories: repositories.slice(0, 10) };
      registry = await startTestRegistry({
        authorizer,
        driver: open.services.driver,
        usage: { intervalMs: 3_600_000 },
      });
      await registry.usage?.scanNow();
      early = await startTestRegistry({
        authorizer,
        driver: open.services.driver,
        usage: { intervalMs: 3_600_000 },
      });

      ({ cp, client } = await startControlPlaneWithCrds(ns));
      await createRegistry('idle', false);
      await createRegistry('ready', true);
      await createRegistry('early', true);

      manager = new Manager({ client, logger: pino({ level: 'silent' }), leaderElection: false });
      const urls = new Map([
        // Both would be answered by the same replica: its request count shows the idle one is not asked.
        ['ready', registry.url],
        ['idle', registry.url],
        ['early', early.url],
      ]);
      setupUsageController(manager, {
        registryUrl: (ref) => urls.get(ref.name) ?? 'http://127.0.0.1:9',
        tokenSigner: () =>
          Promise.resolve(async (access, lifetimeSeconds = 300) => {
            return (await signer.signAccessToken({ issuer, service, access, lifetimeSeconds })).token;
          }),
        pollMs: 60_000,
      });
      manager.start();
    },
    { timeout: 240_000 },
  );

  after(async () => {
    await manager?.stop();
    client?.close();
    await cp?.stop();
    await registry?.close();
    await early?.close();
    await open?.close();
    await authorizer?.close();
    if (dir) await removeTempDir(dir);
  });

  it('copies the total and the 10 largest repositories of a Ready registry into its status', async () => {
    const usage = await waitFor(
      'status.usage of the Ready registry',
      async () => (await getRegistry('ready'))?.status?.usage,
    );
    const { scannedAt, ...rest } = usage;
    assert.deepEqual(rest, expected);
    assert.equal(scannedAt, registry?.usage?.latest()?.scannedAt.toISOString());
    const conditions = (await getRegistry('ready'))?.status?.conditions ?? [];
    assert.deepEqual(
      conditions.map((c) => [c.type, c.status]),
      [['Ready', 'True']],
      'another manager’s status fields stay',
    );
  });

  it('asks once per poll interval, and never for a registry that is not Ready', async () => {
    await sleep(3_000);
    assert.equal(
      await usageRequests(registry),
      1,
      'one request, for the Ready registry: its status write did not bring another, the idle one was not asked',
    );
    assert.equal((await getRegistry('idle'))?.status?.usage, undefined);
  });

  it('asks again at the Retry-After of a registry whose first scan has not finished', async () => {
    assert.ok((await usageRequests(early, 503)) >= 1, 'asked, and told to come back');
    assert.equal((await getRegistry('early'))?.status?.usage, undefined);
    await early?.usage?.scanNow();
    const usage = await waitFor(
      'status.usage after the first scan',
      async () => (await getRegistry('early'))?.status?.usage,
      { timeoutMs: 30_000 },
    );
    assert.equal(usage.totalBytes, expected.totalBytes);
  });
});
