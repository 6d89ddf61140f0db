// MinIO, the S3 server of the storage tests (built by test/tools/install-minio.sh): one private server on a free
// port of loopback (or of `address`, e.g. a test cluster's host address, where its pods reach it) with its data
// in a temp dir. Its built-in KMS key makes server-side encryption testable. `kill` and `restart` take it away
// and bring it back with the same address, keys and data (the store unreachable mid-operation).
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { Agent, get as httpsGet } from 'node:https';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { createCertificate, generatePrivateKey } from '../../registry/auth/keypair.ts';
import { spawnDaemon, describeExit, type Daemon } from './daemon.ts';
import { freePort } from './ports.ts';
import { makeTempDir, removeTempDir } from './tmp.ts';
import { repoRoot } from './tools.ts';
import { httpStatus, waitFor } from './wait.ts';

export const minioBinary = path.join(repoRoot, '.cache/bin/minio');

export interface MinioOptions {
  /** Serve HTTPS with a fresh self-signed certificate for the address (registry/auth/keypair.ts). */
  tls?: boolean;
  /** The IPv4 address to listen on (default 127.0.0.1); the port is one free on loopback a moment ago. */
  address?: string;
}

export interface Minio {
  /** http://<address>:<port> (address 127.0.0.1 unless given), or https:// with `tls` */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
  /** The name of the KMS key MinIO holds (for `encrypt` with `keyid`). */
  kmsKeyId: string;
  createBucket(name: string): Promise<void>;
  /** Every key in `bucket` (under `prefix`). */
  listKeys(bucket: string, prefix?: string): Promise<string[]>;
  /** An object's content as text. */
  readObject(bucket: string, key: string): Promise<string>;
  /** MinIO's stdout and stderr so far. */
  output(): string;
  /** Stops the server at once (no grace period), keeping its data: connections are refused until `restart`. */
  kill(): Promise<void>;
  /** Starts the server again on the same address and port with the same keys and data. */
  restart(): Promise<void>;
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

/** A self-signed certificate for `address` where MinIO looks for it (`--certs-dir`). */
async function makeCertificate(certsDir: string, address: string): Promise<void> {
  const privateKeyPem = (await generatePrivateKey('ES256'))
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();
  const certificatePem = await createCertificate(privateKeyPem, {
    commonName: address,
    subjectAltNames: [`IP:${address}`],
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
  const address = opts.address ?? '127.0.0.1';
  const port = await freePort();
  let consolePort = await freePort();
  while (consolePort === port) consolePort = await freePort();
  const endpoint = `${opts.tls ? 'https' : 'http'}://${address}:${port}`;
  const certsDir = path.join(dir, 'certs');
  if (opts.tls) {
    await mkdir(certsDir);
    await makeCertificate(certsDir, address);
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
  const args = [
    'server',
    '--quiet',
    '--address',
    `${address}:${port}`,
    '--console-address',
    `${address}:${consolePort}`,
    '--certs-dir',
    certsDir,
    path.join(dir, 'data'),
  ];
  /** Starts the server and waits until it is ready (it is stopped again if it never is). */
  const launch = async (): Promise<Daemon> => {
    const started = spawnDaemon('minio', bin, args, { env, cwd: dir });
    try {
      await waitFor(
        `minio to answer ${endpoint}/minio/health/ready`,
        async () => ((await probe(`${endpoint}/minio/health/ready`)) === 200 ? true : undefined),
        {
          timeoutMs: 60_000,
          abort: () =>
            started.running()
              ? undefined
              : `minio exited during start-up (${describeExit({ code: started.process.exitCode, signal: started.process.signalCode })})\n${started.output()}`,
        },
      );
    } catch (err) {
      await started.stop(10_000);
      throw err;
    }
    return started;
  };
  let daemon: Daemon | undefined;
  const stop = async (): Promise<void> => {
    await daemon?.stop(10_000);
    daemon = undefined;
    await removeTempDir(dir);
  };
  try {
    daemon = await launch();
  } catch (err) {
    await removeTempDir(dir);
    throw err;
  }
  const region = 'us-east-1';
  const client = () =>
    new S3Client({
      region,
      endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
      ...(opts.tls ? { requestHandler: { httpsAgent: new Agent({ rejectUnauthorized: false }) } } : {}),
    });
  let earlierOutput = '';
  return {
    endpoint,
    accessKey,
    secretKey,
    region,
    kmsKeyId,
    output: () => earlierOutput + (daemon?.output() ?? ''),
    async createBucket(name: string): Promise<void> {
      const c = client();
      try {
        await c.send(new CreateBucketCommand({ Bucket: name }));
      } finally {
        c.destroy();
      }
    },
    async listKeys(bucket: string, prefix?: string): Promise<string[]> {
      const c = client();
      const keys: string[] = [];
      try {
        let token: string | undefined;
        do {
          const page = await c.send(
            new ListObjectsV2Command({
              Bucket: bucket,
              ...(prefix !== undefined ? { Prefix: prefix } : {}),
              ...(token !== undefined ? { ContinuationToken: token } : {}),
            }),
          );
          for (const o of page.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
          token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
        } while (token !== undefined);
      } finally {
        c.destroy();
      }
      return keys;
    },
    async readObject(bucket: string, key: string): Promise<string> {
      const c = client();
      try {
        const res = await c.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return (await res.Body?.transformToString('utf8')) ?? '';
      } finally {
        c.destroy();
      }
    },
    async kill(): Promise<void> {
      if (daemon === undefined) return;
      earlierOutput += daemon.output();
      await daemon.stop(0);
      daemon = undefined;
    },
    async restart(): Promise<void> {
      if (daemon !== undefined) {
        earlierOutput += daemon.output();
        await daemon.stop(10_000);
      }
      daemon = await launch();
    },
    stop,
  };
}
