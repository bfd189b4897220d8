import { type FieldError, invalid } from '../http/problem.js';

export type ImportKind = 'customers' | 'purchases';

/**
 * Header names seen in common ERP and e-shop exports (Sage, Cegid, EBP, Odoo, Shopify,
 * PrestaShop), normalised (lower case, no accents, `_` for anything else), per field.
 */
const ALIASES: Record<ImportKind, Record<string, string[]>> = {
  purchases: {
    external_line_id: [
      'external_line_id',
      'line_id',
      'order_line_id',
      'lineitem_id',
      'id_ligne',
      'ligne',
      'num_ligne',
      'line',
    ],
    customer_external_id: [
      'customer_external_id',
      'customer_id',
      'customer',
      'client',
      'code_client',
      'client_id',
      'id_client',
      'customer_number',
      'num_client',
      'partner_ref',
    ],
    order_ref: [
      'order_ref',
      'order',
      'order_id',
      'order_number',
      'commande',
      'num_commande',
      'no_commande',
      'invoice',
      'facture',
      'num_facture',
      'piece',
      'name',
    ],
    sku: [
      'sku',
      'product',
      'product_ref',
      'article',
      'ref_article',
      'code_article',
      'reference',
      'item',
      'lineitem_sku',
      'default_code',
    ],
    category: ['category', 'categorie', 'famille', 'family', 'product_category', 'rayon'],
    quantity: ['quantity', 'qty', 'quantite', 'qte', 'lineitem_quantity', 'product_uom_qty'],
    amount: [
      'amount',
      'total',
      'line_total',
      'montant',
      'montant_ttc',
      'total_ttc',
      'price_total',
      'lineitem_price',
      'prix_total',
    ],
    currency: ['currency', 'devise', 'currency_code'],
    kind: ['kind', 'line_kind', 'line_type'],
    purchased_at: [
      'purchased_at',
      'date',
      'order_date',
      'purchase_date',
      'date_commande',
      'date_achat',
      'date_facture',
      'created_at',
      'date_order',
      'paid_at',
    ],
    source: ['source', 'canal', 'channel', 'origine'],
  },
  customers: {
    external_id: [
      'external_id',
      'customer_id',
      'customer_external_id',
      'code_client',
      'client_id',
      'id_client',
      'num_client',
      'customer_number',
      'id',
      'ref',
    ],
    email: ['email', 'e_mail', 'mail', 'courriel', 'adresse_email'],
    first_name: ['first_name', 'firstname', 'prenom', 'given_name'],
    last_name: ['last_name', 'lastname', 'nom', 'surname', 'family_name'],
    locale: ['locale', 'langue', 'language', 'lang'],
    timezone: ['timezone', 'time_zone', 'fuseau_horaire', 'tz'],
    birth_date: ['birth_date', 'birthdate', 'birthday', 'date_naissance', 'date_de_naissance', 'dob'],
    occupation: ['occupation', 'profession', 'job', 'metier'],
    income_band: ['income_band', 'revenus', 'tranche_revenus'],
    education: ['education', 'diplome'],
  },
};

export const REQUIRED: Record<ImportKind, string[]> = {
  purchases: ['external_line_id', 'customer_external_id', 'amount', 'purchased_at'],
  customers: ['external_id'],
};

/** `Date de commande` → `date_de_commande`, `Quantité` → `quantite`. */
export function normaliseHeader(name: string): string {
  return name
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .trim()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_|_$/g, '');
}

/** Field → column index. */
export type ColumnMap = Map<string, number>;

/**
 * Maps header columns to fields: an explicit `mapping` (field → header name) wins, then the
 * aliases. Throws a 422 naming each required field no column maps to.
 */
export function resolveMapping(
  kind: ImportKind,
  header: string[],
  mapping: Record<string, string> = {},
): ColumnMap {
  const { columns, errors } = mapColumns(kind, header, mapping);
  if (errors.length > 0) throw invalid(errors, 'The file’s header does not map to the fields');
  return columns;
}

/**
 * The kind of file a header (and mapping) reads as, when the caller did not say: purchases when
 * it has their fields (a line id, a customer, an amount, a date), else customers when it has an
 * id column. A purchases file also has a customer id column, so purchases are tried first.
 */
export function inferKind(header: string[], mapping: Record<string, string> = {}): ImportKind | undefined {
  return (['purchases', 'customers'] as const).find(
    (kind) => mapColumns(kind, header, mapping).errors.length === 0,
  );
}

/** Why no kind fits a header, for the 422 naming `kind`. */
export function noKindMessage(header: string[]): string {
  const needs = (kind: ImportKind) => REQUIRED[kind].join(', ');
  return `required: the header (${header.join(', ')}) has the columns of neither purchases (${needs('purchases')}) nor customers (${needs('customers')})`;
}

function mapColumns(
  kind: ImportKind,
  header: string[],
  mapping: Record<string, string>,
): { columns: ColumnMap; errors: FieldError[] } {
  const normalised = header.map(normaliseHeader);
  const result: ColumnMap = new Map();
  const errors: FieldError[] = [];
  const fields = ALIASES[kind];
  for (const [field, column] of Object.entries(mapping)) {
    if (!(field in fields)) {
      errors.push({
        path: `mapping.${field}`,
        message: `unknown field; known: ${Object.keys(fields).join(', ')}`,
      });
      continue;
    }
    const index = normalised.indexOf(normaliseHeader(column));
    if (index === -1)
      errors.push({ path: `mapping.${field}`, message: `no column "${column}" in the header` });
    else result.set(field, index);
  }
  const taken = new Set(result.values());
  for (const [field, aliases] of Object.entries(fields)) {
    if (result.has(field)) continue;
    for (const alias of aliases) {
      const index = normalised.indexOf(alias);
      if (index !== -1 && !taken.has(index)) {
        result.set(field, index);
        taken.add(index);
        break;
      }
    }
  }
  for (const field of REQUIRED[kind]) {
    if (!result.has(field) && !errors.some((e) => e.path === `mapping.${field}`)) {
      errors.push({
        path: `mapping.${field}`,
        message: `no column for required field "${field}" in the header (${header.join(', ')})`,
      });
    }
  }
  return { columns: result, errors };
}
