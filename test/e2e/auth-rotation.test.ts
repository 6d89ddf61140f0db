// Signing-key rotation with real processes and no restart: `berth-registry serve` trusts the certificates its
// config's rootcertbundle names, `berth-registry token-server` signs with whatever key its files hold.
//   1. bundle = old cert, issuer signs with the old key;
//   2. the config is rewritten to a bundle with old + new (reload), then the issuer's key files are replaced:
//      tokens from both keys verify;
//   3. the config is rewritten to a bundle with only the new cert (reload): old tokens fail, new ones verify.
// The registry process is the same one throughout.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { dump, load } from 'js-yaml';
import {
  createAccessToken,
  issueToken,
  startTokenServer,
  waitForLogin,
  tokenAuthConfig,
  writeSigningKeyPair,
  type KeyFiles,
  type RunningTokenServer,
} from '../harness/auth.ts';
import { startBerth } from '../harness/berth.ts';
import type { ConfigObject, RunningRegistry } from '../harness/registry.ts';
import { failureReport } from '../harness/report.ts';
import { makeTempDir, removeTempDir } from '../harness/tmp.ts';
import { waitFor } from '../harness/wait.ts';

const step = { timeout: 120_000 };
const scope = 'repository:rotation/app:pull';

/** Replaces `file` atomically (as a ConfigMap or Secret update does: the reader never sees half a file). */
async function replaceFile(file: string, content: string, mode = 0o644): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, content, { mode });
  await rename(tmp, file);
}

describe('signing-key rotation without a registry restart', () => {
  let dir = '';
  let oldKey: KeyFiles;
  let newKey: KeyFiles;
  let issuer: RunningTokenServer | undefined;
  let registry: RunningRegistry | undefined;
  const credentials = { username: 'rotation', password: '' };
  let pid = 0;
  let oldToken = '';
  let newToken = '';
  const signing = { key: '', certificate: '' };

  before(async () => {
    dir = await makeTempDir('rotation');
    [oldKey, newKey] = await Promise.all([writeSigningKeyPair(dir, 'old'), writeSigningKeyPair(dir, 'new')]);
    // The issuer's own key files, replaced in step 2.
    signing.key = path.join(dir, 'signing.key');
    signing.certificate = path.join(dir, 'signing.crt');
    await replaceFile(signing.key, await readFile(oldKey.key, 'utf8'), 0o600);
    await replaceFile(signing.certificate, oldKey.certificatePem);
    await replaceFile(path.join(dir, 'bundle-old.crt'), oldKey.certificatePem);

    issuer = await startTokenServer({
      keys: { key: signing.key, certificate: signing.certificate, certificatePem: oldKey.certificatePem },
    });
    credentials.password = await createAccessToken(
      issuer.accessTokenFile,
      'rotation',
      ['read_registry'],
      ['rotation/**'],
    );
    // The issuer re-reads its access-token file on an interval: wait until it knows the new token.
    await waitForLogin(issuer, 'rotation', credentials.password);
    registry = await startBerth({
      config: {
        ...tokenAuthConfig(issuer.realm, path.join(dir, 'bundle-old.crt')),
        // info: the reload messages are what the test waits for.
        log: { level: 'info' },
      },
    });
    pid = registry.process.pid ?? 0;
  });

  const report = failureReport();
  afterEach(report.check);
  after(async () => {
    report.print({ registry, 'token-server': issuer });
    await Promise.allSettled([registry?.stop(), issuer?.stop()]);
    if (dir !== '') await removeTempDir(dir);
  });

  function running(): { registry: RunningRegistry; issuer: RunningTokenServer } {
    assert.ok(registry && issuer, 'start-up failed');
    assert.equal(registry.process.pid, pid);
    assert.equal(registry.process.exitCode, null, 'the registry process exited');
    return { registry, issuer };
  }

  /** GET /v2/<repo>/tags/list with the token: 404 NAME_UNKNOWN once through auth, 401 when refused. */
  async function verdict(token: string): Promise<{ status: number; challenge: string | null }> {
    const { registry } = running();
    const res = await fetch(`${registry.url}/v2/rotation/app/tags/list`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    await res.body?.cancel();
    return { status: res.status, challenge: res.headers.get('www-authenticate') };
  }

  const accepted = async (token: string) => assert.equal((await verdict(token)).status, 404);
  async function refused(token: string): Promise<void> {
    const { status, challenge } = await verdict(token);
    assert.equal(status, 401);
    assert.match(challenge ?? '', /error="invalid_token"/);
  }

  /** Rewrites the registry's config.yml to trust `bundle`, and waits until the running process has reloaded. */
  async function trust(bundle: string): Promise<void> {
    const { registry } = running();
    const before = (registry.output().match(/token auth settings replaced/g) ?? []).length;
    const config = load(await readFile(registry.configPath, 'utf8')) as ConfigObject;
    const auth = config['auth'] as { token: { rootcertbundle: string } };
    auth.token.rootcertbundle = bundle;
    await replaceFile(registry.configPath, dump(config));
    await waitFor(
      'the registry to reload its config',
      async () =>
        (registry.output().match(/token auth settings replaced/g) ?? []).length > before ? true : undefined,
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  }

  it('step 1: the old key signs, the registry trusts it', step, async () => {
    const { issuer } = running();
    oldToken = await issueToken(issuer.realm, [scope], credentials);
    const header = decodeProtectedHeader(oldToken);
    assert.equal(header.x5c?.[0], pemBody(oldKey.certificatePem));
    await accepted(oldToken);
  });

  it('step 2: with both certificates in the bundle, tokens of both keys verify', step, async () => {
    const { issuer } = running();
    const both = path.join(dir, 'bundle-both.crt');
    await replaceFile(both, oldKey.certificatePem + newKey.certificatePem);
    await trust(both);
    await accepted(oldToken);

    // The issuer switches to the new key (it re-reads its key files; no restart either).
    await replaceFile(signing.certificate, newKey.certificatePem);
    await replaceFile(signing.key, await readFile(newKey.key, 'utf8'), 0o600);
    newToken = await waitFor(
      'the issuer to sign with the new key',
      async () => {
        const token = await issueToken(issuer.realm, [scope], credentials);
        return decodeProtectedHeader(token).x5c?.[0] === pemBody(newKey.certificatePem) ? token : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    await accepted(newToken);
    await accepted(oldToken);
  });

  it('step 3: after the old certificate is removed (config reload), old tokens fail', step, async () => {
    const onlyNew = path.join(dir, 'bundle-new.crt');
    await replaceFile(onlyNew, newKey.certificatePem);
    await trust(onlyNew);
    await refused(oldToken);
    await accepted(newToken);
    // A token the issuer signs now verifies too; the registry never restarted (checked in running()).
    const { issuer } = running();
    await accepted(await issueToken(issuer.realm, [scope], credentials));
  });
});

/** The base64 DER of a PEM certificate: what an `x5c` entry holds. */
function pemBody(pem: string): string {
  return pem
    .replace(/-----(BEGIN|END) CERTIFICATE-----/g, '')
    .replace(/\s+/g, '')
    .trim();
}
