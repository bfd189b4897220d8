import type { Definition, Step } from './schema.js';

// A journey as a graph: each step's outgoing edges, named by the field that holds them, so the
// validator can name the field at fault and the UI can label each arrow.

export interface Edge {
  /** The field of the step holding the target: `next`, `then`, `paths.1.next`, … */
  field: string;
  to: string;
}

/** The outgoing edges of a step, in field order. */
export function edgesOf(step: Step): Edge[] {
  switch (step.type) {
    case 'wait':
    case 'send_email':
    case 'update_attribute':
    case 'webhook':
      return [{ field: 'next', to: step.next }];
    case 'wait_for_event':
      return [
        { field: 'on_event', to: step.on_event },
        { field: 'on_timeout', to: step.on_timeout },
      ];
    case 'branch':
      return [
        { field: 'then', to: step.then },
        { field: 'else', to: step.else },
      ];
    case 'split':
      return step.paths.map((p, i) => ({ field: `paths.${i}.next`, to: p.next }));
    case 'exit':
      return [];
  }
}

/** Steps that hold a customer for a while: a cycle through one of them cannot spin. */
export const isWaiting = (step: Step) => step.type === 'wait' || step.type === 'wait_for_event';

/** The steps by id (the first of a duplicated id wins; the validator refuses duplicates). */
export function stepMap(definition: Pick<Definition, 'steps'>): Map<string, Step> {
  const map = new Map<string, Step>();
  for (const step of definition.steps) if (!map.has(step.id)) map.set(step.id, step);
  return map;
}
