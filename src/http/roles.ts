export const ROLES = ['admin', 'marketer', 'integrator', 'analyst', 'sales'] as const;
export type Role = (typeof ROLES)[number];

/**
 * Who may do what. Admin may do everything; each route names the other roles it admits. The
 * groups below are the usual combinations; analysts never read personal data.
 */
export const ACCESS = {
  admin: ['admin'],
  /** Read a customer's personal data (card, timeline, purchases). */
  customerRead: ['admin', 'marketer', 'integrator', 'sales'],
  /** Write customers and purchases: integrators push them, service staff edit. */
  customerWrite: ['admin', 'integrator', 'sales'],
  /** Push data in bulk (ERP, shop). */
  integration: ['admin', 'integrator'],
  /** Record interactions and notes on the contact history. */
  interactions: ['admin', 'sales', 'marketer'],
  /** Design campaigns, templates, offers, segments, rules. */
  marketing: ['admin', 'marketer'],
  /** Read marketing objects (campaigns, offers, templates, segments). */
  marketingRead: ['admin', 'marketer', 'analyst'],
  /** Reports: aggregated, no personal data. */
  reports: ['admin', 'marketer', 'analyst'],
  /** Decide offers for a customer (the card shows them to sales staff). */
  decisions: ['admin', 'marketer', 'sales'],
} as const satisfies Record<string, readonly Role[]>;
