import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, configRevision, loadConfig, parseConfig } from '../../registry/config/load.ts';
import { parseDuration, registryConfigSchema, storageDriverOf } from '../../registry/config/schema.ts';

const MINIMAL = 'version: 0.1\nstorage:\n  inmemory:\n';

/** Parses with an empty environment so the test runner's own variables never leak in. */
function parse(text: string, env: Record<string, string> = {}) {
  return parseConfig(text, env, 'config.yml', { cwd: '/srv/berth' });
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

// /etc/docker/registry/config.yml as Debian's docker-registry (Distribution 2.8) package ships it.
const DEBIAN_CONFIG = `version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/docker-registry
  delete:
    enabled: true
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
auth:
  htpasswd:
    realm: basic-realm
    path: /etc/docker/registry
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
`;

function withoutAuth(text: string): string {
  return text.replace(/^auth:\n(?: {2}.*\n)+/m, '');
}

describe('registry config: defaults', () => {
  test('a minimal config is fully defaulted', () => {
    const { config } = parse(MINIMAL);
    assert.equal(config.version, '0.1');
    assert.deepEqual(config.log, {
      level: 'info',
      fields: {},
      accesslog: { disabled: false },
      reportcaller: false,
    });
    assert.deepEqual(config.storage.inmemory, {});
    assert.deepEqual(config.storage.delete, { enabled: false });
    assert.deepEqual(config.storage.redirect, { disable: false });
    assert.deepEqual(config.storage.maintenance, {
      uploadpurging: { enabled: true, age: '168h', interval: '24h', dryrun: false },
      readonly: { enabled: false },
    });
    assert.deepEqual(config.storage.cache, { blobdescriptorsize: 10000 });
    assert.deepEqual(config.storage.tag, { concurrencylimit: 0 });
    assert.deepEqual(config.auth, {});
    assert.deepEqual(config.http, {
      addr: ':5000',
      net: 'tcp',
      relativeurls: false,
      headers: {},
      http2: { disabled: false },
    });
    assert.deepEqual(config.notifications, { events: { includereferences: false }, endpoints: [] });
    assert.deepEqual(config.health, { storagedriver: { enabled: false, interval: '10s', threshold: 1 } });
    assert.deepEqual(config.validation, {
      disabled: false,
      manifests: { urls: { allow: [], deny: [] }, indexes: { platforms: 'all', platformlist: [] } },
    });
    assert.deepEqual(config.catalog, { maxentries: 1000 });
    assert.deepEqual(storageDriverOf(config.storage), { name: 'inmemory', params: {} });
  });

  test('filesystem defaults, and a relative rootdirectory is resolved against the working directory', () => {
    const { config } = parse('version: 0.1\nstorage:\n  filesystem:\n');
    assert.deepEqual(config.storage.filesystem, { rootdirectory: '/var/lib/registry', maxthreads: 100 });
    const relative = parse('version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ./data\n');
    assert.equal(relative.config.storage.filesystem?.rootdirectory, '/srv/berth/data');
  });

  test('the storage section may name the driver alone, as in Distribution', () => {
    assert.deepEqual(parse('version: 0.1\nstorage: inmemory\n').config.storage.inmemory, {});
  });

  test('the embedded default config parses: ./data, :5000, delete enabled, info', () => {
    const text = readFileSync(new URL('../../registry/default-config.yml', import.meta.url), 'utf8');
    const { config } = parseConfig(text, {}, 'default-config.yml', { cwd: '/repo' });
    assert.equal(config.storage.filesystem?.rootdirectory, '/repo/data');
    assert.equal(config.http.addr, ':5000');
    assert.equal(config.storage.delete.enabled, true);
    assert.equal(config.log.level, 'info');
  });

  test('the output is a valid input again (the operator renders parsed configs)', () => {
    const { config } = parse(REALISTIC_V3);
    assert.deepEqual(registryConfigSchema.parse(JSON.parse(JSON.stringify(config))), config);
  });
});

// A Distribution v3 config using most sections Berth supports.
const REALISTIC_V3 = `version: 0.1
log:
  level: debug
  formatter: json
  fields:
    service: registry
    environment: staging
  accesslog:
    disabled: true
storage:
  s3:
    accesskey: AKIAEXAMPLE
    secretkey: not-a-real-secret
    region: us-east-1
    regionendpoint: http://minio:9000
    forcepathstyle: true
    bucket: registry
    secure: "false"
    v4auth: true
    chunksize: "10485760"
    rootdirectory: /berth
  delete:
    enabled: true
  redirect:
    disable: true
  cache:
    blobdescriptor: inmemory
    blobdescriptorsize: 5000
  maintenance:
    uploadpurging:
      enabled: true
      age: 72h
      interval: 1h30m
      dryrun: false
    readonly:
      enabled: false
  tag:
    concurrencylimit: 8
auth:
  token:
    realm: https://auth.example.com/token
    service: registry.example.com
    issuer: berth-token-issuer
    rootcertbundle: /etc/berth/certs/bundle.pem
    signingalgorithms: [ES256, RS256]
http:
  addr: :5000
  host: https://registry.example.com
  secret: asecretforlocaldevelopment
  relativeurls: false
  draintimeout: 60s
  headers:
    X-Content-Type-Options: [nosniff]
  tls:
    certificate: /etc/berth/tls/tls.crt
    key: /etc/berth/tls/tls.key
    minimumtls: tls1.3
  debug:
    addr: localhost:5001
    prometheus:
      enabled: true
      path: /metrics
notifications:
  events:
    includereferences: true
  endpoints:
    - name: alistener
      disabled: false
      url: https://my.listener.com/event
      headers:
        Authorization: [Bearer example]
      timeout: 500ms
      threshold: 5
      backoff: 1s
      ignoredmediatypes:
        - application/octet-stream
      ignore:
        mediatypes:
          - application/octet-stream
        actions:
          - pull
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
validation:
  disabled: false
  manifests:
    urls:
      allow:
        - ^https?://([^/]+\\.)*example\\.com/
      deny:
        - ^https?://www\\.example\\.com/
    indexes:
      platforms: List
      platformlist:
        - architecture: amd64
          os: linux
catalog:
  maxentries: 500
redis:
  addrs: [localhost:6379]
  db: 0
`;

describe('registry config: Distribution configs', () => {
  test("Debian's docker-registry config.yml: everything but htpasswd auth is accepted", () => {
    const err = configError(() => parse(DEBIAN_CONFIG));
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.match(
      err.message,
      /^config\.yml: auth\.htpasswd: htpasswd authentication is not supported by Berth; use auth\.token$/,
    );

    const { config } = parse(withoutAuth(DEBIAN_CONFIG));
    assert.deepEqual(config.log.fields, { service: 'registry' });
    assert.equal(config.storage.cache.blobdescriptor, 'inmemory');
    assert.equal(config.storage.filesystem?.rootdirectory, '/var/lib/docker-registry');
    assert.equal(config.storage.delete.enabled, true);
    assert.equal(config.http.addr, ':5000');
    assert.deepEqual(config.http.headers, { 'X-Content-Type-Options': ['nosniff'] });
    assert.deepEqual(config.health.storagedriver, { enabled: true, interval: '10s', threshold: 3 });
  });

  const installed = '/etc/docker/registry/config.yml';
  test(
    'the installed Debian config.yml parses (without its auth section)',
    { skip: !existsSync(installed) },
    () => {
      const { config } = parse(withoutAuth(readFileSync(installed, 'utf8')));
      assert.equal(storageDriverOf(config.storage).name, 'filesystem');
    },
  );

  test('a realistic Distribution v3 config parses', () => {
    const { config } = parse(REALISTIC_V3);
    assert.equal(config.log.level, 'debug');
    assert.equal(config.log.formatter, 'json');
    const driver = storageDriverOf(config.storage);
    assert.equal(driver.name, 's3');
    assert.equal(config.storage.s3?.secure, false, 'Distribution drivers accept "false" as a string');
    assert.equal(config.storage.s3?.chunksize, 10 * 1024 * 1024);
    assert.equal(config.storage.maintenance.uploadpurging.interval, '1h30m');
    assert.equal(config.auth.token?.autoredirect, false);
    assert.equal(config.auth.token?.autoredirectpath, '/auth/token');
    assert.deepEqual(config.auth.token?.signingalgorithms, ['ES256', 'RS256']);
    assert.equal(config.http.tls?.minimumtls, 'tls1.3');
    assert.equal(config.http.tls?.clientauth, 'require-and-verify-client-cert');
    assert.deepEqual(config.http.debug, {
      addr: 'localhost:5001',
      prometheus: { enabled: true, path: '/metrics' },
    });
    assert.equal(config.notifications.endpoints[0]?.timeout, '500ms');
    assert.equal(config.validation.manifests.indexes.platforms, 'list');
    assert.equal(config.catalog.maxentries, 500);
    assert.deepEqual(config.redis, { addrs: ['localhost:6379'], db: 0 });
  });

  test('deprecated Distribution keys still work, with warnings', () => {
    const { config, warnings } = parse(
      `${MINIMAL}loglevel: warn\nvalidation:\n  enabled: true\n  disabled: true\n`,
    );
    assert.equal(config.log.level, 'warn');
    assert.equal(config.validation.disabled, false);
    assert.equal(warnings.length, 2);
    assert.equal(parse(`${MINIMAL}loglevel: warn\nlog:\n  level: error\n`).config.log.level, 'error');
  });

  test('Distribution features Berth does not implement are refused by name', () => {
    const err = configError(() =>
      parse(`${MINIMAL}proxy:\n  remoteurl: https://registry-1.docker.io\nmiddleware:\n  storage: []\n`),
    );
    assert.deepEqual(err.issues.map((i) => i.path).sort(), ['middleware', 'proxy']);
    assert.match(err.message, /config\.yml: proxy: pull-through cache \(proxy\) is not supported by Berth/);
    assert.match(err.message, /config\.yml: middleware: middleware is not supported by Berth/);
    // Even an empty section is refused: silently not doing it would be worse.
    assert.match(
      configError(() => parse(`${MINIMAL}auth:\n  silly:\n`)).message,
      /auth\.silly: .*not supported/,
    );
  });
});

describe('registry config: errors name the key path', () => {
  test('unknown key', () => {
    const err = configError(() =>
      parse('version: 0.1\nstorage:\n  inmemory:\n  delete:\n    enabeld: true\n'),
    );
    assert.equal(err.message, 'config.yml: storage.delete.enabeld: unknown key (did you mean "enabled"?)');
    assert.deepEqual(err.issues, [
      { path: 'storage.delete.enabeld', message: 'unknown key (did you mean "enabled"?)' },
    ]);
    assert.equal(
      configError(() => parse(`${MINIMAL}colour: blue\n`)).message,
      'config.yml: colour: unknown key',
    );
  });

  test('wrong type', () => {
    assert.equal(
      configError(() => parse(`${MINIMAL}http:\n  addr: 5000\n`)).message,
      'config.yml: http.addr: expected string, received number (quote the value)',
    );
    assert.equal(
      configError(() => parse('version: 0.1\nstorage:\n  inmemory:\n  delete:\n    enabled: "yes"\n'))
        .message,
      'config.yml: storage.delete.enabled: expected boolean, received string',
    );
    assert.equal(
      configError(() =>
        parse(`${MINIMAL}notifications:\n  endpoints:\n    - name: a\n      url: not a url\n`),
      ).message,
      'config.yml: notifications.endpoints[0].url: expected an absolute http(s) URL',
    );
    assert.equal(
      configError(() => parse(`${MINIMAL}log:\n  level: verbose\n`)).message,
      'config.yml: log.level: expected one of "error", "warn", "info", "debug"',
    );
  });

  test('several problems are all reported, one per line', () => {
    const err = configError(() =>
      parse(`${MINIMAL}http:\n  addr: 5000\n  tls:\n    key: /k\ncatalog:\n  maxentries: many\n`),
    );
    assert.deepEqual(err.issues.map((i) => i.path).sort(), [
      'catalog.maxentries',
      'http.addr',
      'http.tls.certificate',
    ]);
    assert.equal(err.message.split('\n').length, 3);
    assert.match(err.message, /http\.tls\.certificate: required/);
  });

  test('version is required and must be 0.1', () => {
    assert.equal(
      configError(() => parse('storage: inmemory\n')).message,
      'config.yml: version: required (use "0.1")',
    );
    assert.match(
      configError(() => parse('version: 0.2\nstorage: inmemory\n')).message,
      /version: unsupported version/,
    );
  });

  test('exactly one storage driver', () => {
    const two = configError(() =>
      parse('version: 0.1\nstorage:\n  filesystem:\n  s3:\n    bucket: b\n    region: r\n'),
    );
    assert.equal(
      two.message,
      'config.yml: storage: multiple storage drivers configured (filesystem, s3); configure exactly one',
    );
    const none = configError(() => parse('version: 0.1\nstorage:\n  delete:\n    enabled: true\n'));
    assert.match(none.message, /^config\.yml: storage: no storage driver configured/);
    assert.equal(configError(() => parse('version: 0.1\n')).message, 'config.yml: storage: required');
  });

  test('storage driver parameters are type-checked', () => {
    const err = configError(() =>
      parse('version: 0.1\nstorage:\n  s3:\n    region: r\n    chunksize: 1024\n    secure: maybe\n'),
    );
    assert.deepEqual(err.issues.map((i) => i.path).sort(), [
      'storage.s3.bucket',
      'storage.s3.chunksize',
      'storage.s3.secure',
    ]);
  });

  test('invalid YAML reports the line', () => {
    const err = configError(() => parse('version: 0.1\nstorage:\n  inmemory:\n bad: indentation\n'));
    assert.equal(err.code, 'CONFIG_YAML_INVALID');
    assert.match(err.message, /^config\.yml:4:2: invalid YAML: /);
    assert.equal(err.issues[0]?.line, 4);
  });

  test('YAML errors do not echo the file (it may hold secrets)', () => {
    const err = configError(() => parse('http:\n  secret: hunter2\n  addr: [\n'));
    assert.doesNotMatch(err.message, /hunter2/);
  });

  test('an empty file or a non-mapping is an error', () => {
    assert.equal(configError(() => parse('# nothing here\n')).message, 'config.yml: config file is empty');
    assert.match(configError(() => parse('- a\n- b\n')).message, /expected a YAML mapping/);
  });

  test('loadConfig: a missing file is a clear error', async () => {
    await assert.rejects(loadConfig('/nonexistent/berth/config.yml', {}), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.code, 'CONFIG_NOT_FOUND');
      assert.equal(err.message, '/nonexistent/berth/config.yml: config file not found');
      return true;
    });
  });

  test('loadConfig reads the file and names it in errors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-config-'));
    try {
      const file = join(dir, 'config.yml');
      await writeFile(file, MINIMAL);
      const loaded = await loadConfig(file, {});
      assert.deepEqual(loaded.config.storage.inmemory, {});
      await writeFile(file, `${MINIMAL}htp: {}\n`);
      await assert.rejects(loadConfig(file, {}), {
        message: `${file}: htp: unknown key (did you mean "http"?)`,
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('registry config: REGISTRY_* environment overrides', () => {
  test('booleans, numbers and nested keys', () => {
    const { config } = parse(MINIMAL, {
      REGISTRY_STORAGE_DELETE_ENABLED: 'true',
      REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED: 'true',
      REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_AGE: '2h',
      REGISTRY_HTTP_ADDR: ':6000',
      REGISTRY_CATALOG_MAXENTRIES: '50',
      REGISTRY_LOG_LEVEL: 'debug',
    });
    assert.equal(config.storage.delete.enabled, true);
    assert.equal(config.storage.maintenance.readonly.enabled, true);
    assert.equal(config.storage.maintenance.uploadpurging.age, '2h');
    assert.equal(config.http.addr, ':6000');
    assert.equal(config.catalog.maxentries, 50);
    assert.equal(config.log.level, 'debug');
  });

  test('REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY overrides the file', () => {
    const text = 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/registry\n';
    const { config } = parse(text, { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: '/somewhere' });
    assert.equal(config.storage.filesystem?.rootdirectory, '/somewhere');
  });

  test('a string key keeps the text even when it looks like a number or boolean', () => {
    const { config } = parse(MINIMAL, { REGISTRY_HTTP_SECRET: '0123', REGISTRY_LOG_FIELDS_BUILD: '42' });
    assert.equal(config.http.secret, '0123');
    // Free-form values are YAML, as in Distribution.
    assert.deepEqual(config.log.fields, { build: 42 });
  });

  test('keys that contain underscores are reachable', () => {
    const azure = parse('version: 0.1\nstorage:\n  azure:\n    accountname: a\n    container: c\n', {
      REGISTRY_STORAGE_AZURE_MAX_RETRIES: '3',
      REGISTRY_STORAGE_AZURE_COPY_STATUS_POLL_MAX_RETRY: '-1',
    });
    assert.equal(azure.config.storage.azure?.max_retries, 3);
    assert.equal(azure.config.storage.azure?.copy_status_poll_max_retry, -1);
    const gcs = parse('version: 0.1\nstorage:\n  gcs:\n    bucket: b\n', {
      REGISTRY_STORAGE_GCS_CREDENTIALS_PRIVATE_KEY_ID: 'k1',
    });
    assert.deepEqual(gcs.config.storage.gcs?.credentials, { private_key_id: 'k1' });
  });

  test('whole sections, list items and map entries', () => {
    const { config } = parse(MINIMAL, {
      // Applied in name order: the section first, then keys inside it.
      REGISTRY_STORAGE: 's3',
      REGISTRY_STORAGE_S3_BUCKET: 'b',
      REGISTRY_STORAGE_S3_REGION: 'eu-west-1',
      REGISTRY_NOTIFICATIONS_ENDPOINTS_0_NAME: 'hook',
      REGISTRY_NOTIFICATIONS_ENDPOINTS_0_URL: 'https://hooks.example.com/',
      'REGISTRY_HTTP_HEADERS_X-CONTENT-TYPE-OPTIONS': '[nosniff]',
    });
    assert.equal(storageDriverOf(config.storage).name, 's3');
    assert.equal(config.storage.s3?.bucket, 'b');
    assert.equal(config.notifications.endpoints[0]?.url, 'https://hooks.example.com/');
    assert.deepEqual(config.http.headers, { 'x-content-type-options': ['nosniff'] });
  });

  test('an empty value unsets the key', () => {
    const { config } = parse(`${MINIMAL}http:\n  addr: :7000\n`, { REGISTRY_HTTP_ADDR: '' });
    assert.equal(config.http.addr, ':5000');
  });

  test('a name that is not a key path fails like an unknown key, naming the variable', () => {
    const err = configError(() =>
      parse(MINIMAL, { REGISTRY_STORAGE_DELETE_ENABELD: 'true', REGISTRY_HTTP_ADR: 'x' }),
    );
    assert.equal(
      err.message,
      [
        'config.yml: http.adr: unknown key (did you mean "addr"?) (set by REGISTRY_HTTP_ADR)',
        'config.yml: storage.delete.enabeld: unknown key (did you mean "enabled"?) (set by REGISTRY_STORAGE_DELETE_ENABELD)',
      ].join('\n'),
    );
    assert.match(
      configError(() => parse(MINIMAL, { REGISTRY_NOTIFICATIONS_ENDPOINTS_3_URL: 'https://x/' })).message,
      /notifications\.endpoints: index 3 is not a valid position/,
    );
  });

  test('a bad value names the variable', () => {
    const err = configError(() => parse(MINIMAL, { REGISTRY_STORAGE_DELETE_ENABLED: 'yes' }));
    assert.equal(
      err.message,
      'config.yml: storage.delete.enabled: expected boolean, received string (set by REGISTRY_STORAGE_DELETE_ENABLED)',
    );
    assert.equal(err.issues[0]?.env, 'REGISTRY_STORAGE_DELETE_ENABLED');
  });

  test('Kubernetes service link variables and REGISTRY_CONFIGURATION_PATH are not config keys', () => {
    const { config, warnings } = parse(MINIMAL, {
      REGISTRY_SERVICE_HOST: '10.0.0.1',
      REGISTRY_SERVICE_PORT: '5000',
      REGISTRY_PORT: 'tcp://10.0.0.1:5000',
      REGISTRY_PORT_5000_TCP_ADDR: '10.0.0.1',
      REGISTRY_CONFIGURATION_PATH: '/etc/docker/registry/config.yml',
      PATH: '/usr/bin',
    });
    assert.equal(config.http.addr, ':5000');
    assert.equal(warnings.length, 4);
  });
});

describe('registry config: durations', () => {
  test('parseDuration reads Go durations as milliseconds', () => {
    assert.equal(parseDuration('168h'), 168 * 3_600_000);
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('1h30m'), 90 * 60_000);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('2h45m10s'), (2 * 3600 + 45 * 60 + 10) * 1000);
    assert.equal(parseDuration('1500us'), 1.5);
    assert.equal(parseDuration('1500µs'), 1.5);
    assert.equal(parseDuration('2000000ns'), 2);
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration('-2m'), -120_000);
    for (const bad of ['', '10', '1x', 'h', '1h 30m', '1.2.3s', 'ms', '-', '1hh']) {
      assert.throws(() => parseDuration(bad), /invalid duration/, bad);
    }
  });

  test('the schema validates durations and keeps them as Go strings', () => {
    const err = configError(() =>
      parse(
        `${MINIMAL}http:\n  draintimeout: 60\n  secret: s\nhealth:\n  storagedriver:\n    interval: soon\n`,
      ),
    );
    assert.deepEqual(err.issues, [
      {
        path: 'health.storagedriver.interval',
        message: 'expected a duration such as "10s", "500ms" or "1h30m"',
      },
    ]);
    // A bare integer is nanoseconds (Go's time.Duration), normalised to a string parseDuration reads.
    const { config } = parse(`${MINIMAL}http:\n  draintimeout: 60\n`);
    assert.equal(config.http.draintimeout, '60ns');
    assert.match(configError(() => parse(`${MINIMAL}http:\n  draintimeout: -1s\n`)).message, /draintimeout/);
  });
});

