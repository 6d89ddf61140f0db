// The token issuer's signing keypair and its X.509 certificate (the registry trusts the certificate through
// `rootcertbundle`). node:crypto generates keys but cannot write certificates and jose cannot either, so the
// certificate is made by the `openssl` command until a certificate library (@peculiar/x509) is a dependency.
// Key material only passes through a private temporary directory that is removed afterwards.
import { execFile } from 'node:child_process';
import { generateKeyPair, createPrivateKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { mkdir } from 'node:fs/promises';
import { jwkThumbprint } from './keys.ts';

const execFileAsync = promisify(execFile);
const generateKeyPairAsync = promisify(generateKeyPair);

export type KeyAlgorithm = 'ES256' | 'ES384' | 'RS256';

export interface CertificateOptions {
  /** Subject and issuer CN for a self-signed certificate. */
  commonName: string;
  days?: number;
  /** Mark as a CA (basicConstraints CA:TRUE, keyCertSign). Self-signed issuer certificates are, like openssl's. */
  ca?: boolean;
  /** subjectAltName entries, e.g. `DNS:registry.example`, `IP:127.0.0.1` (TLS server certificates). */
  subjectAltNames?: string[];
  /** Sign with this CA instead of self-signing. */
  issuer?: { privateKeyPem: string; certificatePem: string };
}

export interface SigningKeyPair {
  algorithm: KeyAlgorithm;
  /** PKCS#8 PEM. */
  privateKeyPem: string;
  certificatePem: string;
  /** RFC 7638 thumbprint of the public key: the `kid` the issuer puts in token headers. */
  keyId: string;
}

const commonNamePattern = /^[A-Za-z0-9][A-Za-z0-9 ._:/@-]{0,63}$/;
const altNamePattern = /^(DNS:[A-Za-z0-9*.-]+|IP:[0-9A-Fa-f.:]+|URI:[A-Za-z0-9:/._~-]+)$/;

export async function generatePrivateKey(algorithm: KeyAlgorithm = 'ES256'): Promise<KeyObject> {
  switch (algorithm) {
    case 'ES256':
      return (await generateKeyPairAsync('ec', { namedCurve: 'P-256' })).privateKey;
    case 'ES384':
      return (await generateKeyPairAsync('ec', { namedCurve: 'P-384' })).privateKey;
    case 'RS256':
      return (await generateKeyPairAsync('rsa', { modulusLength: 3072 })).privateKey;
  }
}

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileAsync('openssl', args, { timeout: 30_000 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('generating a certificate needs the openssl command (not found on PATH)', {
        cause: err,
      });
    }
    throw new Error(
      `openssl ${args[0] ?? ''} failed: ${String((err as { stderr?: string }).stderr ?? err)}`,
      {
        cause: err,
      },
    );
  }
}

