/** What a template sees; every field may be missing (it then renders empty). */
export interface RenderData {
  customer?: Record<string, unknown> | null;
  offers?: RenderOffer[] | null;
  unsubscribe_url?: string | null;
  preferences_url?: string | null;
  campaign?: { name?: string | null; [key: string]: unknown } | null;
  [key: string]: unknown;
}

export interface RenderOffer {
  offer_id?: number | null;
  title?: string | null;
  text?: string | null;
  image_url?: string | null;
  /** Already tracked (signed click link) by the caller. */
  url?: string | null;
  code?: string | null;
  [key: string]: unknown;
}

/** Bounds on the data a render sees, so that no input can make a render unbounded. */
export const DATA_LIMITS = {
  maxOffers: 20,
  maxArray: 100,
  maxKeys: 200,
  maxDepth: 6,
  maxString: 10_000,
};

/**
 * A bounded copy of the render data made only of plain data: strings cut, arrays and objects
 * capped, depth limited, functions and class instances dropped, dates as ISO strings
 * (a date at midnight UTC, how PostgreSQL `date` columns arrive, as `YYYY-MM-DD`).
 */
export function boundData(data: RenderData): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  if (data === null || typeof data !== 'object') return root;
  const keys = Object.keys(data);
  const n = Math.min(keys.length, DATA_LIMITS.maxKeys);
  for (let i = 0; i < n; i++) {
    const key = keys[i] as string;
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') continue;
    const value = data[key];
    // Most data is already plain and small: share it rather than copy it (renders never write).
    root[key] = isBounded(value, 1) ? value : copy(value, 1);
  }
  if (Array.isArray(root.offers) && root.offers.length > DATA_LIMITS.maxOffers)
    root.offers = root.offers.slice(0, DATA_LIMITS.maxOffers);
  return root;
}

/** Whether copy() would return an equal value: plain data within every limit. */
function isBounded(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
      return value.length <= DATA_LIMITS.maxString;
    case 'number':
    case 'boolean':
    case 'undefined':
      return true;
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (depth >= DATA_LIMITS.maxDepth) return false;
  if (Array.isArray(value)) {
    if (value.length > DATA_LIMITS.maxArray || Object.getPrototypeOf(value) !== Array.prototype) return false;
    for (let i = 0; i < value.length; i++) if (!isBounded(value[i], depth + 1)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  let n = 0;
  // for-in also yields inherited enumerable keys (a polluted Object.prototype): they are checked
  // like own ones, and Handlebars never reads inherited properties anyway.
  for (const key in value) {
    if (++n > DATA_LIMITS.maxKeys) return false;
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') return false;
    if (!isBounded((value as Record<string, unknown>)[key], depth + 1)) return false;
  }
  return true;
}

function copy(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
      return value.length > DATA_LIMITS.maxString ? value.slice(0, DATA_LIMITS.maxString) : value;
    case 'number':
    case 'boolean':
      return value;
    case 'bigint':
      return Number(value);
    case 'object':
      break;
    default:
      return undefined;
  }
  if (value === null) return null;
  if (value instanceof Date) return dateValue(value);
  if (depth >= DATA_LIMITS.maxDepth) return undefined;
  if (Array.isArray(value)) {
    const n = Math.min(value.length, DATA_LIMITS.maxArray);
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) out[i] = copy(value[i], depth + 1);
    return out;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return undefined;
  const out: Record<string, unknown> = {};
  const keys = Object.keys(value);
  const n = Math.min(keys.length, DATA_LIMITS.maxKeys);
  for (let i = 0; i < n; i++) {
    const key = keys[i] as string;
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') continue;
    out[key] = copy((value as Record<string, unknown>)[key], depth + 1);
  }
  return out;
}

function dateValue(date: Date): string | undefined {
  const time = date.getTime();
  if (Number.isNaN(time)) return undefined;
  const iso = date.toISOString();
  return time % 86_400_000 === 0 ? iso.slice(0, 10) : iso;
}
