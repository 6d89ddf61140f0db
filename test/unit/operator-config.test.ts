// berth-operator's options: the maintenance confirm timeout (flag, environment, default, bad values named).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseOperatorConfig } from '../../operator/operator.ts';

const env = { BERTH_NAMESPACE: 'berth-system' };

test('the maintenance confirm timeout defaults to 4 minutes', () => {
  assert.equal(parseOperatorConfig([], env).maintenanceConfirmTimeoutMs, 240_000);
});

test('the maintenance confirm timeout comes from the environment, and the flag wins', () => {
  const fromEnv = { ...env, BERTH_MAINTENANCE_CONFIRM_TIMEOUT: '40s' };
  assert.equal(parseOperatorConfig([], fromEnv).maintenanceConfirmTimeoutMs, 40_000);
  const flag = ['--maintenance-confirm-timeout', '1m30s'];
  assert.equal(parseOperatorConfig(flag, fromEnv).maintenanceConfirmTimeoutMs, 90_000);
});

test('a bad maintenance confirm timeout is refused with the option named', () => {
  for (const bad of ['soon', '500ms', '-1m', '0']) {
    assert.throws(
      () => parseOperatorConfig([`--maintenance-confirm-timeout=${bad}`], env),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message.includes('--maintenance-confirm-timeout') &&
        err.message.includes(bad),
    );
  }
});
