import { z } from '@hono/zod-openapi';
import type { Db, Sql } from '../db/sql.js';
import { audit } from '../http/audit.js';
import type { App } from '../http/env.js';
import { ACCESS } from '../http/roles.js';
import { defineRoute, jsonBody, jsonResponse } from '../http/route.js';
import { ContactPolicyPatch, ContactPolicySchema } from '../policy/schema.js';
import { policyView, readPolicySettings, writePolicySettings } from '../policy/settings.js';
import { type ControlGroup, currentControlGroup, readHoldoutSettings, renewControlGroup } from './assign.js';
import { HoldoutPercent } from './schema.js';

const tags = ['Holdouts'];

export const ControlGroupSchema = z
  .object({
    id: z.number().int(),
    percent: z.number(),
    started_at: z.string(),
    ended_at: z.string().nullable(),
  })
  .openapi('ControlGroup');

export const WorkspaceSettingsSchema = z
  .object({
    holdout_percent: z.number().openapi({
      description: 'The global control group: this percent of customers never gets promotional mail',
    }),
    holdout_refresh_days: z.number().int().nullable().openapi({
      description: 'A new control group is drawn this many days after the current one began; null: never',
    }),
    control_group: ControlGroupSchema.extend({ next_refresh_at: z.string().nullable() })
      .nullable()
      .openapi({ description: 'The group in force; null when holdout_percent is 0' }),
    contact_policy: ContactPolicySchema.openapi({
      description: 'The contact policy every send passes through: caps, quiet hours, complaint suspension',
    }),
    updated_at: z.string(),
  })
  .openapi('Settings');

const SettingsPatch = z
  .strictObject({
    holdout_percent: HoldoutPercent.optional(),
    holdout_refresh_days: z.number().int().min(1).max(3650).nullable().optional(),
    contact_policy: ContactPolicyPatch.optional(),
  })
  .openapi('SettingsPatch');

async function settingsView(sql: Sql, now: Date) {
  const group = await currentControlGroup(sql, now);
  const s = await readHoldoutSettings(sql);
  return {
    holdout_percent: s.holdout_percent,
    holdout_refresh_days: s.refresh_days,
    control_group: group ? groupView(group, s.refresh_days) : null,
    contact_policy: policyView(await readPolicySettings(sql)),
    updated_at: s.updated_at.toISOString(),
  };
}

function groupView(g: ControlGroup, refreshDays: number | null) {
  return {
    id: g.id,
    percent: g.percent,
    started_at: g.started_at.toISOString(),
    ended_at: null,
    next_refresh_at:
      refreshDays === null ? null : new Date(g.started_at.getTime() + refreshDays * 86_400_000).toISOString(),
  };
}

async function writeSettings(db: Db, patch: z.infer<typeof SettingsPatch>): Promise<void> {
  if (patch.contact_policy) await writePolicySettings(db, patch.contact_policy);
  await db`
    update holdout_settings set
      holdout_percent = coalesce(${patch.holdout_percent ?? null}::numeric, holdout_percent),
      refresh_days = case when ${patch.holdout_refresh_days !== undefined} then ${patch.holdout_refresh_days ?? null}::int
                          else refresh_days end,
      updated_at = now()
    where id`;
}

/** Workspace settings (the global control group) and the control groups' history. */
export function registerHoldoutRoutes(app: App): void {
  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/settings',
      roles: ACCESS.marketingRead,
      tags,
      summary: 'Workspace settings: the global control group and the contact policy',
      responses: { 200: jsonResponse(WorkspaceSettingsSchema, 'The settings') },
    }),
    async (c) => c.json(await settingsView(c.var.deps.sql, c.var.deps.clock()), 200),
  );

  for (const method of ['patch', 'put'] as const) {
    app.openapi(
      defineRoute({
        method,
        path: '/v1/settings',
        roles: ACCESS.admin,
        tags,
        summary:
          'Change the global control group (its percent and how often a new one is drawn; a changed percent draws a new group now) and the contact policy',
        request: { body: jsonBody(SettingsPatch) },
        responses: { 200: jsonResponse(WorkspaceSettingsSchema, 'The settings') },
      }),
      async (c) => {
        const { sql, clock } = c.var.deps;
        const patch = c.req.valid('json');
        await sql.begin((tx) => writeSettings(tx, patch));
        await renewControlGroup(sql, clock());
        await audit(c, { action: 'settings.update', entity: 'settings', entity_id: null, data: patch });
        return c.json(await settingsView(sql, clock()), 200);
      },
    );
  }

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/settings/control-group/refresh',
      roles: ACCESS.admin,
      tags,
      summary: 'Draw a new global control group now (the old one is kept for the record)',
      responses: { 200: jsonResponse(WorkspaceSettingsSchema, 'The settings, with the new group') },
    }),
    async (c) => {
      const { sql, clock } = c.var.deps;
      await renewControlGroup(sql, clock(), { force: true });
      await audit(c, { action: 'settings.control_group_refresh', entity: 'settings', entity_id: null });
      return c.json(await settingsView(sql, clock()), 200);
    },
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/control-groups',
      roles: ACCESS.marketingRead,
      tags,
      summary: 'Every global control group drawn, newest first: who was in one is recomputable from its id',
      responses: {
        200: jsonResponse(z.object({ data: z.array(ControlGroupSchema) }), 'The groups'),
      },
    }),
    async (c) => {
      const rows = await c.var.deps.sql<
        { id: number; percent: number; started_at: Date; ended_at: Date | null }[]
      >`select id, percent::float8 as percent, started_at, ended_at from control_groups order by id desc limit 500`;
      return c.json(
        {
          data: rows.map((r) => ({
            id: r.id,
            percent: r.percent,
            started_at: r.started_at.toISOString(),
            ended_at: r.ended_at?.toISOString() ?? null,
          })),
        },
        200,
      );
    },
  );
}
