import type { FieldError } from '../../http/problem.js';
import type { CodePool } from '../api-types.js';
import { Csrf, type Errors, Field, FormErrors, num, str } from '../kit.js';

// An offer's pool of unique codes on its page: how many are left (and a warning when few are),
// and the two ways to fill it, both through POST /v1/offers/{id}/codes: a file or list of the
// shop's own codes, or a pool generated from a pattern.

/** What a refused codes form comes back with. */
export interface CodesState {
  mode: 'upload' | 'generate';
  values: Record<string, unknown>;
  errors?: FieldError[] | undefined;
  detail?: string | undefined;
  status: number;
}

const GENERATE_FIELDS = ['count', 'pattern', 'low_at'];
const UPLOAD_FIELDS = ['codes', 'file'];
/** A codes file's header cell, skipped when it opens the file. */
const HEADER = /^(codes?|coupon(_code)?)$/i;

/**
 * Codes from a pasted list and an uploaded file: one per line (the first cell of a CSV row,
 * unquoted), blanks and a header line left out.
 */
export function codesFromText(text: string): string[] {
  const codes: string[] = [];
  for (const [i, line] of text.split(/\r?\n/).entries()) {
    const cell = (line.split(/[,;\t]/)[0] ?? '').trim().replace(/^"(.*)"$/, '$1');
    if (cell === '' || (i === 0 && HEADER.test(cell))) continue;
    codes.push(cell);
  }
  return codes;
}

/** The API body of a codes form, or the errors found before asking it. */
export async function codesBody(
  form: Record<string, unknown>,
  mode: CodesState['mode'],
): Promise<{ body?: Record<string, unknown>; errors?: FieldError[] }> {
  if (mode === 'generate') {
    const count = num(form, 'count');
    if (count === undefined)
      return { errors: [{ path: 'count', message: 'required: how many codes to make' }] };
    const pattern = str(form, 'pattern');
    const lowAt = num(form, 'low_at');
    return {
      body: {
        count,
        ...(pattern ? { pattern } : {}),
        ...(lowAt !== undefined ? { low_at: lowAt } : {}),
      },
    };
  }
  const file = form.file;
  const fileText =
    file && typeof file === 'object' && 'text' in file
      ? await (file as { text(): Promise<string> }).text()
      : '';
  // Each source on its own: a file's header is its own first line.
  const codes = [
    ...codesFromText(typeof form.codes === 'string' ? form.codes : ''),
    ...codesFromText(fileText),
  ];
  if (codes.length === 0)
    return {
      errors: [{ path: 'codes', message: 'give at least one code, one per line, or a file of them' }],
    };
  return { body: { codes } };
}

export function CodePoolCard(props: {
  offerId: number;
  pool: CodePool;
  csrf: string;
  canAdd: boolean;
  added?: number | undefined;
  state?: CodesState;
}) {
  const { pool, state } = props;
  const errors = (mode: CodesState['mode']): Errors | undefined =>
    state?.mode === mode ? state.errors : undefined;
  const value = (mode: CodesState['mode'], name: string) =>
    state?.mode === mode && typeof state.values[name] === 'string' ? (state.values[name] as string) : '';
  const action = `/ui/offers/${props.offerId}/codes`;
  return (
    <section class="card" id="codes" aria-labelledby="codes-h">
      <h2 id="codes-h">Unique codes</h2>
      {props.added !== undefined && (
        <p class="notice" role="status">
          {props.added.toLocaleString('en-GB')} codes added.
        </p>
      )}
      {pool.total === 0 ? (
        <p id="pool-count">
          No code pool: every mail shows the offer’s one code. Add codes to give each mail its own.
        </p>
      ) : (
        <p id="pool-count" class="big">
          <strong>{pool.available.toLocaleString('en-GB')}</strong> of {pool.total.toLocaleString('en-GB')}{' '}
          codes left
          <span class="muted small">
            {' '}
            · {pool.claimed.toLocaleString('en-GB')} sent · {pool.redeemed.toLocaleString('en-GB')} redeemed
          </span>
        </p>
      )}
      {pool.warnings.map((w) => (
        <p class="alert" id="pool-warning">
          {w.message.charAt(0).toUpperCase() + w.message.slice(1)}.
        </p>
      ))}
      {props.canAdd && (
        <div class="stack">
          <form method="post" action={action} class="stack" id="generate-codes-form" novalidate>
            <h3>Generate codes</h3>
            <Csrf token={props.csrf} />
            <input type="hidden" name="mode" value="generate" />
            <FormErrors
              errors={errors('generate')}
              fields={GENERATE_FIELDS}
              detail={state?.mode === 'generate' ? state.detail : undefined}
            />
            <Field
              name="count"
              label="How many"
              type="number"
              value={value('generate', 'count')}
              errors={errors('generate')}
              required
              attrs={{ min: 1, max: 100000 }}
            />
            <Field
              name="pattern"
              label="Pattern (optional)"
              value={value('generate', 'pattern')}
              errors={errors('generate')}
              hint="Each # is a random letter or digit, e.g. SPRING-####-####. Empty: 10 random characters."
              attrs={{ spellcheck: false, autocomplete: 'off' }}
            />
            <Field
              name="low_at"
              label="Warn when fewer are left than (optional)"
              type="number"
              value={value('generate', 'low_at')}
              errors={errors('generate')}
              hint="Empty: a tenth of the pool"
              attrs={{ min: 0 }}
            />
            <button type="submit">Generate codes</button>
          </form>
          <form
            method="post"
            action={action}
            class="stack"
            id="upload-codes-form"
            enctype="multipart/form-data"
            novalidate
          >
            <h3>Add your own codes</h3>
            <Csrf token={props.csrf} />
            <input type="hidden" name="mode" value="upload" />
            <FormErrors
              errors={errors('upload')}
              fields={UPLOAD_FIELDS}
              detail={state?.mode === 'upload' ? state.detail : undefined}
            />
            <Field
              name="codes"
              label="Codes, one per line"
              textarea
              rows={4}
              value={value('upload', 'codes')}
              errors={errors('upload')}
              attrs={{ class: 'code', spellcheck: false }}
            />
            <Field
              name="file"
              label="…or a file of them (text or CSV, first column)"
              type="file"
              errors={errors('upload')}
              attrs={{ accept: '.txt,.csv,text/plain,text/csv' }}
            />
            <button type="submit">Add codes</button>
          </form>
        </div>
      )}
    </section>
  );
}
