// Distribution's `storage.s3` parameters (already type-checked by the config schema) as S3Driver options.
import type { RegistryConfig } from '../config/schema.ts';
import { StorageDriverError } from './driver.ts';
import { driverName } from './s3-common.ts';
import type { S3DriverOptions } from './s3.ts';

export type S3Config = NonNullable<RegistryConfig['storage']['s3']>;

export function s3OptionsFromConfig(s3: S3Config, redirect: { disable: boolean }): S3DriverOptions {
  if (s3.v4auth === false) {
    // Distribution v3 refuses it on AWS too; S3-compatible services all speak signature v4 today.
    throw new StorageDriverError(driverName, 'v4auth', 'v4auth: false (signature v2) is not supported');
  }
  if (s3.secure === false && !s3.regionendpoint) {
    // The SDK reaches AWS over HTTPS whatever `secure` says; refusing beats ignoring it.
    throw new StorageDriverError(
      driverName,
      'secure',
      'secure: false needs a regionendpoint (AWS itself is reached over HTTPS only)',
    );
  }
  const options: S3DriverOptions = {
    bucket: s3.bucket,
    region: s3.region,
    redirect: !redirect.disable,
  };
  const set = <K extends keyof S3DriverOptions>(key: K, value: S3DriverOptions[K] | undefined): void => {
    if (value !== undefined) options[key] = value;
  };
  set('regionEndpoint', s3.regionendpoint);
  // GitLab spells it pathstyle; the schema refuses the two when they disagree.
  set('forcePathStyle', s3.forcepathstyle ?? s3.pathstyle);
  set('accessKey', s3.accesskey);
  set('secretKey', s3.secretkey);
  set('sessionToken', s3.sessiontoken);
  set('rootDirectory', s3.rootdirectory);
  set('encrypt', s3.encrypt);
  set('keyId', s3.keyid);
  set('secure', s3.secure);
  set('skipVerify', s3.skipverify);
  set('chunkSize', s3.chunksize);
  set('multipartCopyChunkSize', s3.multipartcopychunksize);
  set('multipartCopyMaxConcurrency', s3.multipartcopymaxconcurrency);
  set('multipartCopyThresholdSize', s3.multipartcopythresholdsize);
  set('storageClass', s3.storageclass);
  set('objectAcl', s3.objectacl);
  set('userAgent', s3.useragent);
  set('useDualStack', s3.usedualstack);
  set('accelerate', s3.accelerate);
  set('maxRequestsPerSecond', s3.maxrequestspersecond);
  // `loglevel` (the Go SDK's wire logging) has no counterpart: the registry's own log covers the driver.
  return options;
}
