// `npm run cluster -- up|down|status`: the end-to-end tests' single-node cluster, for developers. It lives in
// .cache/cluster and outlives the command; `down` tears it down from its state file and leaves the machine as
// it was. Both are idempotent.
import path from 'node:path';
import { clusterDown, clusterUp, readClusterState } from '../harness/cluster.ts';
import { repoRoot } from '../harness/tools.ts';

const dir = path.join(repoRoot, '.cache/cluster');
const usage = 'usage: npm run cluster -- up|down|status';

async function main(command: string | undefined): Promise<number> {
  switch (command) {
    case 'up': {
      const existing = await readClusterState(dir);
      if (existing !== undefined) {
        console.log(`a cluster is already up (KUBECONFIG=${existing.kubeconfigPath ?? '?'}); 'down' first`);
        return 0;
      }
      const started = Date.now();
      const cluster = await clusterUp({ dir, persistent: true });
      console.log(`cluster ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      console.log(`KUBECONFIG=${cluster.kubeconfigPath}`);
      console.log(`ingress address: ${cluster.ingressAddress} (ports 80 and 443, IngressClass traefik)`);
      console.log(`API server: ${cluster.controlPlane.server}`);
      console.log(`logs: ${path.join(dir, 'logs')}`);
      return 0;
    }
    case 'down': {
      const removed = await clusterDown(dir);
      console.log(removed ? 'cluster torn down' : 'no cluster is up');
      return 0;
    }
    case 'status': {
      const state = await readClusterState(dir);
      console.log(state === undefined ? 'no cluster is up' : JSON.stringify(state, null, 2));
      return 0;
    }
    default:
      console.error(usage);
      return 2;
  }
}

process.exitCode = await main(process.argv[2]);
