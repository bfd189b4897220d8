import type { App } from '../http/env.js';

export function registerOfferRoutes(_app: App): void {}
