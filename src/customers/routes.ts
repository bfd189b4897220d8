import type { App } from '../http/env.js';

export function registerCustomerRoutes(_app: App): void {}
