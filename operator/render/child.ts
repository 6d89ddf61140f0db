// What turns a construct into one of the registry's children: cdk8s synthesizes it alone in a fresh chart
// (so each builder stands on its own and construct ids never collide), then every child gets the registry's
// labels, namespace and — unless it must outlive the registry — a controller ownerReference.
import { ApiObject, App, Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import type { ContainerRegistry } from '../api/index.ts';
import { controllerReference, type KubeObject } from '../runtime/objects.ts';
import { commonLabels, type Component } from './names.ts';

/** A synthesized object, open to the finishing touches cdk8s-plus has no words for. */
export type SynthesizedObject = KubeObject & Record<string, unknown>;

/** The JSON of the one API object `build` adds to a fresh chart in the registry's namespace. */
export function synthesize(cr: ContainerRegistry, build: (chart: Chart) => Construct): SynthesizedObject {
  const chart = new Chart(new App(), 'registry', {
    namespace: cr.metadata.namespace,
    disableResourceNameHashes: true,
  });
  return ApiObject.of(build(chart)).toJson() as SynthesizedObject;
}

/** Labels, namespace and ownerReference, added to every rendered object. */
export function finishChild(
  cr: ContainerRegistry,
  obj: KubeObject,
  component: Component,
  opts: { owned?: boolean } = {},
): KubeObject {
  const labels = { ...commonLabels(cr.metadata.name, component), ...obj.metadata.labels };
  const metadata = { ...obj.metadata, namespace: cr.metadata.namespace, labels };
  if (opts.owned !== false) metadata.ownerReferences = [controllerReference(cr)];
  return { ...obj, metadata };
}

/** A child built with cdk8s and finished: the common case of a builder. */
export function synthesizeChild(
  cr: ContainerRegistry,
  component: Component,
  build: (chart: Chart) => Construct,
): KubeObject {
  return finishChild(cr, synthesize(cr, build), component);
}
