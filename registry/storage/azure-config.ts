// Distribution's `storage.azure` parameters (already type-checked by the config schema) as an AzureDriver.
//
// Credentials as in Distribution v3: `credentials.type: shared_key` (or no credentials section) uses
// `accountkey`; `client_secret` uses `clientid`/`tenantid`/`secret` and `default_credentials` the
// environment's Entra ID identity (both through @azure/identity, loaded only then). Without a credentials
// section and without an account key, default_credentials apply.
import type { TokenCredential } from '@azure/core-auth';
import { parseDuration, type RegistryConfig } from '../config/schema.ts';
import { StorageDriverError } from './driver.ts';
import { driverName } from './azure-common.ts';
import { AzureDriver, type AzureDriverOptions } from './azure.ts';

export type AzureConfig = NonNullable<RegistryConfig['storage']['azure']>;

/** A Go duration as whole milliseconds (the SDK's unit). */
function milliseconds(duration: string | undefined): number | undefined {
  return duration === undefined ? undefined : Math.round(parseDuration(duration));
}

export function azureOptionsFromConfig(
  azure: AzureConfig,
  redirect: { disable: boolean },
): AzureDriverOptions {
  const options: AzureDriverOptions = {
    accountName: azure.accountname,
    container: azure.container,
    redirect: !redirect.disable,
  };
  const set = <K extends keyof AzureDriverOptions>(
    key: K,
    value: AzureDriverOptions[K] | undefined,
  ): void => {
    if (value !== undefined) options[key] = value;
  };
  const type = azure.credentials?.type ?? (azure.accountkey ? 'shared_key' : 'default_credentials');
  if (type === 'shared_key') {
    if (!azure.accountkey) {
      throw new StorageDriverError(driverName, 'accountkey', 'credentials.type shared_key needs accountkey');
    }
    set('accountKey', azure.accountkey);
  }
  set('realm', azure.realm || undefined);
  set('serviceURL', azure.serviceurl || undefined);
  set('rootDirectory', azure.rootdirectory);
  // GitLab's two names for one setting, opposite senses (the schema refuses them when they contradict).
  set(
    'legacyRootPrefix',
    azure.legacyrootprefix ??
      (azure.trimlegacyrootprefix === undefined ? undefined : !azure.trimlegacyrootprefix),
  );
  set('maxRetries', azure.max_retries);
  set('retryDelayMs', milliseconds(azure.retry_delay));
  set('copyStatusPollMaxRetry', azure.copy_status_poll_max_retry);
  set('copyStatusPollDelayMs', milliseconds(azure.copy_status_poll_delay));
  return options;
}

async function tokenCredential(azure: AzureConfig): Promise<TokenCredential> {
  const credentials = azure.credentials;
  let identity: typeof import('@azure/identity');
  try {
    identity = await import('@azure/identity');
  } catch (err) {
    throw new StorageDriverError(
      driverName,
      'credentials',
      'Entra ID credentials need the @azure/identity package, which this installation lacks; use accountkey',
      { cause: err },
    );
  }
  if (credentials?.type === 'client_secret') {
    const { clientid, tenantid, secret } = credentials;
    if (!clientid || !tenantid || !secret) {
      throw new StorageDriverError(
        driverName,
        'credentials',
        'credentials.type client_secret needs clientid, tenantid and secret',
      );
    }
    return new identity.ClientSecretCredential(tenantid, clientid, secret);
  }
  return new identity.DefaultAzureCredential();
}

/** The driver for a `storage.azure` section, its container created if it does not exist yet. */
export async function createAzureDriver(
  azure: AzureConfig,
  redirect: { disable: boolean },
): Promise<AzureDriver> {
  const options = azureOptionsFromConfig(azure, redirect);
  if (options.accountKey === undefined) options.tokenCredential = await tokenCredential(azure);
  const driver = new AzureDriver(options);
  await driver.ensureContainer();
  return driver;
}
