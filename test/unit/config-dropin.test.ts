// Keys a GitLab or Distribution config.yml carries that Berth must take as they are: each is accepted, refused
// with a message naming it when it contradicts another, and has its effect. The Azure root prefix is exercised
// against Azurite in test/storage/azure-driver.test.ts, http.debug against a real process in
// test/registry/debug-server.test.ts, and maxretries' effect against a real endpoint in
// test/notifications/hanging-endpoint.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, parseConfig } from '../../registry/config/load.ts';
import { StorageDriverError } from '../../registry/storage/driver.ts';
import { azureOptionsFromConfig } from '../../registry/storage/azure-config.ts';
import { AzureDriver } from '../../registry/storage/azure.ts';
import { createStorageDriver } from '../../registry/storage/factory.ts';
import { s3OptionsFromConfig } from '../../registry/storage/s3-config.ts';
import { S3Driver } from '../../registry/storage/s3.ts';

/** Parses with an empty environment unless one is given, so the runner's variables never leak in. */
function parse(text: string, env: Record<string, string> = {}) {
  return parseConfig(text, env).config;
}

/** The parsed `storage.s3` section of a config that has one. */
function s3Of(text: string) {
  const s3 = parse(text).storage.s3;
  assert.ok(s3 !== undefined, 'no storage.s3');
  return s3;
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError');
}

const s3 = (extra: string): string =>
  [
    'version: 0.1',
    'storage:',
    '  s3:',
    '    region: us-east-1',
    '    bucket: registry-bucket',
    '    accesskey: AKIDEXAMPLE',
    '    secretkey: example-secret',
    extra,
  ].join('\n');

/** Where the driver sends a blob download: path style puts the bucket in the path, not the host name. */
async function redirectOf(text: string, env: Record<string, string> = {}): Promise<string> {
  const driver = await createStorageDriver(parse(text, env).storage);
  assert.ok(driver instanceof S3Driver);
  try {
    const url = await driver.redirectURL('/docker/registry/v2/blobs/sha256/ab/abc/data', 'GET');
    assert.ok(url !== null);
    return url.split('?')[0] ?? '';
  } finally {
    driver.destroy();
  }
}

describe('storage.s3.pathstyle (GitLab) works as forcepathstyle', () => {
  const pathStyle =
    'https://s3.us-east-1.amazonaws.com/registry-bucket/docker/registry/v2/blobs/sha256/ab/abc/data';
  const hostStyle =
    'https://registry-bucket.s3.us-east-1.amazonaws.com/docker/registry/v2/blobs/sha256/ab/abc/data';

  test('either name turns path-style addressing on; unset or false leaves AWS virtual-hosted', async () => {
    assert.equal(await redirectOf(s3('')), hostStyle);
    assert.equal(await redirectOf(s3('    pathstyle: true')), pathStyle);
    assert.equal(await redirectOf(s3('    forcepathstyle: true')), pathStyle);
    assert.equal(await redirectOf(s3('    pathstyle: "true"\n    forcepathstyle: true')), pathStyle);
    assert.equal(await redirectOf(s3('    pathstyle: false')), hostStyle);
    assert.equal(await redirectOf(s3(''), { REGISTRY_STORAGE_S3_PATHSTYLE: 'true' }), pathStyle);
    // With a regionendpoint path style is the default (Distribution 2.8); pathstyle: false turns it off.
    const minio = s3('    regionendpoint: http://minio.example.test:9000\n    pathstyle: false');
    assert.equal(s3OptionsFromConfig(s3Of(minio), { disable: false }).forcePathStyle, false);
  });

  test('pathstyle and forcepathstyle that disagree stop start-up naming both keys', () => {
    const err = configError(() => parse(s3('    forcepathstyle: true\n    pathstyle: false')));
    assert.equal(err.issues.length, 1);
    assert.equal(err.issues[0]?.path, 'storage.s3.pathstyle');
    assert.match(err.message, /storage\.s3\.pathstyle: false contradicts forcepathstyle: true/);
  });
});

describe('storage.s3 keys the CRD renders are checked where the registry reads them', () => {
  test("storageclass is one of Distribution's (any case), refused at load otherwise", () => {
    assert.equal(parse(s3('    storageclass: onezone_ia')).storage.s3?.storageclass, 'onezone_ia');
    const err = configError(() => parse(s3('    storageclass: DEEP_ARCHIVE')));
    assert.equal(err.issues[0]?.path, 'storage.s3.storageclass');
    assert.match(err.message, /expected one of NONE, STANDARD, REDUCED_REDUNDANCY/);
  });

  test('secure: false is refused where it could not take effect (AWS is reached over HTTPS only)', () => {
    const aws = s3Of(s3('    secure: false'));
    assert.throws(
      () => s3OptionsFromConfig(aws, { disable: false }),
      (err: unknown) =>
        err instanceof StorageDriverError && /secure: false needs a regionendpoint/.test(err.message),
    );
    const minio = s3Of(s3('    regionendpoint: minio.example.test:9000\n    secure: false'));
    assert.equal(s3OptionsFromConfig(minio, { disable: false }).secure, false);
  });
});

