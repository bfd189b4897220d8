import { type FieldError, invalid } from '../http/problem.js';

export type ImportKind = 'customers' | 'purchases' | 'products';

/**
 * Header names seen in common ERP and e-shop exports, in English, French and German (Sage,
 * Cegid, EBP, Odoo, SAP Business One, DATEV, Lexware, Shopify, PrestaShop, WooCommerce),
 * normalised (lower case, no accents, `_` for anything else: `N° ligne` is `n_ligne`,
 * `Währung` is `wahrung`), per field. A field takes the first alias found in the header.
 */
const ALIASES: Record<ImportKind, Record<string, string[]>> = {
  // A shop's product feed (Shopify, WooCommerce, Google Merchant) or an ERP's article list.
  products: {
    sku: [
      'sku',
      'variant_sku',
      'id',
      'product_id',
      'item_id',
      'reference',
      'ref',
      'ref_article',
      'code_article',
      'artikelnummer',
      'artikel_nr',
    ],
    title: ['title', 'name', 'product_name', 'nom', 'designation', 'libelle', 'bezeichnung', 'artikelname'],
    description: ['description', 'body_html', 'body', 'beschreibung'],
    price: ['price', 'variant_price', 'prix', 'prix_ttc', 'preis', 'sale_price'],
    currency: ['currency', 'devise', 'wahrung'],
    category: [
      'category',
      'product_category',
      'product_type',
      'type',
      'categorie',
      'famille',
      'kategorie',
      'warengruppe',
    ],
    brand: ['brand', 'vendor', 'marque', 'marke', 'hersteller'],
    image_url: ['image_url', 'image', 'image_link', 'image_src', 'variant_image', 'bild'],
    url: ['url', 'link', 'product_url', 'lien'],
    in_stock: ['in_stock', 'availability', 'available', 'disponible', 'verfugbar'],
    stock: [
      'stock',
      'quantity',
      'inventory',
      'variant_inventory_qty',
      'inventory_quantity',
      'qty',
      'quantite',
      'bestand',
      'lagerbestand',
    ],
    margin: ['margin', 'marge'],
    active: ['active', 'published', 'status_active', 'actif', 'aktiv'],
  },
  purchases: {
    external_line_id: [
      'external_line_id',
      'line_id',
      'order_line_id',
      'lineitem_id',
      'line_item_id',
      'id_ligne',
      'identifiant_ligne',
      'ref_ligne',
      'positions_id',
      'belegposition_id',
    ],
    // A line's number within its order (1, 2, 3…): with the order it makes the line's id.
    line_number: [
      'line_number',
      'line_no',
      'line_nr',
      'line',
      'n_ligne',
      'no_ligne',
      'num_ligne',
      'numero_ligne',
      'n_de_ligne',
      'ligne',
      'position',
      'pos',
      'pos_nr',
      'posnr',
      'positionsnummer',
      'position_nr',
      'zeile',
      'zeilennummer',
    ],
    customer_external_id: [
      'customer_external_id',
      'customer_id',
      'customer',
      'customer_number',
      'customer_no',
      'customer_code',
      'client',
      'code_client',
      'client_id',
      'id_client',
      'num_client',
      'n_client',
      'no_client',
      'numero_client',
      'ref_client',
      'partner_ref',
      'kundennummer',
      'kunden_nr',
      'kundennr',
      'kunden_id',
      'kunde',
      'debitor',
      'debitorennummer',
    ],
    order_ref: [
      'order_ref',
      'order',
      'order_id',
      'order_number',
      'order_no',
      'commande',
      'num_commande',
      'no_commande',
      'n_commande',
      'numero_commande',
      'n_de_commande',
      'ref_commande',
      'invoice',
      'invoice_number',
      'invoice_no',
      'facture',
      'num_facture',
      'n_facture',
      'no_facture',
      'piece',
      'n_piece',
      'num_piece',
      'bestellnummer',
      'bestell_nr',
      'bestellnr',
      'bestellung',
      'auftragsnummer',
      'auftrags_nr',
      'auftragsnr',
      'auftrag',
      'belegnummer',
      'beleg_nr',
      'belegnr',
      'rechnungsnummer',
      'rechnungs_nr',
      'name',
    ],
    sku: [
      'sku',
      'product',
      'product_ref',
      'product_code',
      'product_id',
      'item',
      'item_code',
      'item_number',
      'article',
      'ref_article',
      'code_article',
      'reference',
      'ref',
      'produit',
      'lineitem_sku',
      'default_code',
      'artikel',
      'artikelnummer',
      'artikel_nr',
      'artikelnr',
      'artnr',
      'produkt',
      'material',
    ],
    category: [
      'category',
      'product_category',
      'product_group',
      'family',
      'categorie',
      'famille',
      'famille_article',
      'rayon',
      'kategorie',
      'warengruppe',
      'produktgruppe',
      'artikelgruppe',
    ],
    quantity: [
      'quantity',
      'qty',
      'lineitem_quantity',
      'product_uom_qty',
      'quantite',
      'qte',
      'qt',
      'menge',
      'anzahl',
      'stuck',
      'stueck',
    ],
    amount: [
      'amount',
      'total',
      'line_total',
      'line_amount',
      'gross_amount',
      'amount_incl_tax',
      'total_incl_tax',
      'price_total',
      'lineitem_price',
      'montant',
      'montant_ttc',
      'total_ttc',
      'prix_total',
      'prix_ttc',
      'montant_ht',
      'total_ht',
      'betrag',
      'gesamtbetrag',
      'bruttobetrag',
      'brutto',
      'summe',
      'umsatz',
      'gesamtpreis',
      'nettobetrag',
    ],
    currency: ['currency', 'currency_code', 'devise', 'monnaie', 'wahrung', 'waehrung', 'wahrungscode'],
    kind: ['kind', 'line_kind', 'line_type', 'type_ligne', 'art', 'zeilenart'],
    purchased_at: [
      'purchased_at',
      'date',
      'order_date',
      'purchase_date',
      'invoice_date',
      'transaction_date',
      'created_at',
      'date_order',
      'paid_at',
      'date_commande',
      'date_de_commande',
      'date_achat',
      'date_d_achat',
      'date_facture',
      'date_piece',
      'bestelldatum',
      'auftragsdatum',
      'rechnungsdatum',
      'belegdatum',
      'kaufdatum',
      'datum',
    ],
    source: ['source', 'channel', 'canal', 'origine', 'kanal', 'vertriebskanal', 'quelle'],
  },
  customers: {
    external_id: [
      'external_id',
      'customer_id',
      'customer_external_id',
      'customer_number',
      'customer_no',
      'code_client',
      'client_id',
      'id_client',
      'num_client',
      'n_client',
      'no_client',
      'numero_client',
      'kundennummer',
      'kunden_nr',
      'kundennr',
      'kunden_id',
      'id',
      'ref',
    ],
    email: [
      'email',
      'e_mail',
      'email_address',
      'mail',
      'courriel',
      'adresse_email',
      'adresse_mail',
      'adresse_e_mail',
      'e_mail_adresse',
      'emailadresse',
    ],
    first_name: ['first_name', 'firstname', 'given_name', 'prenom', 'vorname'],
    last_name: [
      'last_name',
      'lastname',
      'surname',
      'family_name',
      'nom',
      'nom_de_famille',
      'nachname',
      'name',
    ],
    locale: ['locale', 'language', 'lang', 'langue', 'sprache'],
    timezone: ['timezone', 'time_zone', 'tz', 'fuseau_horaire', 'zeitzone'],
    birth_date: [
      'birth_date',
      'birthdate',
      'birthday',
      'dob',
      'date_naissance',
      'date_de_naissance',
      'geburtsdatum',
      'geburtstag',
    ],
    occupation: ['occupation', 'job', 'profession', 'metier', 'beruf'],
    income_band: ['income_band', 'revenus', 'tranche_revenus', 'einkommen'],
    education: ['education', 'diplome', 'bildung', 'ausbildung'],
    // Marketing email consent (yes/no): Shopify's "Accepts Email Marketing", newsletter flags.
    // Under MARKETING_LEGAL_BASIS=double_opt_in a yes mails a confirmation link, as the API does.
    'consents.marketing_email': [
      'consents_marketing_email',
      'marketing_email',
      'accepts_email_marketing',
      'accepts_marketing',
      'email_marketing',
      'email_opt_in',
      'email_optin',
      'marketing_opt_in',
      'opt_in',
      'optin',
      'newsletter',
      'consentement_email',
      'consentement_marketing',
      'accepte_newsletter',
      'abonne_newsletter',
      'newsletter_einwilligung',
      'werbeeinwilligung',
      'einwilligung_email',
    ],
  },
};