/** Creates an X.509 certificate for `privateKeyPem`'s public key, self-signed or signed by `options.issuer`. */
export async function createCertificate(privateKeyPem: string, options: CertificateOptions): Promise<string> {
  if (!commonNamePattern.test(options.commonName)) {
    throw new Error(
      `certificate common name ${JSON.stringify(options.commonName)} has unsupported characters`,
    );
  }
  for (const name of options.subjectAltNames ?? []) {
    if (!altNamePattern.test(name)) {
      throw new Error(`subjectAltName ${JSON.stringify(name)} is not DNS:, IP: or URI:`);
    }
  }
  const days = String(options.days ?? 3650);
  const ca = options.ca ?? !options.issuer;
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f; // a positive INTEGER
  const dir = await mkdtemp(join(tmpdir(), 'berth-cert-'));
  try {
    const file = (name: string) => join(dir, name);
    await writeFile(file('key.pem'), privateKeyPem, { mode: 0o600 });
    await writeFile(
      file('openssl.cnf'),
      [
        '[req]',
        'distinguished_name = dn',
        'prompt = no',
        '[dn]',
        `CN = ${options.commonName}`,
        '[ext]',
        `basicConstraints = critical,CA:${ca ? 'TRUE' : 'FALSE'}`,
        `keyUsage = critical,digitalSignature${ca ? ',keyCertSign' : ''}`,
        'subjectKeyIdentifier = hash',
        ...(options.issuer ? ['authorityKeyIdentifier = keyid'] : []),
        ...(options.subjectAltNames?.length ? [`subjectAltName = ${options.subjectAltNames.join(',')}`] : []),
        '',
      ].join('\n'),
    );
    const common = ['-sha256', '-days', days, '-set_serial', `0x${serial.toString('hex')}`];
    if (!options.issuer) {
      await openssl(
        ['req', '-x509', '-new', '-key', file('key.pem'), '-config', file('openssl.cnf')].concat([
          '-extensions',
          'ext',
          ...common,
          '-out',
          file('cert.pem'),
        ]),
      );
    } else {
      await writeFile(file('ca-key.pem'), options.issuer.privateKeyPem, { mode: 0o600 });
      await writeFile(file('ca.pem'), options.issuer.certificatePem);
      await openssl([
        'req',
        '-new',
        '-key',
        file('key.pem'),
        '-config',
        file('openssl.cnf'),
        '-out',
        file('csr.pem'),
      ]);
      await openssl([
        'x509',
        '-req',
        '-in',
        file('csr.pem'),
        '-CA',
        file('ca.pem'),
        '-CAkey',
        file('ca-key.pem'),
        '-extfile',
        file('openssl.cnf'),
        '-extensions',
        'ext',
        ...common,
        '-out',
        file('cert.pem'),
      ]);
    }
    const pem = await readFile(file('cert.pem'), 'utf8');
    new X509Certificate(pem); // fail here, not at first use, if openssl wrote something odd
    return pem;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A new signing key and a self-signed certificate whose CN is the token issuer's name. */
export async function generateSigningKeyPair(
  options: { algorithm?: KeyAlgorithm; commonName?: string; days?: number } = {},
): Promise<SigningKeyPair> {
  const algorithm = options.algorithm ?? 'ES256';
  const key = await generatePrivateKey(algorithm);
  const privateKeyPem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  const certificateOptions: CertificateOptions = { commonName: options.commonName ?? 'berth-token-issuer' };
  if (options.days !== undefined) certificateOptions.days = options.days;
  const certificatePem = await createCertificate(privateKeyPem, certificateOptions);
  return {
    algorithm,
    privateKeyPem,
    certificatePem,
    keyId: await jwkThumbprint(new X509Certificate(certificatePem).publicKey),
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes sure `keyPath` and `certPath` exist: an existing key is never replaced (tokens and the registry's
 * bundle depend on it); a missing certificate is re-made from the existing key. Returns whether it created
 * anything. Used by the embedded `npm start` setup.
 */
export async function ensureSigningKeyPair(
  keyPath: string,
  certPath: string,
  options: { algorithm?: KeyAlgorithm; commonName?: string; days?: number } = {},
): Promise<{ created: boolean }> {
  const haveKey = await exists(keyPath);
  const haveCert = await exists(certPath);
  if (haveKey && haveCert) return { created: false };
  await mkdir(dirname(keyPath), { recursive: true });
  await mkdir(dirname(certPath), { recursive: true });
  let privateKeyPem: string;
  if (haveKey) {
    privateKeyPem = createPrivateKey(await readFile(keyPath))
      .export({ type: 'pkcs8', format: 'pem' })
      .toString();
  } else {
    const pair = await generateSigningKeyPair(options);
    // 'wx': never overwrite a key another process wrote meanwhile.
    await writeFile(keyPath, pair.privateKeyPem, { mode: 0o600, flag: 'wx' });
    await chmod(keyPath, 0o600);
    await writeFile(certPath, pair.certificatePem, { mode: 0o644 });
    return { created: true };
  }
  const certificateOptions: CertificateOptions = { commonName: options.commonName ?? 'berth-token-issuer' };
  if (options.days !== undefined) certificateOptions.days = options.days;
  await writeFile(certPath, await createCertificate(privateKeyPem, certificateOptions), { mode: 0o644 });
  return { created: true };
}
