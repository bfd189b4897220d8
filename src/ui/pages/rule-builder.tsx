import type { Hono } from 'hono';
import type { App } from '../../http/env.js';
import { api } from '../api.js';
import type { UiEnv } from '../env.js';

/*
 * The rule builder's page side: the component's mount point and the two JSON endpoints its
 * script (static/rule-builder.js) calls, both relayed to /v1 as the signed-in user.
 */

/** Mounts the visual rule builder over a JSON Logic textarea (its JSON view). */
export function RuleBuilder(props: {
  /** The id of the textarea holding the rule. */
  target: string;
  scope: 'segment' | 'offer' | 'trigger' | 'journey';
  /** The form field naming a trigger's event (its fields join the catalogue). */
  eventInput?: string;
  /** Show the live count and a sample of matching customers. */
  count?: boolean;
}) {
  return (
    <div
      data-rule-builder
      data-target={props.target}
      data-scope={props.scope}
      data-event-input={props.eventInput}
      data-count={props.count ? '1' : undefined}
      class="rule-builder"
    >
      <noscript>The rule builder needs JavaScript; the JSON below is the rule.</noscript>
    </div>
  );
}

/** The script pages with a rule builder load. */
export const RULE_BUILDER_SCRIPT = '/ui/static/rule-builder.js';

export function registerRuleBuilderPages(ui: Hono<UiEnv>, app: App): void {
  ui.get('/ui/rules/fields', async (c) => {
    const q = new URLSearchParams();
    for (const name of ['for', 'event']) {
      const value = c.req.query(name);
      if (value) q.set(name, value);
    }
    const res = await api(app, c, 'GET', `/v1/rules/fields?${q}`);
    return c.json(res.body, res.status as 200);
  });

  // The live count (segments, offers, journeys: customers matching) or, for a trigger filter,
  // only the warnings (it runs against an event, not a customer alone).
  ui.post('/ui/rules/preview', async (c) => {
    const body = (await c.req.json().catch(() => ({}))) as {
      rule?: unknown;
      for?: string;
      event?: string;
      count?: boolean;
    };
    const scope = body.for ?? 'segment';
    if (scope !== 'trigger' && body.count) {
      const res = await api(app, c, 'POST', '/v1/segments/preview', { rule: body.rule });
      return c.json(res.ok ? res.body : { errors: res.errors, detail: res.detail }, res.ok ? 200 : 422);
    }
    const res = await api(app, c, 'POST', '/v1/rules/check', {
      rule: body.rule,
      for: scope,
      ...(body.event ? { event: body.event } : {}),
    });
    return c.json(res.ok ? res.body : { errors: res.errors, detail: res.detail }, res.ok ? 200 : 422);
  });
}
