import type { App } from '../http/env.js';
import { registerAttributeRoutes } from './attribute-routes.js';
import { registerConsentRoutes } from './consent-routes.js';
import { registerCustomerCrud } from './customer-routes.js';
import { registerTimelineRoutes } from './timeline-routes.js';

/** Customers, their consents and contact history, and the attribute registry. */
export function registerCustomerRoutes(app: App): void {
  registerCustomerCrud(app);
  registerConsentRoutes(app);
  registerTimelineRoutes(app);
  registerAttributeRoutes(app);
}
