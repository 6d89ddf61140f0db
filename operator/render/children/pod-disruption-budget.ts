// With more than one registry replica, voluntary disruptions (node drains) take at most one pod at a time.
import * as kplus from 'cdk8s-plus-28';
import { synthesizeChild } from '../child.ts';
import type { ChildBuilder } from '../context.ts';
import { selectorLabels } from '../names.ts';

export const podDisruptionBudget: ChildBuilder = (ctx) => {
  const cr = ctx.registry;
  if (cr.spec.replicas <= 1) return undefined;
  return synthesizeChild(
    cr,
    'registry',
    (chart) =>
      new kplus.k8s.KubePodDisruptionBudget(chart, 'pdb', {
        metadata: { name: ctx.names.pdb },
        spec: {
          maxUnavailable: kplus.k8s.IntOrString.fromNumber(1),
          selector: { matchLabels: selectorLabels(cr.metadata.name, 'registry') },
        },
      }),
  );
};