describe('registry config: revision', () => {
  test('is stable for the same effective config, whatever the formatting and key order', () => {
    const a = parse(
      'version: 0.1\nstorage:\n  inmemory:\n  delete:\n    enabled: true\nhttp:\n  addr: :5000\n',
    );
    const b = parse(
      '# comment\nhttp: {addr: ":5000"}\nstorage: {delete: {enabled: true}, inmemory: {}}\nversion: "0.1"\n',
    );
    assert.match(a.revision, /^[0-9a-f]{12}$/);
    assert.equal(a.revision, b.revision);
    assert.equal(a.revision, configRevision(a.config));
    // Spelling out a default does not change the effective config either.
    assert.equal(parse(MINIMAL).revision, parse(`${MINIMAL}catalog:\n  maxentries: 1000\n`).revision);
    assert.equal(parse(MINIMAL).revision, parse(`${MINIMAL}catalog:\n  maxentries: 0\n`).revision);
  });

  test('changes when the config changes, from the file or the environment', () => {
    const base = parse(MINIMAL).revision;
    const readOnly = parse(`${MINIMAL}  maintenance:\n    readonly:\n      enabled: true\n`).revision;
    const viaEnv = parse(MINIMAL, { REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED: 'true' }).revision;
    assert.notEqual(base, readOnly);
    assert.equal(readOnly, viaEnv);
  });
});
