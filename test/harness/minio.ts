// MinIO, the S3 server of the storage tests (built by test/tools/install-minio.sh): one private server on a free
// loopback port with its data in a temp dir. Its built-in KMS key makes server-side encryption testable.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { Agent, get as httpsGet } from 'node:https';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { createCertificate, generatePrivateKey } from '../../registry/auth/keypair.ts';
import { spawnDaemon, describeExit } from './daemon.ts';
import { freePort } from './ports.ts';
import { makeTempDir, removeTempDir } from './tmp.ts';
import { repoRoot } from './tools.ts';
import { httpStatus, waitFor } from './wait.ts';

export const minioBinary = path.join(repoRoot, '.cache/bin/minio');

export interface MinioOptions {
  /** Serve HTTPS with a fresh self-signed certificate for 127.0.0.1 (registry/auth/keypair.ts). */
  tls?: boolean;
}

export interface Minio {
  /** http://127.0.0.1:<port>, or https:// with `tls` */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
  /** The name of the KMS key MinIO holds (for `encrypt` with `keyid`). */
  kmsKeyId: string;
  createBucket(name: string): Promise<void>;
  /** MinIO's stdout and stderr so far. */
  output(): string;
  stop(): Promise<void>;
}

export function requireMinio(): string {
  if (!existsSync(minioBinary)) {
    throw new Error(
      `required tool "minio" is missing at ${minioBinary}: run test/tools/install-minio.sh ` +
        '(test/tools/install-system.sh runs it too)',
    );
  }
  return minioBinary;
}

/** A self-signed certificate for 127.0.0.1 where MinIO looks for it (`--certs-dir`). */
async function makeCertificate(certsDir: string): Promise<void> {
  const privateKeyPem = (await generatePrivateKey('ES256'))
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();
  const certificatePem = await createCertificate(privateKeyPem, {
    commonName: '127.0.0.1',
    subjectAltNames: ['IP:127.0.0.1'],
    days: 1,
  });
  await writeFile(path.join(certsDir, 'private.key'), privateKeyPem, { mode: 0o600 });
  await writeFile(path.join(certsDir, 'public.crt'), certificatePem);
}

/** The status of a GET; self-signed certificates are accepted (the harness made them). */
function probe(url: string): Promise<number | undefined> {
  if (url.startsWith('http:')) return httpStatus(url);
  return new Promise((resolve) => {
    const req = httpsGet(url, { rejectUnauthorized: false, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
  });
}

export async function startMinio(opts: MinioOptions = {}): Promise<Minio> {
  const bin = requireMinio();
  const dir = await makeTempDir('minio');
  const port = await freePort();
  let consolePort = await freePort();
  while (consolePort === port) consolePort = await freePort();
  const endpoint = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const certsDir = path.join(dir, 'certs');
  if (opts.tls) {
    await mkdir(certsDir);
    await makeCertificate(certsDir);
  }
  const accessKey = 'berth-test';
  const secretKey = randomBytes(16).toString('hex');
  const kmsKeyId = 'berth-test-key';
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: dir,
    MINIO_ROOT_USER: accessKey,
    MINIO_ROOT_PASSWORD: secretKey,
    MINIO_KMS_SECRET_KEY: `${kmsKeyId}:${randomBytes(32).toString('base64')}`,
    MINIO_BROWSER: 'off',
    MINIO_UPDATE: 'off',
    // CI mode: a throwaway server on the root filesystem, with no interactive or drive-layout checks.
    MINIO_CI_CD: '1',
  };
  const daemon = spawnDaemon(
    'minio',
    bin,
    [
      'server',
      '--quiet',
      '--address',
      `127.0.0.1:${port}`,
      '--console-address',
      `127.0.0.1:${consolePort}`,
      '--certs-dir',
      certsDir,
      path.join(dir, 'data'),
    ],
    { env, cwd: dir },
  );
  const stop = async (): Promise<void> => {
    await daemon.stop(10_000);
    await removeTempDir(dir);
  };
  try {
    await waitFor(
      `minio to answer ${endpoint}/minio/health/ready`,
      async () => ((await probe(`${endpoint}/minio/health/ready`)) === 200 ? true : undefined),
      {
        timeoutMs: 60_000,
        abort: () =>
          daemon.running()
            ? undefined
            : `minio exited during start-up (${describeExit({ code: daemon.process.exitCode, signal: daemon.process.signalCode })})\n${daemon.output()}`,
      },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const region = 'us-east-1';
  return {
    endpoint,
    accessKey,
    secretKey,
    region,
    kmsKeyId,
    output: daemon.output,
    async createBucket(name: string): Promise<void> {
      const client = new S3Client({
        region,
        endpoint,
        forcePathStyle: true,
        credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
        ...(opts.tls ? { requestHandler: { httpsAgent: new Agent({ rejectUnauthorized: false }) } } : {}),
      });
      try {
        await client.send(new CreateBucketCommand({ Bucket: name }));
      } finally {
        client.destroy();
      }
    },
    stop,
  };
}
