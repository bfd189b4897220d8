import type { App } from '../http/env.js';

export function registerTemplateRoutes(_app: App): void {}