describe('storage.azure realm and trimlegacyrootprefix', () => {
  const azure = (extra: string): string =>
    [
      'version: 0.1',
      'storage:',
      '  azure:',
      '    accountname: acct',
      '    accountkey: a2V5',
      '    container: registry',
      extra,
    ].join('\n');
  const options = (text: string) => {
    const params = parse(text).storage.azure;
    assert.ok(params !== undefined, 'no storage.azure');
    return azureOptionsFromConfig(params, { disable: false });
  };

  test('realm is the domain suffix of the service URL (https://<account>.blob.<realm>)', () => {
    assert.equal(
      new AzureDriver(options(azure(''))).container.url,
      'https://acct.blob.core.windows.net/registry',
    );
    assert.equal(
      new AzureDriver(options(azure('    realm: core.usgovcloudapi.net'))).container.url,
      'https://acct.blob.core.usgovcloudapi.net/registry',
    );
    // serviceurl, when given, is the endpoint as it is.
    assert.equal(
      new AzureDriver(
        options(azure('    realm: core.chinacloudapi.cn\n    serviceurl: http://azurite:10000/acct')),
      ).container.url,
      'http://azurite:10000/acct/registry',
    );
  });

  test('trimlegacyrootprefix: false (or legacyrootprefix: true) keeps the leading "/" of Distribution 2.x', () => {
    const legacyOf = (extra: string): boolean => new AzureDriver(options(azure(extra))).legacyRootPrefix;
    assert.equal(legacyOf(''), false);
    assert.equal(legacyOf('    trimlegacyrootprefix: true'), false);
    assert.equal(legacyOf('    trimlegacyrootprefix: false'), true);
    assert.equal(legacyOf('    legacyrootprefix: "true"'), true);
    assert.equal(legacyOf('    legacyrootprefix: false\n    trimlegacyrootprefix: true'), false);
    const legacy = new AzureDriver(
      options(azure('    trimlegacyrootprefix: false\n    rootdirectory: /reg')),
    );
    assert.equal(legacy.blobName('/docker/registry/v2/x'), '/reg/docker/registry/v2/x');
    const trimmed = new AzureDriver(options(azure('    rootdirectory: /reg')));
    assert.equal(trimmed.blobName('/docker/registry/v2/x'), 'reg/docker/registry/v2/x');
  });

  test('the two keys that contradict each other stop start-up naming both', () => {
    const err = configError(() =>
      parse(azure('    trimlegacyrootprefix: false\n    legacyrootprefix: false')),
    );
    assert.equal(err.issues[0]?.path, 'storage.azure.legacyrootprefix');
    assert.match(err.message, /legacyrootprefix: false contradicts trimlegacyrootprefix: false/);
  });
});

describe('notifications.endpoints[].maxretries (GitLab)', () => {
  const endpoint = (extra: string): string =>
    [
      'version: 0.1',
      'storage: inmemory',
      'notifications:',
      '  endpoints:',
      '    - name: rails',
      '      url: https://gitlab.example.test/api/v4/container_registry_event/events',
      '      headers:',
      '        Authorization: [secret]',
      '      timeout: 500ms',
      '      threshold: 5',
      '      backoff: 1s',
      extra,
    ].join('\n');

  test('is accepted into the parsed config; unset stays unset', () => {
    assert.equal(parse(endpoint('      maxretries: 5')).notifications.endpoints[0]?.maxretries, 5);
    assert.equal(parse(endpoint('      maxretries: 0')).notifications.endpoints[0]?.maxretries, 0);
    assert.equal(parse(endpoint('')).notifications.endpoints[0]?.maxretries, undefined);
  });

  test('anything but an integer >= 0 is refused, naming the key', () => {
    for (const bad of ['-1', '2.5', 'often']) {
      const err = configError(() => parse(endpoint(`      maxretries: ${bad}`)));
      assert.equal(err.issues[0]?.path, 'notifications.endpoints[0].maxretries', bad);
    }
  });
});

describe('http.debug', () => {
  const debug = (lines: string): string => `version: 0.1\nstorage: inmemory\nhttp:\n  debug:\n${lines}`;

  test("takes Distribution's keys; prometheus is off unless enabled, at /metrics by default", () => {
    assert.deepEqual(parse(debug('    addr: localhost:5001')).http.debug, {
      addr: 'localhost:5001',
      prometheus: { enabled: false, path: '/metrics' },
    });
    const on = parse(debug('    addr: :5001\n    prometheus:\n      enabled: true\n      path: /prom'));
    assert.deepEqual(on.http.debug?.prometheus, { enabled: true, path: '/prom' });
  });

  test('an address that is not host:port, or a path without "/", is refused naming the key', () => {
    assert.equal(configError(() => parse(debug('    addr: "5001"'))).issues[0]?.path, 'http.debug.addr');
    const path = configError(() => parse(debug('    addr: :5001\n    prometheus:\n      path: metrics')));
    assert.equal(path.issues[0]?.path, 'http.debug.prometheus.path');
  });
});
