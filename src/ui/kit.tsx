import type { Context } from 'hono';
import type { Child, PropsWithChildren } from 'hono/jsx';
import type { FieldError } from '../http/problem.js';
import type { Role } from '../http/roles.js';
import type { UiEnv } from './env.js';
import { isCurrent, NAV } from './nav.js';

export const can = (role: Role | undefined, roles: readonly Role[]) =>
  role !== undefined && (role === 'admin' || roles.includes(role));

interface ShellProps {
  title: string;
  role?: Role | undefined;
  user?: string | undefined;
  csrf?: string | undefined;
  scripts?: string[];
  path?: string;
  /** A person's session (not a key's): the name links to their account page. */
  account?: boolean;
}

/** The page shell: one readable column, light or dark following the system, nav by role. */
export function Shell(props: PropsWithChildren<ShellProps>) {
  const headers = props.csrf ? JSON.stringify({ 'X-CSRF-Token': props.csrf }) : undefined;
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <meta name="theme-color" content="#2454d6" />
        <title>{`${props.title} · Offerflow`}</title>
        <link rel="stylesheet" href="/ui/static/app.css" />
        <link rel="manifest" href="/ui/manifest.webmanifest" />
        <link rel="icon" href="/ui/static/icon.svg" type="image/svg+xml" />
        <script src="/ui/vendor/htmx.js" defer></script>
        <script src="/ui/static/app.js" defer></script>
        {(props.scripts ?? []).map((src) => (
          <script src={src} defer></script>
        ))}
      </head>
      <body hx-headers={headers} data-csrf={props.csrf}>
        <a class="skip" href="#main">
          Skip to the content
        </a>
        <header class="top">
          <a class="brand" href="/ui">
            Offerflow
          </a>
          {props.role && (
            <button
              type="button"
              class="menu-toggle secondary"
              aria-expanded="false"
              aria-controls="site-nav"
              data-menu-toggle
            >
              Menu
            </button>
          )}
          {props.role && (
            <div class="menu" id="site-nav">
              <nav aria-label="Main">
                {NAV.filter((n) => can(props.role, n.roles)).map((n) => (
                  <a href={n.href} aria-current={isCurrent(n.href, props.path) ? 'page' : undefined}>
                    {n.label}
                  </a>
                ))}
              </nav>
              <form method="post" action="/ui/logout" class="signout">
                <input type="hidden" name="_csrf" value={props.csrf} />
                {props.account ? (
                  <a class="who" href="/ui/account">
                    {props.user} · {props.role}
                  </a>
                ) : (
                  <span class="who">
                    {props.user} · {props.role}
                  </span>
                )}
                <button type="submit" class="link">
                  Sign out
                </button>
              </form>
            </div>
          )}
        </header>
        <main id="main" tabindex={-1}>
          {props.children}
        </main>
        <div id="offline" class="offline" hidden>
          Offline: notes are kept and sent when the connection returns.
        </div>
      </body>
    </html>
  );
}

/** Renders a full page for the signed-in user. */
export function page(
  c: Context<UiEnv>,
  title: string,
  body: Child,
  options: { status?: number; scripts?: string[] } = {},
) {
  const auth = c.var.auth;
  return c.html(
    <Shell
      title={title}
      role={auth?.role}
      user={auth?.name}
      csrf={c.var.csrf}
      path={c.req.path}
      account={auth?.userId !== undefined}
      {...(options.scripts ? { scripts: options.scripts } : {})}
    >
      {body}
    </Shell>,
    (options.status ?? 200) as 200,
  );
}

export type Errors = FieldError[];

/** The errors that belong to a form field: its own path or anything below it. */
export function errorsFor(errors: Errors | undefined, name: string): string[] {
  return (errors ?? [])
    .filter((e) => e.path === name || e.path.startsWith(`${name}.`))
    .map((e) => {
      const where = e.line ? `line ${e.line}${e.column ? `, column ${e.column}` : ''}: ` : '';
      const sub = e.path !== name ? `${e.path.slice(name.length + 1)}: ` : '';
      return `${where}${sub}${e.message}`;
    });
}

