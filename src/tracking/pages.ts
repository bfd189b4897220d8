import { html } from 'hono/html';
import type { Preferences } from './unsubscribe.js';

// Minimal server-rendered pages for the links in every mail; hono/html escapes every value.

const layout = (title: string, body: unknown) => html`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta name="robots" content="noindex" />
    <title>${title}</title>
    <style>
      body { font-family: system-ui, sans-serif; max-width: 32rem; margin: 3rem auto; padding: 0 1rem; color: #222; }
      button { font-size: 1rem; padding: .5rem 1rem; }
      label { display: block; margin: .4rem 0; }
    </style>
  </head>
  <body>
    ${body}
  </body>
</html>`;

/** GET /u/{token}: asks before doing anything, since link scanners fetch every link. */
export const confirmPage = (action: string, preferencesUrl: string) =>
  layout(
    'Unsubscribe',
    html`<h1>Unsubscribe</h1>
      <p>Do you want to stop receiving marketing email from us?</p>
      <form method="post" action="${action}">
        <input type="hidden" name="List-Unsubscribe" value="One-Click" />
        <button type="submit">Unsubscribe</button>
      </form>
      <p>Or <a href="${preferencesUrl}">choose which topics you receive</a>.</p>`,
  );

export const donePage = () =>
  layout(
    'Unsubscribed',
    html`<h1>You are unsubscribed</h1>
      <p>You will not receive marketing email from us any more.</p>`,
  );

export const notFoundPage = () =>
  layout('Link not valid', html`<h1>This link is not valid</h1><p>It may have been mistyped or expired.</p>`);

export const preferencesPage = (
  action: string,
  prefs: Preferences,
  saved: boolean,
  confirmationMailed = false,
) =>
  layout(
    'Email preferences',
    html`<h1>Email preferences</h1>
      ${saved ? html`<p role="status">Your choices are saved.</p>` : ''}
      ${
        confirmationMailed
          ? html`<p role="status">To receive marketing email again, confirm it from the link we just mailed you.</p>`
          : ''
      }
      <form method="post" action="${action}">
        <label><input type="checkbox" name="subscribed" value="on" ${prefs.subscribed ? 'checked' : ''} />
          Receive marketing email</label>
        ${
          prefs.topics.length
            ? html`<fieldset>
                <legend>Topics</legend>
                ${prefs.topics.map(
                  (t) =>
                    html`<label><input type="checkbox" name="topic" value="${t.name}" ${t.chosen ? 'checked' : ''} />
                      ${t.name}</label>`,
                )}
              </fieldset>`
            : ''
        }
        <button type="submit">Save</button>
      </form>`,
  );

/** A preference link past PREFERENCE_LINK_DAYS: unsubscribing still works from it. */
export const expiredPreferencesPage = (unsubscribeUrl: string) =>
  layout(
    'Link expired',
    html`<h1>This preferences link has expired</h1>
      <p>Open the preferences link in a more recent email from us. You can still
        <a href="${unsubscribeUrl}">unsubscribe</a> from this one.</p>`,
  );

/** GET /opt-in/{token}: the confirmation is a POST, so that link scanners confirm nothing. */
export const optInPage = (action: string) =>
  layout(
    'Confirm your subscription',
    html`<h1>Confirm your subscription</h1>
      <p>Do you want to receive our offers by email? You can unsubscribe from any of them.</p>
      <form method="post" action="${action}">
        <button type="submit">Yes, subscribe me</button>
      </form>`,
  );

export const optInDonePage = (outcome: 'confirmed' | 'already') =>
  layout(
    'Subscribed',
    html`<h1>${outcome === 'confirmed' ? 'Thank you, you are subscribed' : 'You had already confirmed'}</h1>`,
  );

export const optInExpiredPage = () =>
  layout(
    'Link expired',
    html`<h1>This confirmation link has expired</h1><p>Subscribe again to get a new one.</p>`,
  );