export const REQUIRED: Record<ImportKind, string[]> = {
  purchases: ['external_line_id', 'customer_external_id', 'amount', 'purchased_at'],
  customers: ['external_id'],
  products: ['sku', 'title', 'price'],
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
  return (['purchases', 'products', 'customers'] as const).find(
    (kind) => mapColumns(kind, header, mapping).errors.length === 0,
  );
}

/** The columns a header maps to, ignoring errors (what an upload would import, for its confirmation). */
export function mappedColumns(
  kind: ImportKind,
  header: string[],
  mapping: Record<string, string> = {},
): ColumnMap {
  return mapColumns(kind, header, mapping).columns;
}

/** Why no kind fits a header, for the 422 naming `kind`. */
export function noKindMessage(header: string[]): string {
  const needs = (kind: ImportKind) => REQUIRED[kind].join(', ');
  return `required: the header (${header.join(', ')}) has the columns of neither purchases (${needs('purchases')}), products (${needs('products')}) nor customers (${needs('customers')})`;
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
    // A line number (with the order, or alone) stands for the line id: see lineIdSource.
    if (field === 'external_line_id' && result.has('line_number')) continue;
    if (!result.has(field) && !errors.some((e) => e.path === `mapping.${field}`)) {
      errors.push({
        path: `mapping.${field}`,
        message: `no column for required field "${field}" in the header (${header.join(', ')})`,
      });
    }
  }
  return { columns: result, errors };
}

