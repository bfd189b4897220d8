import type { App } from '../http/env.js';

export function registerRuleRoutes(_app: App): void {}
