import ElkModule from 'elkjs/lib/elk.bundled.js';
import type { ELK as ElkApi, ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api.js';
import { edgesOf } from '../journeys/graph.js';
import type { Definition, Step } from '../journeys/schema.js';

// A journey drawn as a graph, laid out on the server by the Eclipse Layout Kernel (elkjs:
// layered, top to bottom, orthogonal edges) and emitted as inline SVG, so the page needs no
// script and reads the same on a phone (the SVG scales to the column). Colours come from the
// stylesheet's variables, so both themes keep their contrast.

const NODE_W = 190;
const NODE_H = 62;
const LABEL_H = 14;

// The bundle is CommonJS (`module.exports = ELK`): its type is declared as an ES default export.
const ElkClass = ElkModule as unknown as new () => ElkApi;
const elk = new ElkClass();

export const STEP_LABELS: Record<Step['type'], string> = {
  wait: 'Wait',
  wait_for_event: 'Wait for an event',
  branch: 'Branch',
  split: 'Split',
  send_email: 'Send an email',
  update_attribute: 'Update an attribute',
  webhook: 'Call a webhook',
  exit: 'Exit',
};

/** What an arrow says: the branch taken, the event or its timeout, a split's share. */
function edgeLabel(step: Step, field: string): string {
  if (step.type === 'branch') return field === 'then' ? 'yes' : 'no';
  if (step.type === 'wait_for_event') return field === 'on_event' ? 'event' : 'timeout';
  if (step.type === 'split') {
    const path = step.paths[Number(field.split('.')[1])];
    return path ? `${path.weight}%${path.holdout ? ' holdout' : ''}` : '';
  }
  return '';
}

/** The per-step counts drawn on a node. */
export interface StepCounts {
  entered: number;
  waiting: number;
  sent: number;
}

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** A node's third line: how many reached it, wait there and were mailed from it. */
export function countsLine(counts: StepCounts | undefined): string {
  if (!counts) return '0 entered';
  const parts = [`${counts.entered} entered`];
  if (counts.waiting) parts.push(`${counts.waiting} waiting`);
  if (counts.sent) parts.push(`${counts.sent} sent`);
  return parts.join(' · ');
}

/** Lays the definition out (elkjs) and draws it as SVG, with each step's counts on its node. */
export async function JourneyGraph(props: {
  definition: Pick<Definition, 'start' | 'steps'>;
  counts: Record<string, StepCounts>;
  title: string;
}) {
  const { steps, start } = props.definition;
  const ids = new Set(steps.map((s) => s.id));
  const edges: ElkExtendedEdge[] = [];
  const labels = new Map<string, string>();
  for (const step of steps)
    for (const edge of edgesOf(step)) {
      if (!ids.has(edge.to)) continue;
      const id = `${step.id}:${edge.field}`;
      const text = edgeLabel(step, edge.field);
      labels.set(id, text);
      edges.push({
        id,
        sources: [step.id],
        targets: [edge.to],
        ...(text ? { labels: [{ id: `${id}:l`, text, width: text.length * 7 + 6, height: LABEL_H }] } : {}),
      });
    }
  const graph: ElkNode = {
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'DOWN',
      'elk.edgeRouting': 'ORTHOGONAL',
      'elk.spacing.nodeNode': '28',
      'elk.layered.spacing.nodeNodeBetweenLayers': '44',
      'elk.edgeLabels.inline': 'true',
      'elk.padding': '[top=12,left=12,bottom=12,right=12]',
    },
    children: steps.map((s) => ({ id: s.id, width: NODE_W, height: NODE_H })),
    edges,
  };
  const laid = await elk.layout(graph);
  const width = Math.ceil(laid.width ?? NODE_W);
  const height = Math.ceil(laid.height ?? NODE_H);
  const byId = new Map(steps.map((s) => [s.id, s]));
  return (
    // biome-ignore lint/a11y/useSemanticElements: an SVG cannot be a fieldset; the role names the group.
    <svg
      class="journey-graph"
      viewBox={`0 0 ${width} ${height}`}
      width={width}
      // A group, not an image: its nodes are links to their step's form (axe: nested-interactive).
      role="group"
      aria-labelledby="journey-graph-title"
      xmlns="http://www.w3.org/2000/svg"
    >
      <title id="journey-graph-title">{props.title}</title>
      <defs>
        <marker
          id="jg-arrow"
          viewBox="0 0 10 10"
          refX="9"
          refY="5"
          markerWidth="7"
          markerHeight="7"
          orient="auto"
        >
          <path d="M0,0 L10,5 L0,10 z" class="jg-arrowhead" />
        </marker>
      </defs>
      {(laid.edges ?? []).map((edge) => {
        const section = edge.sections?.[0];
        if (!section) return null;
        const points = [section.startPoint, ...(section.bendPoints ?? []), section.endPoint];
        const label = edge.labels?.[0];
        return (
          <g class="jg-edge">
            <polyline points={points.map((p) => `${p.x},${p.y}`).join(' ')} marker-end="url(#jg-arrow)" />
            {label?.text && (
              <text x={(label.x ?? 0) + 3} y={(label.y ?? 0) + LABEL_H - 3} class="jg-edge-label">
                {label.text}
              </text>
            )}
          </g>
        );
      })}
      {(laid.children ?? []).map((node) => {
        const step = byId.get(node.id)!;
        const x = node.x ?? 0;
        const y = node.y ?? 0;
        return (
          <g class={`jg-node jg-${step.type}${node.id === start ? ' jg-start' : ''}`} data-step={node.id}>
            <a href={`#step-${node.id}`}>
              <rect x={x} y={y} width={NODE_W} height={NODE_H} rx="8" />
              <text x={x + 10} y={y + 19} class="jg-id">
                {clip(node.id === start ? `▶ ${node.id}` : node.id, 24)}
              </text>
              <text x={x + 10} y={y + 36} class="jg-type">
                {STEP_LABELS[step.type]}
              </text>
              <text x={x + 10} y={y + 53} class="jg-counts">
                {countsLine(props.counts[node.id])}
              </text>
            </a>
          </g>
        );
      })}
    </svg>
  );
}
