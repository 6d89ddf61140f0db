// `berth-operator --help` is an answer, not an error: usage on stdout, exit 0 (the image build runs it).
// A bad option is an error: the option named on stderr, exit 2.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { exec } from '../harness/exec.ts';
import { repoRoot, tools } from '../harness/tools.ts';

const cli = path.join(repoRoot, 'operator/cli.ts');

test('--help prints the usage on stdout and exits 0', async () => {
  const r = await exec(tools.node, [cli, '--help'], { timeoutMs: 60_000 });
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^usage: berth-operator \[options\]/);
  assert.equal(r.stderr, '');
});

test('an unknown option is refused with its name and exit code 2', async () => {
  const r = await exec(tools.node, [cli, '--bogus'], { check: false, timeoutMs: 60_000 });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--bogus/);
  assert.equal(r.stdout, '');
});
