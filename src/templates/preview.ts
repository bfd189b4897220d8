import type { Db } from '../db/sql.js';
import type { AppDeps } from '../deps.js';
import { invalid } from '../http/problem.js';
import { decideOffersBatch } from '../offers/decide.js';
import type { RenderData } from './data.js';
import { loadTemplateVersion, type RenderedEmail, renderForCustomer } from './render.js';
import { selectSensitiveAttributeKeys, selectTemplateCustomers } from './store.js';

export interface PreviewInput {
  customer_id?: number;
  /** Render data given directly; merged over the customer's when both are given. */
  data?: RenderData;
  version?: number;
}

const PREVIEW_OFFERS = 3;

/**
 * Customers as templates see them, by id: the profile without its special-category attributes
 * (health, opinions…), which no email may quote. Erased customers are absent.
 */
export async function loadTemplateCustomers(
  sql: Db,
  ids: number[],
): Promise<Map<number, Record<string, unknown>>> {
  const [rows, sensitive] = await Promise.all([
    selectTemplateCustomers(sql, ids),
    selectSensitiveAttributeKeys(sql),
  ]);
  const out = new Map<number, Record<string, unknown>>();
  for (const row of rows) {
    const attributes = { ...(row.attributes as Record<string, unknown>) };
    for (const key of sensitive) delete attributes[key];
    out.set(row.id as number, { ...row, attributes });
  }
  return out;
}

/**
 * The data a preview renders with: the customer's profile and the offers the decision engine
 * would give them now (links not tracked: a preview must not count clicks), placeholder
 * unsubscribe and preference links, and whatever `data` overrides.
 */
export async function previewData(deps: Pick<AppDeps, 'sql' | 'config' | 'clock'>, input: PreviewInput) {
  const base: RenderData = {
    offers: [],
    unsubscribe_url: `${deps.config.PUBLIC_URL}/u/preview`,
    preferences_url: `${deps.config.PUBLIC_URL}/u/preview/preferences`,
    web_version_url: `${deps.config.PUBLIC_URL}/w/preview`,
    postal_address: deps.config.MAIL_POSTAL_ADDRESS ?? null,
    campaign: { name: 'Preview' },
  };
  if (input.customer_id !== undefined) {
    const id = input.customer_id;
    const customer = (await loadTemplateCustomers(deps.sql, [id])).get(id);
    if (!customer)
      throw invalid([{ path: 'customer_id', in: 'body', message: `customer ${id} does not exist` }]);
    base.customer = customer;
    const decision = (
      await decideOffersBatch(deps.sql, { customerIds: [id], placements: PREVIEW_OFFERS, now: deps.clock() })
    ).get(id);
    base.offers = (decision?.offers ?? []).map((o) => ({
      offer_id: o.offer_id,
      title: o.title,
      text: o.text,
      image_url: o.image_url,
      url: o.url,
      code: o.code,
    }));
  }
  return { ...base, ...input.data };
}

/** Renders a template version for a customer or for given data. */
export async function previewTemplate(
  deps: Pick<AppDeps, 'sql' | 'config' | 'clock'>,
  templateId: number,
  input: PreviewInput,
): Promise<RenderedEmail> {
  const version = await loadTemplateVersion(deps.sql, templateId, input.version);
  return renderForCustomer(version, await previewData(deps, input));
}
