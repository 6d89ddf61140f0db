// Failed logins against `npm start`, with containerd's own client (ctr): containerd's resolver, which Docker's
// containerd image store, BuildKit and nerdctl use too, sends every attempt twice (the OAuth2 POST, then on 401 a
// GET with Basic auth). Each attempt must count once, and only against that username from that address: a user's
// typos must not lock everyone on 127.0.0.1 out.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { exec } from '../harness/exec.ts';
import { makeTempDir, removeTempDir } from '../harness/tmp.ts';
import { requireRoot } from '../harness/tools.ts';
import { waitFor } from '../harness/wait.ts';
import {
  fetchToken,
  logRecords,
  printedSecret,
  spawnApart,
  startStandaloneProcess,
  type Spawned,
  type StandaloneProcess,
} from './standalone-process.ts';

const containerdBin = '/usr/bin/containerd';
const ctrBin = '/usr/bin/ctr';

interface Containerd {
  socket: string;
  daemon: Spawned;
}

/** A private containerd (its own root, state and socket; no CRI), for ctr to pull through. */
async function startContainerd(dir: string): Promise<Containerd> {
  for (const tool of [containerdBin, ctrBin]) {
    if (!existsSync(tool)) throw new Error(`${tool} is missing: run test/tools/install-system.sh`);
  }
  const socket = path.join(dir, 'containerd.sock');
  const config = path.join(dir, 'config.toml');
  await writeFile(
    config,
    [
      'version = 2',
      `root = "${path.join(dir, 'root')}"`,
      `state = "${path.join(dir, 'state')}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${socket}"`,
      '',
    ].join('\n'),
  );
  const daemon = spawnApart(containerdBin, ['--config', config]);
  await waitFor('containerd to listen', async () => (existsSync(socket) ? true : undefined), {
    abort: () => (daemon.running() ? undefined : `containerd exited\n${daemon.stderr()}`),
  });
  return { socket, daemon };
}

function loginFailures(registry: StandaloneProcess): Record<string, unknown>[] {
  return logRecords(registry.stdout()).filter((r) => r['msg'] === 'login failed');
}

describe('failed logins with containerd (ctr) against npm start', () => {
  let dir = '';
  let containerd: Containerd | undefined;
  let registry: StandaloneProcess | undefined;
  let secret = '';

  before(async () => {
    requireRoot('containerd');
    dir = await makeTempDir('login-limit');
    containerd = await startContainerd(dir);
    registry = await startStandaloneProcess(path.join(dir, 'data'));
    secret = printedSecret(registry.stderr() + registry.stdout());
  });

  after(async () => {
    await registry?.stop(5_000);
    if (containerd?.daemon.child.pid !== undefined && containerd.daemon.running()) {
      process.kill(containerd.daemon.child.pid, 'SIGTERM');
      await containerd.daemon.exited;
    }
    if (dir !== '') await removeTempDir(dir);
  });

  function env(): { containerd: Containerd; registry: StandaloneProcess } {
    assert.ok(containerd && registry, 'start-up failed');
    return { containerd, registry };
  }

  /** `ctr images pull` with these credentials: one login attempt as containerd makes it. */
  async function ctrPull(user: string, password: string) {
    const { containerd, registry } = env();
    const ref = `${registry.host}/team/app:v1`;
    return exec(
      ctrBin,
      [
        '--address',
        containerd.socket,
        'images',
        'pull',
        '--plain-http',
        '--user',
        `${user}:${password}`,
        ref,
      ],
      { check: false, timeoutMs: 60_000 },
    );
  }

  it('counts each failed attempt once, although containerd sends it twice', async () => {
    const { registry } = env();
    const attempts = 6;
    for (let i = 0; i < attempts; i++) {
      const pull = await ctrPull('admin', `typo-${i}`);
      assert.notEqual(pull.code, 0);
      assert.match(pull.stderr, /401 Unauthorized/, pull.stderr);
    }
    const failures = await waitFor('the failed logins in the log', async () => {
      const logged = loginFailures(registry);
      return logged.length >= 2 * attempts ? logged : undefined;
    });
    // Two requests per attempt, the second one recognised as the same attempt.
    assert.equal(failures.length, 2 * attempts);
    assert.equal(failures.filter((r) => r['repeated'] === true).length, attempts);
    // 6 attempts are below the limit of 10: the right password still logs in.
    assert.equal((await fetchToken(registry.url, 'admin', secret)).status, 200);
  });

  it('locks out only the username that keeps failing, from that address', async () => {
    const { registry } = env();
    for (let i = 0; i < 10; i++) await ctrPull('intruder', `guess-${i}`);
    const refused = await ctrPull('intruder', 'guess-10');
    assert.match(refused.stderr, /429 Too Many Requests/, refused.stderr);
    assert.equal((await fetchToken(registry.url, 'intruder', 'guess-11')).status, 429);
    // Everyone else on 127.0.0.1 goes on.
    assert.equal((await fetchToken(registry.url, 'admin', secret)).status, 200);
  });
});
