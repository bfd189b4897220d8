import type { App } from '../http/env.js';

export function registerPurchaseRoutes(_app: App): void {}
