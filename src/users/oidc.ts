import * as client from 'openid-client';
import type { Config } from '../config.js';

// OpenID Connect sign-in with openid-client: the authorization code flow with PKCE, state and
// nonce, the ID token checked by the library (issuer, audience, signature, expiry, nonce).

export type OidcConfig = Pick<Config, 'OIDC_ISSUER' | 'OIDC_CLIENT_ID' | 'OIDC_CLIENT_SECRET' | 'PUBLIC_URL'>;

export const oidcEnabled = (config: OidcConfig) => Boolean(config.OIDC_ISSUER && config.OIDC_CLIENT_ID);

export const oidcRedirectUri = (config: OidcConfig) =>
  `${config.PUBLIC_URL.replace(/\/$/, '')}/ui/oidc/callback`;

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/;

// One discovery per issuer and client for the process: the provider's metadata rarely changes,
// and its keys are fetched (and refreshed) by the library.
const discovered = new Map<string, Promise<client.Configuration>>();

function configuration(config: OidcConfig): Promise<client.Configuration> {
  const issuer = new URL(config.OIDC_ISSUER!);
  const key = `${issuer.href}\0${config.OIDC_CLIENT_ID}`;
  let found = discovered.get(key);
  if (!found) {
    // Plain HTTP only to a provider on this machine (a development or test provider).
    const insecure = issuer.protocol === 'http:' && LOOPBACK.test(issuer.hostname);
    found = client.discovery(
      issuer,
      config.OIDC_CLIENT_ID!,
      config.OIDC_CLIENT_SECRET,
      undefined,
      insecure ? { execute: [client.allowInsecureRequests] } : undefined,
    );
    found.catch(() => discovered.delete(key));
    discovered.set(key, found);
  }
  return found;
}

export interface OidcAttempt {
  verifier: string;
  state: string;
  nonce: string;
}

/** Where to send the browser, and what to keep (in a cookie) to check the answer. */
export async function startOidc(config: OidcConfig): Promise<{ url: string; attempt: OidcAttempt }> {
  const conf = await configuration(config);
  const attempt = {
    verifier: client.randomPKCECodeVerifier(),
    state: client.randomState(),
    nonce: client.randomNonce(),
  };
  const url = client.buildAuthorizationUrl(conf, {
    redirect_uri: oidcRedirectUri(config),
    scope: 'openid email profile',
    code_challenge: await client.calculatePKCECodeChallenge(attempt.verifier),
    code_challenge_method: 'S256',
    state: attempt.state,
    nonce: attempt.nonce,
  });
  return { url: url.href, attempt };
}

/** The verified email of the person the provider sent back, or why not. */
export async function finishOidc(
  config: OidcConfig,
  callbackUrl: URL,
  attempt: OidcAttempt,
): Promise<{ email: string } | { error: string }> {
  const conf = await configuration(config);
  try {
    const tokens = await client.authorizationCodeGrant(conf, callbackUrl, {
      pkceCodeVerifier: attempt.verifier,
      expectedState: attempt.state,
      expectedNonce: attempt.nonce,
    });
    const idToken = tokens.claims();
    if (!idToken) return { error: 'The identity provider gave no ID token' };
    // Many providers put the email in the UserInfo answer only (the ID token proves the subject).
    const claims =
      typeof idToken.email === 'string'
        ? idToken
        : await client.fetchUserInfo(conf, tokens.access_token, idToken.sub);
    if (typeof claims.email !== 'string') return { error: 'The identity provider gave no email' };
    if (claims.email_verified === false)
      return { error: 'The identity provider has not verified this email' };
    return { email: claims.email };
  } catch (error) {
    return { error: `The identity provider’s answer was refused: ${(error as Error).message}` };
  }
}
