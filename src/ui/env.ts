import type { AppEnv } from '../http/env.js';
import type { Session } from './session.js';

/** The app's variables plus the signed-in session and its CSRF token. */
export interface UiEnv {
  Variables: AppEnv['Variables'] & { session: Session; csrf: string };
}