/**
 * Where a purchase line's id comes from: its own column; else the order and the line's number
 * in it (`A-1001/2`: an ERP numbers lines 1, 2, 3 in each order, so the number alone repeats);
 * else the line number alone.
 */
export function lineIdSource(map: ColumnMap): { line: number } | { order: number; number: number } | null {
  const id = map.get('external_line_id');
  if (id !== undefined) return { line: id };
  const number = map.get('line_number');
  if (number === undefined) return null;
  const order = map.get('order_ref');
  return order === undefined ? { line: number } : { order, number };
}

/** Columns a preview or an upload would ignore, out of all. */
export function ignoredColumns(header: string[], map: ColumnMap): number {
  const used = new Set(map.values());
  return header.filter((_, index) => !used.has(index)).length;
}

/**
 * Why an import should be confirmed before it runs: its kind was guessed from the header, or
 * most of its columns feed no field (the sign of a file read as the wrong kind, like a
 * purchases export read as customers). Empty: nothing to confirm.
 */
export function confirmationReasons(
  input: { given: ImportKind | undefined; kind: ImportKind; header: string[] },
  map: ColumnMap,
): string[] {
  const reasons: string[] = [];
  if (input.given === undefined) {
    reasons.push(`the kind (${input.kind}) was guessed from the header; send kind=${input.kind} to say so`);
  }
  const ignored = ignoredColumns(input.header, map);
  if (ignored * 2 > input.header.length) {
    reasons.push(
      `${ignored} of ${input.header.length} columns would be ignored (${input.header
        .filter((_, index) => ![...map.values()].includes(index))
        .join(', ')}); give a mapping or check the kind`,
    );
  }
  return reasons;
}
