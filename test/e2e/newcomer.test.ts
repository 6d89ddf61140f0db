// The first ten minutes of a newcomer (issue 15), against real processes on loopback: `npm start -- --help`, a
// taken port, logs that read well on a terminal and stay JSON in a pipe, a notice whose commands work as printed
// on a machine whose own `node` cannot run .ts files, and a revoke that ends the bearer tokens already issued.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { exec } from '../harness/exec.ts';
import { freePort } from '../harness/ports.ts';
import { makeTempDir, removeTempDir } from '../harness/tmp.ts';
import { registryNodeFlags, repoRoot, requireTool } from '../harness/tools.ts';
import { waitFor } from '../harness/wait.ts';
import {
  fetchToken,
  logRecords,
  printedSecret,
  spawnApart,
  startStandaloneProcess,
  userEnv,
  type StandaloneProcess,
} from './standalone-process.ts';

const cmd = { cwd: repoRoot, env: userEnv(), timeoutMs: 120_000, check: false };

/** Runs a command line as a user's shell would, from the repository root with the machine's PATH. */
function shell(line: string) {
  return exec('/bin/sh', ['-c', line], cmd);
}

describe('the CLI as a newcomer runs it', () => {
  it('the machine has an old node on PATH, so these tests mean something', async () => {
    const { stdout } = await shell('node --version');
    const major = Number(/^v(\d+)/.exec(stdout.trim())?.[1]);
    assert.ok(major > 0, `no node on the machine's PATH: ${stdout}`);
    // Not an assertion on the machine: just say when the Node 20 part of the point is not being made here.
    if (major >= 22) process.stdout.write(`# note: the machine's node is ${stdout.trim()}\n`);
  });

  it('`npm start -- --help` prints the usage and exits 0, without "Unknown option"', async () => {
    const result = await shell('npm start --silent -- --help');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^usage:\n {2}berth-registry standalone \[--data DIR\] \[--addr ADDR\]/m);
    assert.match(result.stdout, /npm start -- --addr :5055/);
    assert.doesNotMatch(`${result.stdout}${result.stderr}`, /Unknown option/);
  });

  it('every command answers --help and -h with its usage on stdout and exit code 0', async () => {
    const node = requireTool('node');
    const commands = [
      ['serve'],
      ['standalone'],
      ['garbage-collect'],
      ['migrate'],
      ['token-server'],
      ['access-token'],
      ['access-token', 'create'],
      ['access-token', 'revoke'],
      [],
    ];
    for (const command of commands) {
      for (const flag of ['--help', '-h']) {
        const result = await exec(node, ['registry/cli.ts', ...command, flag], cmd);
        const what = ['berth-registry', ...command, flag].join(' ');
        assert.equal(result.code, 0, `${what}: exit ${result.code}\n${result.stderr}`);
        assert.match(result.stdout, /^usage:/, `${what}: ${result.stdout}`);
        assert.equal(result.stderr, '', `${what} wrote to stderr`);
      }
    }
  });

  it("`npx berth-registry` works from the repository although `node` on PATH is the machine's", async () => {
    const result = await shell('npx --no-install berth-registry --help');
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /^usage: berth-registry <command>/);
  });
});

