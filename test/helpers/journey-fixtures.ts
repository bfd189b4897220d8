import type { Sql } from '../../src/db/sql.js';

// The journey the batch tests and the journeys bench both run: wait 1 s, branch on spend (both
// ways to the mail, so every entry sends), send the template, exit. One shape, so the bench
// measures what the tests prove.

/** The wait → branch → send_email → exit definition, entered on `event`. */
export function waitBranchMailJourney(event: string, templateId: number) {
  return {
    entry: { event },
    re_entry: 'never',
    goal: null,
    start: 'wait',
    steps: [
      { id: 'wait', type: 'wait', seconds: 1, next: 'spend' },
      {
        id: 'spend',
        type: 'branch',
        rule: { '>=': [{ var: 'customer.total_spent' }, 100] },
        then: 'mail',
        else: 'mail',
      },
      { id: 'mail', type: 'send_email', template_id: templateId, template_version: 1, next: 'end' },
      { id: 'end', type: 'exit' },
    ],
  };
}

/** Writes an active journey with `definition` as its first, activated version. */
export async function insertActiveJourney(sql: Sql, name: string, definition: object) {
  const [journey] = await sql<{ id: number }[]>`
    insert into journeys (name, status) values (${name}, 'active') returning id`;
  const [version] = await sql<{ id: number }[]>`
    insert into journey_versions (journey_id, version, definition, activated_at)
    values (${journey!.id}, 1, ${sql.json(definition as never)}, now()) returning id`;
  await sql`update journeys set version_id = ${version!.id} where id = ${journey!.id}`;
  return { journeyId: journey!.id, versionId: version!.id };
}
