import type { Role } from '../http/roles.js';

/**
 * The navigation, by role: one line per page. A page that any role may see names the roles
 * that see it (admin sees everything).
 */
export const NAV: ReadonlyArray<{ href: string; label: string; roles: readonly Role[] }> = [
  { href: '/ui', label: 'Dashboard', roles: ['admin', 'marketer', 'analyst'] },
  { href: '/ui/customers', label: 'Customers', roles: ['admin', 'marketer', 'integrator', 'sales'] },
  { href: '/ui/segments', label: 'Segments', roles: ['admin', 'marketer', 'analyst'] },
  { href: '/ui/offers', label: 'Offers', roles: ['admin', 'marketer', 'analyst'] },
  { href: '/ui/products', label: 'Products', roles: ['admin', 'marketer', 'analyst'] },
  { href: '/ui/campaigns', label: 'Campaigns', roles: ['admin', 'marketer', 'analyst'] },
  { href: '/ui/templates', label: 'Templates', roles: ['admin', 'marketer', 'analyst'] },
  { href: '/ui/triggers', label: 'Triggers', roles: ['admin', 'marketer', 'analyst'] },
  { href: '/ui/journeys', label: 'Journeys', roles: ['admin', 'marketer', 'analyst'] },
  { href: '/ui/reports', label: 'Reports', roles: ['admin', 'marketer', 'analyst'] },
  { href: '/ui/imports', label: 'Imports', roles: ['admin', 'integrator'] },
  { href: '/ui/events', label: 'Events', roles: ['admin', 'marketer', 'analyst'] },
  { href: '/ui/users', label: 'Users', roles: ['admin'] },
  { href: '/ui/keys', label: 'API keys', roles: ['admin'] },
  { href: '/ui/senders', label: 'Senders', roles: ['admin'] },
  { href: '/ui/holdouts', label: 'Holdouts', roles: ['admin'] },
  { href: '/ui/attributes', label: 'Attributes', roles: ['admin'] },
  { href: '/ui/webhooks', label: 'Webhooks', roles: ['admin'] },
  { href: '/ui/audit', label: 'Audit log', roles: ['admin'] },
];

/** Whether `path` is within a nav entry (the dashboard only on its own path). */
export const isCurrent = (href: string, path: string | undefined) =>
  path !== undefined && (href === '/ui' ? path === '/ui' : path === href || path.startsWith(`${href}/`));
