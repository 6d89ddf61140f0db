// Keys and certificates made in process by registry/auth/keypair.ts (@peculiar/x509 on WebCrypto), read back
// with node:crypto's X509Certificate: CA flags, names, subjectAltNames, validity, key usages, key identifiers,
// issuance by a CA (checkIssued and signature), a TLS handshake that trusts only the CA, and the errors.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as x509 from '@peculiar/x509';
import { jwkThumbprint } from '../../registry/auth/keys.ts';
import {
  createCertificate,
  ensureSigningKeyPair,
  generatePrivateKey,
  generateSigningKeyPair,
  type KeyAlgorithm,
  type SigningKeyPair,
} from '../../registry/auth/keypair.ts';

const day = 86_400_000;

async function newKeyPem(algorithm: KeyAlgorithm = 'ES256'): Promise<string> {
  return (await generatePrivateKey(algorithm)).export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** The certificate's extensions as @peculiar/x509 reads them (node:crypto does not expose key identifiers). */
function extensions(pem: string) {
  const cert = new x509.X509Certificate(pem);
  return {
    basic: cert.getExtension(x509.BasicConstraintsExtension),
    keyUsage: cert.getExtension(x509.KeyUsagesExtension),
    extKeyUsage: cert.getExtension(x509.ExtendedKeyUsageExtension),
    ski: cert.getExtension(x509.SubjectKeyIdentifierExtension),
    aki: cert.getExtension(x509.AuthorityKeyIdentifierExtension),
  };
}

function validityDays(cert: X509Certificate): number {
  return (cert.validToDate.getTime() - cert.validFromDate.getTime()) / day;
}

describe('keypair: in-process certificates', () => {
  let ca: SigningKeyPair;
  let caCert: X509Certificate;

  before(async () => {
    ca = await generateSigningKeyPair({ commonName: 'berth test ca', days: 30 });
    caCert = new X509Certificate(ca.certificatePem);
  });

  for (const algorithm of ['ES256', 'ES384', 'RS256'] as const) {
    it(`makes a self-signed ${algorithm} issuer certificate that is a CA`, async () => {
      const before = Date.now();
      const pair = await generateSigningKeyPair({ algorithm, commonName: 'berth-token-issuer' });
      assert.equal(pair.algorithm, algorithm);
      assert.match(pair.privateKeyPem, /^-----BEGIN PRIVATE KEY-----\n[\s\S]+-----END PRIVATE KEY-----\n$/);
      assert.match(pair.certificatePem, /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
      const cert = new X509Certificate(pair.certificatePem);
      assert.equal(cert.subject, 'CN=berth-token-issuer');
      assert.equal(cert.issuer, 'CN=berth-token-issuer');
      assert.equal(cert.ca, true);
      assert.equal(cert.subjectAltName, undefined);
      assert.ok(cert.checkIssued(cert));
      assert.ok(cert.verify(cert.publicKey));
      assert.ok(cert.checkPrivateKey(createPrivateKey(pair.privateKeyPem)));
      assert.equal(pair.keyId, await jwkThumbprint(cert.publicKey));
      assert.equal(validityDays(cert), 3650);
      assert.ok(Math.abs(cert.validFromDate.getTime() - before) < 60_000);
      const keyType = algorithm === 'RS256' ? 'rsa' : 'ec';
      assert.equal(cert.publicKey.asymmetricKeyType, keyType);
      const ext = extensions(pair.certificatePem);
      assert.equal(ext.basic?.ca, true);
      assert.equal(ext.basic?.critical, true);
      assert.equal(
        ext.keyUsage?.usages,
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
      );
      assert.equal(ext.keyUsage?.critical, true);
      assert.match(ext.ski?.keyId ?? '', /^[0-9a-f]{40}$/);
      assert.equal(ext.extKeyUsage, null);
    });
  }

  it('issues a TLS serving certificate from a CA: names, usages, key identifiers, validity', async () => {
    const keyPem = await newKeyPem('ES256');
    const pem = await createCertificate(keyPem, {
      commonName: 'kube-apiserver',
      issuer: ca,
      ca: false,
      days: 7,
      subjectAltNames: [
        'IP:127.0.0.1',
        'DNS:localhost',
        'DNS:kubernetes.default.svc',
        'IP:10.96.0.1',
        'IP:::1',
      ],
    });
    const cert = new X509Certificate(pem);
    assert.equal(cert.ca, false);
    assert.equal(cert.subject, 'CN=kube-apiserver');
    assert.equal(cert.issuer, 'CN=berth test ca');
    assert.equal(
      cert.subjectAltName,
      'IP Address:127.0.0.1, DNS:localhost, DNS:kubernetes.default.svc, IP Address:10.96.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
    assert.equal(cert.checkHost('kubernetes.default.svc'), 'kubernetes.default.svc');
    assert.equal(cert.checkIP('10.96.0.1'), '10.96.0.1');
    assert.equal(cert.checkIP('10.96.0.2'), undefined);
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']); // extendedKeyUsage serverAuth
    assert.equal(validityDays(cert), 7);
    assert.ok(cert.checkIssued(caCert));
    assert.ok(cert.verify(caCert.publicKey));
    assert.ok(!cert.verify(cert.publicKey));
    assert.ok(cert.checkPrivateKey(createPrivateKey(keyPem)));
    assert.match(cert.serialNumber, /^[0-9A-F]{32}$/);
    const ext = extensions(pem);
    assert.equal(ext.basic?.ca, false);
    assert.equal(ext.keyUsage?.usages, x509.KeyUsageFlags.digitalSignature);
    assert.equal(ext.aki?.keyId, extensions(ca.certificatePem).ski?.keyId);
    assert.notEqual(ext.ski?.keyId, ext.aki?.keyId);
  });

  it('issues client certificates with O= groups and clientAuth, signed with an RSA CA', async () => {
    const rsaCa = await generateSigningKeyPair({ algorithm: 'RS256', commonName: 'rsa ca' });
    const pem = await createCertificate(await newKeyPem('ES384'), {
      commonName: 'jane',
      organizations: ['platform-engineers', 'system:masters'],
      issuer: rsaCa,
      usages: ['clientAuth'],
      days: 1,
    });
    const cert = new X509Certificate(pem);
    assert.equal(cert.subject, 'O=platform-engineers\nO=system:masters\nCN=jane');
    assert.equal(cert.issuer, 'CN=rsa ca');
    assert.equal(cert.ca, false);
    assert.equal(cert.subjectAltName, undefined);
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.2']);
    assert.equal(validityDays(cert), 1);
    assert.ok(cert.checkIssued(new X509Certificate(rsaCa.certificatePem)));
    assert.ok(cert.verify(new X509Certificate(rsaCa.certificatePem).publicKey));
  });

  it('keeps names that are not PrintableString (@, _) intact', async () => {
    const pem = await createCertificate(await newKeyPem(), {
      commonName: 'ci_bot@example.test',
      organizations: ['team_a'],
    });
    assert.equal(new X509Certificate(pem).subject, 'O=team_a\nCN=ci_bot@example.test');
  });

  it('gives every certificate its own random serial', async () => {
    const keyPem = await newKeyPem();
    const serials = new Set<string>();
    for (let i = 0; i < 5; i++) {
      serials.add(new X509Certificate(await createCertificate(keyPem, { commonName: 'same' })).serialNumber);
    }
    assert.equal(serials.size, 5);
  });

  it('makes a self-signed serving certificate: a CA, as self-signed ones are, with serverAuth', async () => {
    const cert = new X509Certificate(
      await createCertificate(await newKeyPem(), {
        commonName: 'registry.example',
        subjectAltNames: ['DNS:registry.example'],
        days: 825,
      }),
    );
    assert.equal(cert.ca, true);
    assert.equal(cert.subjectAltName, 'DNS:registry.example');
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']);
    assert.equal(validityDays(cert), 825);
  });

  it('serves TLS that a client trusting only the CA accepts', async () => {
    const key = await newKeyPem('ES256');
    const cert = await createCertificate(key, {
      commonName: 'localhost',
      issuer: ca,
      ca: false,
      subjectAltNames: ['DNS:localhost', 'IP:127.0.0.1'],
    });
    const server = createServer({ key, cert }, (_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const get = (trust: string) =>
        new Promise<string>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port, servername: 'localhost', ca: trust }, (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => resolve(body));
          });
          req.on('error', reject);
          req.end();
        });
      assert.equal(await get(ca.certificatePem), 'ok');
      const other = await generateSigningKeyPair({ commonName: 'berth test ca' }); // same name, other key
      await assert.rejects(get(other.certificatePem), /certificate/i);
    } finally {
      server.close();
    }
  });

  it('rejects bad names, addresses, validity and an issuer key that does not match its certificate', async () => {
    const keyPem = await newKeyPem();
    await assert.rejects(createCertificate(keyPem, { commonName: 'a\nb' }), /common name/);
    await assert.rejects(
      createCertificate(keyPem, { commonName: 'x', organizations: ['a,b=c'] }),
      /organization/,
    );
    await assert.rejects(
      createCertificate(keyPem, { commonName: 'x', subjectAltNames: ['email:a@b'] }),
      /subjectAltName/,
    );
    await assert.rejects(
      createCertificate(keyPem, { commonName: 'x', subjectAltNames: ['IP:1.2.3'] }),
      /not an IP address/,
    );
    await assert.rejects(createCertificate(keyPem, { commonName: 'x', days: 0 }), /positive number of days/);
    await assert.rejects(
      createCertificate(keyPem, { commonName: 'x', days: 1.5 }),
      /positive number of days/,
    );
    const stranger = await generateSigningKeyPair();
    await assert.rejects(
      createCertificate(keyPem, {
        commonName: 'x',
        issuer: { privateKeyPem: stranger.privateKeyPem, certificatePem: ca.certificatePem },
      }),
      /does not belong/,
    );
  });

  describe('ensureSigningKeyPair', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'berth-keypair-'));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('creates a key and certificate once, and re-makes a missing certificate from the key', async () => {
      const keyPath = join(dir, 'auth/signing.key');
      const certPath = join(dir, 'auth/signing.crt');
      assert.deepEqual(await ensureSigningKeyPair(keyPath, certPath, { commonName: 'standalone' }), {
        created: true,
      });
      assert.equal((await stat(keyPath)).mode & 0o777, 0o600);
      const keyPem = await readFile(keyPath, 'utf8');
      const first = new X509Certificate(await readFile(certPath));
      assert.equal(first.subject, 'CN=standalone');
      assert.deepEqual(await ensureSigningKeyPair(keyPath, certPath), { created: false });
      await rm(certPath);
      assert.deepEqual(await ensureSigningKeyPair(keyPath, certPath, { commonName: 'standalone' }), {
        created: true,
      });
      const second = new X509Certificate(await readFile(certPath));
      assert.equal(await readFile(keyPath, 'utf8'), keyPem);
      assert.notEqual(second.serialNumber, first.serialNumber);
      assert.ok(second.publicKey.equals(createPublicKey(keyPem)));
      assert.ok(second.checkPrivateKey(createPrivateKey(keyPem)));
    });
  });
});
