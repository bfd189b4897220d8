import type { App } from '../http/env.js';

export function registerSegmentRoutes(_app: App): void {}