/** Errors no field of the form shows, listed at its top. */
export function FormErrors(props: {
  errors?: Errors | undefined;
  fields: string[];
  detail?: string | undefined;
}) {
  const loose = (props.errors ?? []).filter(
    (e) => !props.fields.some((f) => e.path === f || e.path.startsWith(`${f}.`)),
  );
  if (loose.length === 0 && !props.detail) return null;
  return (
    <div class="alert" role="alert">
      {props.detail && <p>{props.detail}</p>}
      {loose.length > 0 && (
        <ul>
          {loose.map((e) => (
            <li>
              {e.path ? <code>{e.path}</code> : null} {e.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

interface FieldProps {
  name: string;
  label: string;
  value?: string | number | null | undefined;
  errors?: Errors | undefined;
  type?: string;
  hint?: string;
  required?: boolean;
  textarea?: boolean;
  rows?: number;
  options?: Array<{ value: string; label: string }>;
  attrs?: Record<string, string | number | boolean | undefined>;
}

/** A labelled input; with errors it is marked aria-invalid and says why. */
export function Field(props: FieldProps) {
  const messages = errorsFor(props.errors, props.name);
  const invalid = messages.length > 0;
  const id = `f-${props.name.replace(/[^\w-]/g, '-')}`;
  const common = {
    id,
    name: props.name,
    'aria-invalid': invalid ? 'true' : undefined,
    'aria-describedby': invalid ? `${id}-err` : undefined,
    required: props.required,
    ...props.attrs,
  };
  const value = props.value === null || props.value === undefined ? '' : String(props.value);
  let control: Child;
  if (props.textarea)
    control = (
      <textarea {...common} rows={props.rows ?? 6}>
        {value}
      </textarea>
    );
  else if (props.options)
    control = (
      <select {...common}>
        {props.options.map((o) => (
          <option value={o.value} selected={o.value === value}>
            {o.label}
          </option>
        ))}
      </select>
    );
  else control = <input {...common} type={props.type ?? 'text'} value={value} />;
  return (
    <div class={invalid ? 'field invalid' : 'field'}>
      <label for={id}>{props.label}</label>
      {control}
      {props.hint && <small class="hint">{props.hint}</small>}
      {invalid && (
        <small class="error" id={`${id}-err`}>
          {messages.join('; ')}
        </small>
      )}
    </div>
  );
}

/** The head of a list page: its title and, when the user may create one, a "New …" button. */
export function ListHead(props: { title: string; newHref: string; newLabel: string; canCreate: boolean }) {
  return (
    <div class="head">
      <h1>{props.title}</h1>
      {props.canCreate && (
        <a class="button" href={props.newHref}>
          {props.newLabel}
        </a>
      )}
    </div>
  );
}

export interface Column<T> {
  label: string;
  /** Right-aligned numbers. */
  num?: boolean;
  cell: (row: T) => Child;
}

/** A scrollable table: one header cell and one body cell per column, one row per item. */
export function Table<T>(props: {
  columns: Column<T>[];
  rows: T[];
  rowClass?: (row: T) => string | undefined;
}) {
  const numClass = (column: Column<T>) => (column.num ? 'num' : undefined);
  return (
    <div class="scroll">
      <table>
        <thead>
          <tr>
            {props.columns.map((column) => (
              <th class={numClass(column)}>{column.label}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row) => (
            <tr class={props.rowClass?.(row)}>
              {props.columns.map((column) => (
                <td class={numClass(column)}>{column.cell(row)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export const Csrf = (props: { token: string }) => <input type="hidden" name="_csrf" value={props.token} />;

export const fmtDate = (iso: string | null | undefined) =>
  iso ? new Date(iso).toISOString().replace('T', ' ').slice(0, 16) : '—';
/**
 * An instant as the server writes it (UTC), in a <time> element that app.js rewrites in the
 * viewer's own time zone.
 */
export const When = (props: { iso: string | null | undefined }) =>
  props.iso ? (
    <time datetime={props.iso} data-local>
      {fmtDate(props.iso)} UTC
    </time>
  ) : (
    '—'
  );
export const pct = (n: number | null | undefined) =>
  n === null || n === undefined ? '—' : `${(n * 100).toFixed(1)}%`;
export const money = (n: number | null | undefined) =>
  n === null || n === undefined
    ? '—'
    : n.toLocaleString('en-GB', { maximumFractionDigits: 2, minimumFractionDigits: 2 });

/** A form field's string, trimmed; undefined when empty. */
export function str(form: Record<string, unknown>, name: string): string | undefined {
  const v = form[name];
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  return t === '' ? undefined : t;
}

/** A numeric form field: a number when it parses, else the raw text (so the API names the field). */
export function num(form: Record<string, unknown>, name: string): number | string | undefined {
  const v = str(form, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : v;
}

/** An optional JSON form field: null when empty, else the parsed value (or an error pushed on `errors`). */
export function optionalJsonField(
  form: Record<string, unknown>,
  name: string,
  errors: FieldError[],
): unknown {
  const raw = str(form, name);
  if (raw === undefined) return null;
  try {
    return JSON.parse(raw);
  } catch (error) {
    errors.push({ path: name, message: `not valid JSON: ${(error as Error).message}` });
    return undefined;
  }
}

/** A labelled checkbox (sent as `on` when ticked); with errors it says why. */
export function Checkbox(props: {
  name: string;
  label: Child;
  checked: boolean;
  errors?: Errors | undefined;
}) {
  const messages = errorsFor(props.errors, props.name);
  return (
    <div class={messages.length ? 'field invalid' : 'field'}>
      <label class="check">
        <input
          type="checkbox"
          name={props.name}
          value="on"
          checked={props.checked}
          aria-invalid={messages.length ? 'true' : undefined}
        />
        {props.label}
      </label>
      {messages.length > 0 && <small class="error">{messages.join('; ')}</small>}
    </div>
  );
}

/** A JSON form field: the parsed value, or a field error for the caller to show. */
export function jsonField(
  form: Record<string, unknown>,
  name: string,
): { value?: unknown; error?: FieldError } {
  const raw = str(form, name);
  if (raw === undefined) return { error: { path: name, message: 'required' } };
  try {
    return { value: JSON.parse(raw) };
  } catch (error) {
    return { error: { path: name, message: `not valid JSON: ${(error as Error).message}` } };
  }
}

/** A form's submit button, or for a role that may only read, a line saying so (no dead Save). */
export function SaveButton(props: { label: string; readOnly?: boolean | undefined }) {
  if (props.readOnly)
    return (
      <p class="muted" data-read-only>
        Your role may read this, not change it.
      </p>
    );
  return <button type="submit">{props.label}</button>;
}
