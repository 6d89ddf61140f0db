// The bench runs Berth with `berthPodHeapFlag` to give it the heap its pod has. This checks the claim behind
// it: under the operator's default memory limit, Node picks the same heap limit as the flag does.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rmdir, writeFile, access } from 'node:fs/promises';
import path from 'node:path';
import { berthPodHeapFlag } from '../../bench/registries.ts';
import { registryMemoryLimitMiB } from '../../operator/render/children/registry-resources.ts';
import { exec } from '../harness/exec.ts';
import { registryNodeFlags, requireRoot, tools } from '../harness/tools.ts';
import { cgroupHierarchies } from '../harness/host-state.ts';

const printHeapLimit = "console.log(require('node:v8').getHeapStatistics().heap_size_limit)";

/** A memory cgroup of its own with a limit: cgroup v1's memory hierarchy, or v2's unified one. */
async function memoryCgroup(limitBytes: number): Promise<{ procs: string; remove: () => Promise<void> }> {
  const hierarchies = await cgroupHierarchies();
  const v1 = hierarchies.includes('memory');
  const root = v1
    ? '/sys/fs/cgroup/memory'
    : hierarchies.includes('unified')
      ? '/sys/fs/cgroup/unified'
      : '/sys/fs/cgroup';
  if (!v1) await access(path.join(root, 'cgroup.controllers'));
  const dir = path.join(root, `berth-pod-heap-${String(process.pid)}`);
  await mkdir(dir);
  const remove = () => rmdir(dir);
  try {
    await writeFile(path.join(dir, v1 ? 'memory.limit_in_bytes' : 'memory.max'), String(limitBytes));
  } catch (err) {
    await remove();
    throw err;
  }
  return { procs: path.join(dir, 'cgroup.procs'), remove };
}

/** The heap limit node prints when started as `command` (node and its flags). */
async function heapLimit(command: string, args: readonly string[]): Promise<number> {
  return Number((await exec(command, [...args, '-e', printHeapLimit])).stdout.trim());
}

describe('Berth’s heap in the bench is its heap in a pod', () => {
  it('Node under the default memory limit sets the heap limit the bench flag sets', async () => {
    requireRoot('moving a process into a memory cgroup');
    const node = tools.node;
    const cgroup = await memoryCgroup(registryMemoryLimitMiB * 1024 * 1024);
    let inPod: number;
    try {
      // The shell joins the cgroup, then becomes node: V8 sizes its heap at start-up, so it must start inside.
      inPod = await heapLimit('sh', [
        '-c',
        `echo $$ > ${cgroup.procs} && exec "$@"`,
        'sh',
        node,
        ...registryNodeFlags,
      ]);
    } finally {
      await cgroup.remove();
    }
    const flagged = await heapLimit(node, [...registryNodeFlags, berthPodHeapFlag]);
    const unlimited = await heapLimit(node, registryNodeFlags);
    assert.ok(inPod > 0, `no heap limit printed in the cgroup (${String(inPod)})`);
    assert.equal(
      flagged,
      inPod,
      `heap limit with ${berthPodHeapFlag} ${flagged}, in a ${registryMemoryLimitMiB} MiB cgroup ${inPod}`,
    );
    // Otherwise the flag would change nothing and this test could not tell.
    assert.notEqual(
      unlimited,
      inPod,
      'the machine has no more memory than the pod limit: nothing to compare',
    );
  });
});
