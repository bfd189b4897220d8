import { random } from '../offers/seeded-random.js';
import { demoImagePath } from './images.js';

// The sample shop of `offerflow demo`: deterministic data (a seeded generator), so two runs
// produce the same customers, purchases and offers.

export { random };

const pick = <T>(rand: () => number, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;

const FRENCH = {
  first: [
    'Camille',
    'Léa',
    'Manon',
    'Chloé',
    'Inès',
    'Louise',
    'Hugo',
    'Lucas',
    'Louis',
    'Gabriel',
    'Jules',
    'Arthur',
    'Élodie',
    'Théo',
    'Mathilde',
    'Noé',
    'Zoé',
    'Raphaël',
    'Anaïs',
    'Benoît',
  ],
  last: [
    'Martin',
    'Bernard',
    'Dubois',
    'Thomas',
    'Robert',
    'Richard',
    'Petit',
    'Durand',
    'Leroy',
    'Moreau',
    'Simon',
    'Laurent',
    'Lefèvre',
    'Michel',
    'Garcia',
    'Fontaine',
    'Chevalier',
    'Rousseau',
  ],
  cities: [
    ['Paris', '75011'],
    ['Lyon', '69003'],
    ['Marseille', '13006'],
    ['Toulouse', '31000'],
    ['Nantes', '44000'],
    ['Bordeaux', '33000'],
    ['Lille', '59000'],
    ['Rennes', '35000'],
  ],
  occupations: [
    'enseignante',
    'ingénieur',
    'infirmier',
    'artisan',
    'commerçante',
    'étudiant',
    'retraitée',
    'architecte',
  ],
  domain: 'exemple.fr',
};

const ENGLISH = {
  first: [
    'Olivia',
    'Amelia',
    'Isla',
    'Ava',
    'Emily',
    'Grace',
    'Oliver',
    'George',
    'Harry',
    'Jack',
    'Noah',
    'Charlie',
    'Freya',
    'Thomas',
    'Alfie',
    'Poppy',
    'Evie',
    'Oscar',
  ],
  last: [
    'Smith',
    'Jones',
    'Taylor',
    'Brown',
    'Williams',
    'Wilson',
    'Johnson',
    'Davies',
    'Robinson',
    'Wright',
    'Thompson',
    'Evans',
    'Walker',
    'White',
    'Roberts',
    'Green',
  ],
  cities: [
    ['London', 'E1 6AN'],
    ['Manchester', 'M1 1AE'],
    ['Bristol', 'BS1 4DJ'],
    ['Edinburgh', 'EH1 1YZ'],
    ['Leeds', 'LS1 4DY'],
  ],
  occupations: ['teacher', 'engineer', 'nurse', 'designer', 'shop owner', 'student', 'retired', 'accountant'],
  domain: 'example.co.uk',
};

export const CATEGORIES = [
  'garden',
  'kitchen',
  'books',
  'fashion',
  'sports',
  'toys',
  'beauty',
  'electronics',
  'wine',
] as const;
const HOBBIES = [
  'gardening',
  'cooking',
  'reading',
  'running',
  'cycling',
  'travel',
  'music',
  'photography',
  'wine tasting',
];
const INCOME = ['low', 'middle', 'upper_middle', 'high'];
const EDUCATION = ['secondary', 'bachelor', 'master', 'doctorate'];
const PRICE: Record<string, [number, number]> = {
  garden: [8, 220],
  kitchen: [6, 180],
  books: [7, 40],
  fashion: [15, 160],
  sports: [10, 250],
  toys: [9, 90],
  beauty: [6, 85],
  electronics: [25, 900],
  wine: [9, 120],
};

export interface DemoCustomer {
  external_id: string;
  email?: string;
  first_name: string;
  last_name: string;
  locale: string;
  timezone: string;
  birth_date: string;
  address: { line1: string; postal_code: string; city: string; country: string };
  occupation: string;
  income_band: string;
  education: string;
  preferred_categories: string[];
  hobbies: string[];
  family: { relation: string; name?: string }[];
  consents: Record<string, boolean>;
}

/** 1,000 customers, two thirds French and one third English, with varied profiles and consents. */
export function demoCustomers(count = 1000): DemoCustomer[] {
  const rand = random(20240601);
  const out: DemoCustomer[] = [];
  for (let i = 1; i <= count; i++) {
    const fr = rand() < 0.66;
    const p = fr ? FRENCH : ENGLISH;
    const first = pick(rand, p.first);
    const last = pick(rand, p.last);
    const [city, postal] = pick(rand, p.cities) as [string, string];
    const ascii = (s: string) =>
      s
        .normalize('NFD')
        .replace(/[\u0300-\u036f]/g, '')
        .toLowerCase();
    const favourites = [...new Set([pick(rand, CATEGORIES), pick(rand, CATEGORIES)])];
    const consent = rand();
    const children = Math.floor(rand() * 3);
    out.push({
      external_id: `demo-${String(i).padStart(4, '0')}`,
      // A few customers have no address on file: the planner records why they get nothing.
      ...(rand() < 0.015 ? {} : { email: `${ascii(first)}.${ascii(last)}.${i}@${p.domain}` }),
      first_name: first,
      last_name: last,
      locale: fr ? 'fr-FR' : 'en-GB',
      timezone: fr ? 'Europe/Paris' : 'Europe/London',
      birth_date: `${1950 + Math.floor(rand() * 55)}-${String(1 + Math.floor(rand() * 12)).padStart(2, '0')}-${String(1 + Math.floor(rand() * 28)).padStart(2, '0')}`,
      address: {
        line1: `${1 + Math.floor(rand() * 120)} ${fr ? 'rue des Lilas' : 'High Street'}`,
        postal_code: postal,
        city,
        country: fr ? 'FR' : 'GB',
      },
      occupation: pick(rand, p.occupations),
      income_band: pick(rand, INCOME),
      education: pick(rand, EDUCATION),
      preferred_categories: favourites,
      hobbies: [...new Set([pick(rand, HOBBIES), pick(rand, HOBBIES)])],
      family: Array.from({ length: children }, () => ({ relation: 'child' })),
      // 88 % opted in, 5 % opted out, the rest never asked.
      consents: consent < 0.88 ? { marketing_email: true } : consent < 0.93 ? { marketing_email: false } : {},
    });
  }
  return out;
}

export interface DemoPurchase {
  external_line_id: string;
  customer_external_id: string;
  order_ref: string;
  sku: string;
  category: string;
  quantity: number;
  amount: number;
  currency: string;
  purchased_at: string;
  source: string;
}

/** About 20,000 order lines over the two years before `now`, leaning to each customer's favourites. */
export function demoPurchases(customers: readonly DemoCustomer[], now: Date): DemoPurchase[] {
  const rand = random(777);
  const out: DemoPurchase[] = [];
  const span = 730 * 86_400_000;
  for (const c of customers) {
    const orders = Math.floor(rand() * rand() * 38) + 1;
    for (let o = 1; o <= orders; o++) {
      const at = new Date(now.getTime() - 3_600_000 - Math.floor(rand() * span));
      const lines = 1 + Math.floor(rand() * 3);
      for (let l = 1; l <= lines; l++) {
        const category = rand() < 0.6 ? pick(rand, c.preferred_categories) : pick(rand, CATEGORIES);
        const [lo, hi] = PRICE[category]!;
        const quantity = rand() < 0.85 ? 1 : 2;
        out.push({
          external_line_id: `${c.external_id}-o${o}-l${l}`,
          customer_external_id: c.external_id,
          order_ref: `${c.external_id}-o${o}`,
          sku: `${category.toUpperCase().slice(0, 4)}-${100 + Math.floor(rand() * 60)}`,
          category,
          quantity,
          amount: Math.round((lo + rand() * (hi - lo)) * quantity * 100) / 100,
          currency: 'EUR',
          purchased_at: at.toISOString(),
          source: 'demo-shop',
        });
      }
    }
  }
  return out;
}

const spend = (category: string) => ({ var: [`spend_by_category.${category}`, 0] });

/** A dozen offers: category offers scored by past spend, a few targeted ones, and a fallback. */
export const DEMO_OFFERS = [
  {
    name: 'demo: garden -20%',
    title: '20 % off garden tools',
    category: 'garden',
    code: 'GARDEN20',
    eligibility: { '>': [spend('garden'), 50] },
    score: spend('garden'),
  },
  {
    name: 'demo: kitchen duo',
    title: 'Two kitchen knives for the price of one',
    category: 'kitchen',
    code: 'KNIFE2',
    eligibility: { '>': [spend('kitchen'), 40] },
    score: spend('kitchen'),
  },
  {
    name: 'demo: book club',
    title: 'Three books, the fourth is on us',
    category: 'books',
    code: 'READ4',
    eligibility: { '>': [spend('books'), 20] },
    score: spend('books'),
  },
  {
    name: 'demo: new season',
    title: 'The new season’s collection, -15 %',
    category: 'fashion',
    code: 'STYLE15',
    eligibility: { '>': [spend('fashion'), 60] },
    score: spend('fashion'),
  },
  {
    name: 'demo: run further',
    title: 'Running shoes: free shipping and returns',
    category: 'sports',
    code: 'RUNFREE',
    eligibility: { '>': [spend('sports'), 60] },
    score: spend('sports'),
  },
  {
    name: 'demo: toy box',
    title: 'A surprise toy with every order over €40',
    category: 'toys',
    code: 'TOYBOX',
    eligibility: { '>': [spend('toys'), 30] },
    score: spend('toys'),
  },
  {
    name: 'demo: beauty sample',
    title: 'Free samples with your beauty order',
    category: 'beauty',
    code: 'GLOW',
    eligibility: { '>': [spend('beauty'), 30] },
    score: spend('beauty'),
  },
  {
    name: 'demo: tech trade-in',
    title: 'Trade in your old phone: €50 off',
    category: 'electronics',
    code: 'TRADE50',
    eligibility: { '>': [spend('electronics'), 200] },
    score: spend('electronics'),
  },
  {
    name: 'demo: wine cellar',
    title: 'The sommelier’s case of six, -10 %',
    category: 'wine',
    code: 'CELLAR10',
    eligibility: { '>': [spend('wine'), 50] },
    score: spend('wine'),
  },
  {
    name: 'demo: big spender',
    title: 'VIP evening: early access to the sales',
    category: 'fashion',
    code: 'VIPEARLY',
    eligibility: { '>': [{ var: 'total_spent' }, 3000] },
    score: { var: 'total_spent' },
    priority: 10,
  },
  {
    name: 'demo: come back',
    title: 'We miss you: €10 off your next order',
    category: 'kitchen',
    code: 'BACK10',
    eligibility: { '>': [{ var: 'days_since_last_purchase' }, 180] },
    priority: 5,
  },
  {
    name: 'demo: newsletter favourite',
    title: 'Free delivery this week',
    category: null,
    code: 'FREESHIP',
    fallback: true,
    priority: 1,
  },
].map((o) => ({
  ...o,
  text: `${o.title}. Use code ${o.code} at checkout.`,
  url: `https://shop.example/${o.category ?? 'offers'}?promo=${o.code}`,
  // A path: the seed puts PUBLIC_URL in front, where `offerflow serve` (and the demo) serve it.
  image_url: demoImagePath(o.code),
}));

/** Everyone who bought something in the last two years. */
export const DEMO_SEGMENT = {
  name: 'demo: customers who bought in the last two years',
  rule: { '>': [{ var: 'orders_count' }, 0] },
};