describe('npm start when port is taken', () => {
  let blocker: Server | undefined;
  let dataDir = '';

  before(async () => {
    dataDir = await makeTempDir('newcomer-port');
  });
  after(async () => {
    blocker?.close();
    await removeTempDir(dataDir);
  });

  it('says what to do and exits non-zero', async () => {
    const port = await freePort();
    const server = createServer();
    blocker = server;
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const result = await shell(`npm start --silent -- --data '${dataDir}' --addr 127.0.0.1:${port}`);
    assert.notEqual(result.code, 0);
    assert.match(
      result.stderr,
      new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use`),
    );
    assert.match(result.stderr, /^ {2}npm start -- --addr :5055$/m);
    assert.doesNotMatch(result.stderr, /^\s+at /m, 'a stack trace');
    // The admin token was not kept: the next (successful) start still shows it.
    assert.ok(!existsSync(path.join(dataDir, 'auth', 'access-tokens.yml')));
  });
});

describe('npm start: its output, and the commands it prints', () => {
  let registry: StandaloneProcess | undefined;
  let dataDir = '';

  before(async () => {
    dataDir = await makeTempDir('newcomer');
  });
  after(async () => {
    await registry?.stop();
    await removeTempDir(dataDir);
  });

  function running(): StandaloneProcess {
    assert.ok(registry, 'start-up failed');
    return registry;
  }

  it('first start in a pipe: JSON log lines on stdout, the admin box apart on stderr, never in the log', async () => {
    registry = await startStandaloneProcess(dataDir);
    const secret = printedSecret(registry.stderr());
    assert.equal((await fetchToken(registry.url, 'admin', secret, ['repository:team/a:pull'])).status, 200);
    await waitFor('the logs of the token request', async () =>
      running().stdout().includes('registry listening') ? true : undefined,
    );
    const lines = registry.stdout().trimEnd().split('\n');
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line) as unknown, `not JSON: ${line}`);
    assert.ok(!registry.stdout().includes(secret), 'the secret reached the log');
    assert.match(registry.stderr(), /={78}\n[^]*password: bth_[^]*={78}/);
    // One line per token request is debug detail, not news at the default level.
    assert.ok(!registry.stdout().includes('token issued'), registry.stdout());
  });

  it('a restart prints a command that creates a token as printed, and the token logs in', async () => {
    await running().stop();
    registry = await startStandaloneProcess(dataDir);
    const notice = registry.stderr();
    const printed = /^ {2}(npx berth-registry access-token create .*\\\n\s+.*)$/m.exec(notice)?.[1];
    assert.ok(printed, `no access-token command in the notice:\n${notice}`);
    const line = printed.replace('NAME', 'newcomer').replace(/\\\n\s*/, ' ');
    const created = await shell(line);
    assert.equal(created.code, 0, `${line}\n${created.stderr}`);
    const secret = created.stdout.trim();
    assert.match(secret, /^bth_/);
    const login = await waitFor('the issuer to accept the new token', async () => {
      const reply = await fetchToken(running().url, 'newcomer', secret);
      return reply.status === 200 ? reply : undefined;
    });
    assert.equal(login.status, 200);
  });

  it('revoke ends the bearer tokens already issued, as the CLI says', async () => {
    const registry = running();
    const file = path.join(dataDir, 'auth', 'access-tokens.yml');
    const secret = (
      await shell(
        `npx berth-registry access-token create --name short-lived --scopes read_registry --repositories '**' --file '${file}'`,
      )
    ).stdout.trim();
    const { token } = await waitFor('a token for short-lived', async () => {
      const reply = await fetchToken(registry.url, 'short-lived', secret, ['repository:team/a:pull']);
      return reply.token !== undefined ? reply : undefined;
    });
    const bearer = { Authorization: `Bearer ${token ?? ''}` };
    assert.equal((await fetch(`${registry.url}/v2/`, { headers: bearer })).status, 200);

    const revoked = await shell(`npx berth-registry access-token revoke --name short-lived --file '${file}'`);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stderr, /`berth-registry standalone` \(npm start\) refuses them/);
    const refused = await waitFor(
      'the registry to refuse the revoked token',
      async () => {
        const res = await fetch(`${registry.url}/v2/`, { headers: bearer });
        return res.status === 401 ? res : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    assert.match(refused.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    assert.equal((await fetchToken(registry.url, 'short-lived', secret)).status, 401);
  });
});

describe('log formats', () => {
  let dataDir = '';
  before(async () => {
    dataDir = await makeTempDir('newcomer-logs');
  });
  after(async () => {
    await removeTempDir(dataDir);
  });

  it('on a terminal: one readable line per record, and the box', async () => {
    const node = requireTool('node');
    const port = await freePort();
    // script(1) gives the registry a terminal, as `npm start` in a shell has.
    const command = [node, ...registryNodeFlags, 'registry/cli.ts', 'standalone', '--data', dataDir]
      .concat(['--addr', `127.0.0.1:${port}`])
      .join(' ');
    const tty = spawnApart('/usr/bin/script', ['-qfec', command, '/dev/null'], {
      env: userEnv({ NO_COLOR: '1' }),
    });
    try {
      await waitFor('the notice on the terminal', async () =>
        /password: bth_/.test(tty.stdout()) ? true : undefined,
      );
      const out = tty.stdout().replace(/\r/g, '');
      assert.match(
        out,
        /^\d\d:\d\d:\d\d\.\d{3} INFO {2}registry listening address=http:\/\/127\.0\.0\.1:\d+ /m,
      );
      assert.match(out, /^\d\d:\d\d:\d\d\.\d{3} INFO {2}\[token-issuer\] token issuer ready /m);
      assert.doesNotMatch(out, /^\{"level"/m, 'JSON on a terminal');
    } finally {
      // The registry runs in script's own session: stop it (script then ends), not script.
      const pid = tty.child.pid ?? 0;
      const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/);
      for (const child of children.filter((c) => c !== '')) process.kill(Number(child), 'SIGTERM');
      await tty.exited;
    }
  });

  it("log.formatter: logstash (REGISTRY_LOG_FORMATTER) writes Distribution's logstash fields", async () => {
    const registry = await startStandaloneProcess(dataDir, { env: { REGISTRY_LOG_FORMATTER: 'logstash' } });
    try {
      await waitFor('the listening record', async () =>
        registry.stdout().includes('"registry listening"') ? true : undefined,
      );
      const records = logRecords(registry.stdout());
      const listening = records.find((r) => r['message'] === 'registry listening');
      assert.ok(listening, registry.stdout());
      assert.match(String(listening['@timestamp']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(listening['@version'], '1');
      assert.equal(listening['level'], 'info');
      assert.equal(listening['msg'], undefined);
    } finally {
      await registry.stop();
    }
  });

  it('log.formatter: text in a pipe has full timestamps', async () => {
    const registry = await startStandaloneProcess(dataDir, { env: { REGISTRY_LOG_FORMATTER: 'text' } });
    try {
      await waitFor('the listening line', async () =>
        registry.stdout().includes('registry listening') ? true : undefined,
      );
      assert.match(
        registry.stdout(),
        /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO {2}registry listening address=/m,
      );
    } finally {
      await registry.stop();
    }
  });
});
