// operator/runtime/kube-config.ts: the kubeconfig rules the operator relied on @kubernetes/client-node for
// (current context, paths relative to the file, inline data, tokens and token files, basic auth, KUBECONFIG
// merging), and the fallback to client-node for an `exec` plugin.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inClusterConnection, loadKubeConnection } from '../../operator/runtime/kube-config.ts';
import { KubeClient } from '../../operator/runtime/kube-client.ts';
import { RuntimeError } from '../../operator/runtime/errors.ts';

let dir: string;

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

function kubeconfig(opts: { current?: string; cluster?: string; user?: string; suffix?: string }): string {
  const s = opts.suffix ?? '';
  return `apiVersion: v1
kind: Config
${opts.current !== undefined ? `current-context: ${opts.current}` : ''}
clusters:
  - name: c${s}
    cluster:
${opts.cluster ?? `      server: https://api${s}.example:6443/`}
users:
  - name: u${s}
    user:
${opts.user ?? '      token: tok'}
contexts:
  - name: ctx${s}
    context: { cluster: c${s}, user: u${s} }
`;
}

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) Reflect.deleteProperty(process.env, name);
  else process.env[name] = value;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('kube-config', () => {
  let savedEnv: string | undefined;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'kube-config-'));
    savedEnv = process.env['KUBECONFIG'];
  });
  after(() => {
    restoreEnv('KUBECONFIG', savedEnv);
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the current context: server, CA file relative to the kubeconfig, inline client cert and key, token', async () => {
    write('ca.pem', 'CA');
    const file = write(
      'a.yaml',
      kubeconfig({
        current: 'ctx',
        cluster:
          '      server: https://api.example:6443/\n      certificate-authority: ca.pem\n      tls-server-name: kube.local',
        user: `      client-certificate-data: ${b64('CERT')}\n      client-key-data: ${b64('KEY')}\n      token: tok\n      as: alice`,
      }),
    );
    const c = loadKubeConnection(file);
    assert.equal(c.server, 'https://api.example:6443');
    const tls = await c.tls();
    assert.equal(String(tls.ca), 'CA');
    assert.equal(String(tls.cert), 'CERT');
    assert.equal(String(tls.key), 'KEY');
    assert.equal(tls.servername, 'kube.local');
    assert.equal(tls.rejectUnauthorized, undefined);
    assert.deepEqual(await c.headers(), { authorization: 'Bearer tok', 'impersonate-user': 'alice' });
  });

  it('inline CA data, insecure-skip-tls-verify, a token file, basic auth', async () => {
    write('token', 'from-file\n');
    const tokenFile = loadKubeConnection(
      write(
        'b.yaml',
        kubeconfig({
          current: 'ctx',
          cluster: `      server: https://x:1\n      certificate-authority-data: ${b64('CA2')}\n      insecure-skip-tls-verify: true`,
          user: '      token-file: token',
        }),
      ),
    );
    const tls = await tokenFile.tls();
    assert.equal(String(tls.ca), 'CA2');
    assert.equal(tls.rejectUnauthorized, false);
    assert.deepEqual(await tokenFile.headers(), { authorization: 'Bearer from-file' });

    const basic = loadKubeConnection(
      write('c.yaml', kubeconfig({ current: 'ctx', user: '      username: bob\n      password: pw' })),
    );
    assert.deepEqual(await basic.headers(), { authorization: `Basic ${b64('bob:pw')}` });
  });

  it('KUBECONFIG merges files; a later current-context wins; a duplicate name is refused', () => {
    const a = write('m1.yaml', kubeconfig({ current: 'ctx1', suffix: '1' }));
    const b = write('m2.yaml', kubeconfig({ current: 'ctx2', suffix: '2' }));
    process.env['KUBECONFIG'] = [a, b].join(path.delimiter);
    assert.equal(loadKubeConnection().server, 'https://api2.example:6443');
    process.env['KUBECONFIG'] = [a, a].join(path.delimiter);
    assert.throws(() => loadKubeConnection(), /Duplicate clusters: c1/);
  });

  it('in cluster: KUBERNETES_SERVICE_HOST/PORT, the mounted CA and token (IPv6 in brackets, http on 8080)', async () => {
    const sa = path.join(dir, 'sa');
    mkdirSync(sa);
    writeFileSync(path.join(sa, 'ca.crt'), 'SA-CA');
    writeFileSync(path.join(sa, 'token'), 'sa-token');
    const saved = {
      host: process.env['KUBERNETES_SERVICE_HOST'],
      port: process.env['KUBERNETES_SERVICE_PORT'],
    };
    try {
      process.env['KUBERNETES_SERVICE_HOST'] = '10.0.0.1';
      process.env['KUBERNETES_SERVICE_PORT'] = '443';
      const c = inClusterConnection(sa);
      assert.equal(c.server, 'https://10.0.0.1:443');
      assert.equal(String((await c.tls()).ca), 'SA-CA');
      assert.deepEqual(await c.headers(), { authorization: 'Bearer sa-token' });
      process.env['KUBERNETES_SERVICE_HOST'] = 'fd00::1';
      process.env['KUBERNETES_SERVICE_PORT'] = '8080';
      assert.equal(inClusterConnection(sa).server, 'http://[fd00::1]:8080');
    } finally {
      restoreEnv('KUBERNETES_SERVICE_HOST', saved.host);
      restoreEnv('KUBERNETES_SERVICE_PORT', saved.port);
    }
  });

  it('no current context: no server, and KubeClient refuses it', () => {
    const file = write('none.yaml', kubeconfig({}));
    assert.equal(loadKubeConnection(file).server, undefined);
    assert.throws(() => KubeClient.load(file), RuntimeError);
  });

  it('an exec plugin goes through client-node (loaded then) and its token is sent', async () => {
    const plugin = write(
      'plugin.sh',
      `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"exec-tok"}}'\n`,
    );
    chmodSync(plugin, 0o755);
    const file = write(
      'exec.yaml',
      kubeconfig({
        current: 'ctx',
        user: `      exec:\n        apiVersion: client.authentication.k8s.io/v1\n        command: ${plugin}\n        interactiveMode: Never`,
      }),
    );
    const c = loadKubeConnection(file);
    assert.equal(c.server, 'https://api.example:6443');
    assert.equal((await c.headers())['authorization'], 'Bearer exec-tok');
  });
});
