import type { App } from '../http/env.js';

export function registerCampaignRoutes(_app: App): void {}
