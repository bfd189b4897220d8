import type { Db } from '../db/sql.js';
import { type FieldError, invalid, notFound } from '../http/problem.js';
import { compileTemplateSource } from './compile.js';
import {
  insertPartial,
  insertPartialVersion,
  lockPartial,
  type PartialRow,
  selectPartial,
  selectPartialVersions,
  updatePartialDescription,
} from './partial-store.js';

/*
 * Reusable blocks. A template places one as an MJML wrapper naming it:
 *   <mj-wrapper css-class="partial:header"></mj-wrapper>        (the latest version)
 *   <mj-wrapper css-class="partial:header:3">…</mj-wrapper>     (version 3)
 * At save the wrapper is filled with that version's MJML and the version is written into
 * css-class, so the stored MJML is what is sent, a template keeps the partial versions it was
 * saved with (recorded for "used by"), and a later edit of the partial changes no sent mail.
 * css-class keeps it valid MJML for the strict validator and the block editor alike.
 */

// Attributes are bounded and stop at the next tag, so a crafted source cannot make the scan
// quadratic; a placement's content runs to its own closing tag (wrappers do not nest in MJML).
const PLACEMENT =
  /<mj-wrapper\b([^<>]{0,2000}?)\bcss-class="partial:([a-z0-9][a-z0-9_-]{0,63})(?::(\d{1,9}))?"([^<>]{0,2000}?)(?:\/>|>([\s\S]*?)<\/mj-wrapper>)/g;

/** More placements than any email needs: refused before the scan (each one reads to its end tag). */
const MAX_PLACEMENTS = 50;

export const PARTIAL_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export interface ExpandedMjml {
  mjml: string;
  pins: Array<{ partial_id: number; partial_version: number }>;
}

/** Fills each partial placement with its version's MJML; an unknown partial or version is a 422. */
export async function expandPartials(sql: Db, mjml: string, path = 'mjml'): Promise<ExpandedMjml> {
  let marks = 0;
  for (
    let at = mjml.indexOf('css-class="partial:');
    at >= 0;
    at = mjml.indexOf('css-class="partial:', at + 1)
  )
    if (++marks > MAX_PLACEMENTS)
      throw invalid([{ path, message: `at most ${MAX_PLACEMENTS} reusable blocks in one template` }]);
  const placements = [...mjml.matchAll(PLACEMENT)];
  if (placements.length === 0) return { mjml, pins: [] };
  const wanted = placements.map((m) => ({ name: m[2] as string, version: m[3] ? Number(m[3]) : null }));
  const found = await selectPartialVersions(sql, wanted);
  const key = (name: string, version: number | null) => `${name}@${version ?? 'latest'}`;
  const byKey = new Map(found.map((f) => [key(f.name, f.asked), f]));
  const errors: FieldError[] = [];
  const pins = new Map<number, number>();
  const out = mjml.replace(
    PLACEMENT,
    (_all, pre: string, name: string, version: string | undefined, post: string) => {
      const hit = byKey.get(key(name, version ? Number(version) : null));
      if (!hit) {
        errors.push({
          path,
          message: version
            ? `partial ${name} has no version ${version}`
            : `there is no partial named ${name}`,
        });
        return _all;
      }
      if (pins.has(hit.id) && pins.get(hit.id) !== hit.version)
        errors.push({ path, message: `partial ${name} is placed at two versions; use one` });
      pins.set(hit.id, hit.version);
      const attrs = `${pre}css-class="partial:${name}:${hit.version}"${post.replace(/\s*\/?\s*$/, '')}`;
      return `<mj-wrapper${attrs}>${hit.mjml}</mj-wrapper>`;
    },
  );
  if (errors.length) throw invalid(errors);
  return {
    mjml: out,
    pins: [...pins].map(([partial_id, partial_version]) => ({ partial_id, partial_version })),
  };
}

/** A partial's MJML must be valid MJML inside a wrapper (sections), with no partial of its own. */
async function checkPartialMjml(mjml: string): Promise<void> {
  if (/css-class="partial:/.test(mjml) || /<mj-wrapper\b/.test(mjml))
    throw invalid([{ path: 'mjml', message: 'a partial holds sections, not wrappers or other partials' }]);
  if (/<mjml\b|<mj-body\b|<mj-head\b/.test(mjml))
    throw invalid([
      { path: 'mjml', message: 'a partial holds sections only (no <mjml>, <mj-head> or <mj-body>)' },
    ]);
  // On one line with the partial's first: the line numbers of errors are the partial's own.
  await compileTemplateSource({
    subject: 'partial',
    preheader: null,
    mjml: `<mjml><mj-body><mj-wrapper>${mjml}</mj-wrapper></mj-body></mjml>`,
  });
}

export function partialView(row: PartialRow) {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    version: row.latest_version,
    mjml: row.mjml,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/** Creates a partial and its version 1 (call it in a transaction). */
export async function createPartial(
  tx: Db,
  input: { name: string; mjml: string; description?: string | null | undefined },
): Promise<PartialRow> {
  await checkPartialMjml(input.mjml);
  const id = await insertPartial(tx, input.name, input.description ?? null);
  await insertPartialVersion(tx, id, 1, input.mjml);
  return (await selectPartial(tx, id)) as PartialRow;
}

/** Saves version n+1 of a partial (templates keep the versions they were saved with). */
export async function updatePartial(
  tx: Db,
  id: number,
  patch: { mjml?: string | undefined; description?: string | null | undefined },
): Promise<PartialRow> {
  const row = await lockPartial(tx, id);
  if (!row) throw notFound(`partial ${id}`);
  if (patch.description !== undefined) await updatePartialDescription(tx, id, patch.description);
  if (patch.mjml !== undefined) {
    await checkPartialMjml(patch.mjml);
    const current = await selectPartial(tx, id);
    if (current?.mjml !== patch.mjml) await insertPartialVersion(tx, id, row.latest_version + 1, patch.mjml);
  }
  return (await selectPartial(tx, id)) as PartialRow;
}
