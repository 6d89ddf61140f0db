// Azurite, the Azure Blob server of the storage tests (the `azurite` devDependency): one private blob service on
// a free loopback port with its data in a temp dir, run by the project's Node 24. It serves the well-known
// development account `devstoreaccount1` path-style (http://127.0.0.1:<port>/devstoreaccount1).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { describeExit, spawnDaemon } from './daemon.ts';
import { freePort } from './ports.ts';
import { makeTempDir, removeTempDir } from './tmp.ts';
import { repoRoot, requireTool } from './tools.ts';
import { httpStatus, waitFor } from './wait.ts';

export const azuriteBlobMain = path.join(repoRoot, 'node_modules/azurite/dist/src/blob/main.js');

/** The emulator's fixed development account (documented by Microsoft; not a secret). */
export const azuriteAccountName = 'devstoreaccount1';
export const azuriteAccountKey =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Azurite {
  /** http://127.0.0.1:<port>/devstoreaccount1, the account's blob service URL */
  endpoint: string;
  accountName: string;
  accountKey: string;
  createContainer(name: string): Promise<void>;
  /** Azurite's stdout and stderr so far. */
  output(): string;
  stop(): Promise<void>;
}

export function requireAzurite(): string {
  if (!existsSync(azuriteBlobMain)) {
    throw new Error(
      `required tool "azurite" is missing at ${azuriteBlobMain}: run \`npm ci\` (azurite is a devDependency)`,
    );
  }
  return azuriteBlobMain;
}

export async function startAzurite(): Promise<Azurite> {
  const main = requireAzurite();
  const node = requireTool('node');
  const dir = await makeTempDir('azurite');
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}/${azuriteAccountName}`;
  const daemon = spawnDaemon(
    'azurite',
    node,
    [
      main,
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      String(port),
      '--location',
      dir,
      // The SDK may speak a newer service version than this Azurite release knows.
      '--skipApiVersionCheck',
      '--loose',
      '--disableProductStyleUrl',
      '--disableTelemetry',
      '--silent',
    ],
    {
      cwd: dir,
      env: { PATH: process.env['PATH'], HOME: dir, AZURITE_ACCOUNTS: undefined },
    },
  );
  const stop = async (): Promise<void> => {
    await daemon.stop(10_000);
    await removeTempDir(dir);
  };
  try {
    await waitFor(
      `azurite to answer on ${endpoint}`,
      // Any HTTP answer (an anonymous request is refused) means the server is up.
      async () => ((await httpStatus(`${endpoint}?comp=list`)) !== undefined ? true : undefined),
      {
        timeoutMs: 60_000,
        abort: () =>
          daemon.running()
            ? undefined
            : `azurite exited during start-up (${describeExit({ code: daemon.process.exitCode, signal: daemon.process.signalCode })})\n${daemon.output()}`,
      },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    endpoint,
    accountName: azuriteAccountName,
    accountKey: azuriteAccountKey,
    output: daemon.output,
    async createContainer(name: string): Promise<void> {
      const service = new BlobServiceClient(
        endpoint,
        new StorageSharedKeyCredential(azuriteAccountName, azuriteAccountKey),
      );
      await service.getContainerClient(name).createIfNotExists();
    },
    stop,
  };
}
