// Keys and X.509 certificates, made in process: the token issuer's signing keypair and its self-signed
// certificate (the registry trusts it through `rootcertbundle`), self-signed TLS certificates, and leaf
// certificates signed by a CA (the test harness's control-plane PKI). node:crypto generates the keys;
// @peculiar/x509 builds the certificates and signs them with Node's WebCrypto, so no external certificate
// tool is needed (slim images have none). @peculiar/x509 needs a Reflect metadata polyfill
// (reflect-metadata); both are loaded on first use, so processes that never make a certificate skip them.
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  randomBytes,
  webcrypto,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { access, chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import type * as X509 from '@peculiar/x509';
import { jwkThumbprint } from './keys.ts';

const generateKeyPairAsync = promisify(generateKeyPair);

export type KeyAlgorithm = 'ES256' | 'ES384' | 'RS256';

/** An extended key usage of a leaf certificate. */
export type CertificateUsage = 'serverAuth' | 'clientAuth';

export interface CertificateOptions {
  /** Subject CN (and the issuer CN of a self-signed certificate). */
  commonName: string;
  /** Subject O= entries, one RDN each (kube-apiserver reads them as a client certificate user's groups). */
  organizations?: readonly string[];
  /** Validity from now, in days (default 3650). */
  days?: number;
  /**
   * Mark as a CA (basicConstraints CA:TRUE, keyUsage keyCertSign and cRLSign). Default: self-signed
   * certificates are CAs (as `req -x509` tools make them), certificates signed by `issuer` are not.
   */
  ca?: boolean;
  /** subjectAltName entries: `DNS:registry.example`, `IP:127.0.0.1`, `IP:::1`, `URI:spiffe://x`. */
  subjectAltNames?: readonly string[];
  /** extendedKeyUsage. Default: `serverAuth` when there are subjectAltNames, else none. */
  usages?: readonly CertificateUsage[];
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

// CN and O values: printable, at most 64 characters (X.520's upper bound), and free of the quotes, backslashes
// and leading `#` that @peculiar/x509 would interpret.
const namePattern = /^[A-Za-z0-9][A-Za-z0-9 ._:/@-]{0,63}$/;
const altNamePattern = /^(DNS:[A-Za-z0-9*.-]+|IP:[0-9A-Fa-f.:]+|URI:[A-Za-z0-9:/._~-]+)$/;
const defaultDays = 3650;

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

let x509Module: Promise<typeof X509> | undefined;

/** @peculiar/x509 on Node's WebCrypto; reflect-metadata first, because its tsyringe needs it at load time. */
function loadX509(): Promise<typeof X509> {
  return (x509Module ??= (async () => {
    await import('reflect-metadata');
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto);
    return x509;
  })());
}

const ecCurves: Record<string, { namedCurve: string; hash: string }> = {
  prime256v1: { namedCurve: 'P-256', hash: 'SHA-256' },
  secp384r1: { namedCurve: 'P-384', hash: 'SHA-384' },
  secp521r1: { namedCurve: 'P-521', hash: 'SHA-512' },
};

/** `key` as a WebCrypto signing key, and the signature algorithm a certificate signed by it uses. */
async function signingKey(key: KeyObject): Promise<{
  key: webcrypto.CryptoKey;
  algorithm: webcrypto.EcdsaParams | webcrypto.RsaHashedImportParams;
}> {
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  if (key.asymmetricKeyType === 'ec') {
    const curve = ecCurves[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (curve) {
      const params = { name: 'ECDSA', namedCurve: curve.namedCurve };
      const imported = await webcrypto.subtle.importKey('pkcs8', pkcs8, params, false, ['sign']);
      return { key: imported, algorithm: { name: 'ECDSA', hash: curve.hash } };
    }
  } else if (key.asymmetricKeyType === 'rsa') {
    const params = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    const imported = await webcrypto.subtle.importKey('pkcs8', pkcs8, params, false, ['sign']);
    return { key: imported, algorithm: params };
  }
  const detail = key.asymmetricKeyDetails?.namedCurve ?? '';
  throw new Error(
    `cannot sign a certificate with a ${key.asymmetricKeyType ?? 'unknown'}${detail ? ` ${detail}` : ''} key ` +
      '(EC P-256, P-384, P-521 or RSA)',
  );
}

function spki(key: KeyObject): Uint8Array {
  return new Uint8Array(createPublicKey(key).export({ type: 'spki', format: 'der' }));
}

function generalName(name: string): X509.JsonGeneralName {
  const colon = name.indexOf(':');
  const kind = name.slice(0, colon);
  const value = name.slice(colon + 1);
  switch (kind) {
    case 'DNS':
      return { type: 'dns', value };
    case 'IP':
      if (isIP(value) === 0) throw new Error(`subjectAltName ${JSON.stringify(name)} is not an IP address`);
      return { type: 'ip', value };
    default:
      return { type: 'url', value };
  }
}

/** Creates an X.509 certificate for `privateKeyPem`'s public key, self-signed or signed by `options.issuer`. */
export async function createCertificate(privateKeyPem: string, options: CertificateOptions): Promise<string> {
  if (!namePattern.test(options.commonName)) {
    throw new Error(
      `certificate common name ${JSON.stringify(options.commonName)} has unsupported characters`,
    );
  }
  for (const org of options.organizations ?? []) {
    if (!namePattern.test(org)) {
      throw new Error(`certificate organization ${JSON.stringify(org)} has unsupported characters`);
    }
  }
  for (const name of options.subjectAltNames ?? []) {
    if (!altNamePattern.test(name)) {
      throw new Error(`subjectAltName ${JSON.stringify(name)} is not DNS:, IP: or URI:`);
    }
  }
  const days = options.days ?? defaultDays;
  if (!Number.isSafeInteger(days) || days < 1) {
    throw new Error(`certificate validity ${String(days)} is not a positive number of days`);
  }
  const ca = options.ca ?? !options.issuer;
  const subjectAltNames = options.subjectAltNames ?? [];
  const usages = options.usages ?? (subjectAltNames.length > 0 ? ['serverAuth'] : []);

  const x509 = await loadX509();
  const subjectKey = createPrivateKey(privateKeyPem);
  const subjectPublicKey = spki(subjectKey);
  let signer: KeyObject;
  let issuerName: X509.Name | X509.JsonName;
  let authorityKeyId: string | undefined;
  const subjectName: X509.JsonName = [
    ...(options.organizations ?? []).map((o) => ({ O: [o] })),
    { CN: [options.commonName] },
  ];
  if (options.issuer) {
    signer = createPrivateKey(options.issuer.privateKeyPem);
    const issuerCert = new x509.X509Certificate(options.issuer.certificatePem);
    const issuerPublicKey = new Uint8Array(issuerCert.publicKey.rawData);
    if (!createPublicKey(signer).equals(new X509Certificate(options.issuer.certificatePem).publicKey)) {
      throw new Error("the issuer's private key does not belong to its certificate");
    }
    issuerName = issuerCert.subjectName;
    // authorityKeyIdentifier keyid: the issuer's own subjectKeyIdentifier when it has one (RFC 5280 4.2.1.1).
    authorityKeyId =
      issuerCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId ??
      (await x509.AuthorityKeyIdentifierExtension.create(issuerPublicKey)).keyId;
  } else {
    signer = subjectKey;
    issuerName = subjectName;
  }
  const { key, algorithm } = await signingKey(signer);

  const extensions: X509.Extension[] = [
    new x509.BasicConstraintsExtension(ca, undefined, true),
    new x509.KeyUsagesExtension(
      ca
        ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign
        : x509.KeyUsageFlags.digitalSignature,
      true,
    ),
  ];
  if (usages.length > 0) {
    extensions.push(new x509.ExtendedKeyUsageExtension(usages.map((u) => x509.ExtendedKeyUsage[u])));
  }
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(subjectPublicKey));
  if (authorityKeyId !== undefined) extensions.push(new x509.AuthorityKeyIdentifierExtension(authorityKeyId));
  if (subjectAltNames.length > 0) {
    extensions.push(new x509.SubjectAlternativeNameExtension(subjectAltNames.map(generalName)));
  }

  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40; // a positive INTEGER of 16 octets
  const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial.toString('hex'),
    subject: subjectName,
    issuer: issuerName,
    notBefore,
    notAfter: new Date(notBefore.getTime() + days * 86_400_000),
    publicKey: subjectPublicKey,
    signingKey: key,
    signingAlgorithm: algorithm,
    extensions,
  });
  // node:crypto's PEM (64-column base64, trailing newline); parsing it here fails now rather than at first use.
  const pem = new X509Certificate(Buffer.from(cert.rawData)).toString();
  if (
    options.issuer &&
    !new X509Certificate(pem).checkIssued(new X509Certificate(options.issuer.certificatePem))
  ) {
    throw new Error('the new certificate does not name its issuer');
  }
  return pem;
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
