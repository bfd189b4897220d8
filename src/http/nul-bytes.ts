import type { FieldError } from './problem.js';

/**
 * PostgreSQL cannot store U+0000 in text (error 22021) nor in jsonb (22P05), so a NUL anywhere
 * in a request would fail deep inside a query. Input is checked for it at the edge instead:
 * every string and every object key, at any depth, each named by its path.
 */
export function nulByteErrors(value: unknown, location?: string, prefix = '', max = 20): FieldError[] {
  // Almost every request has none: look without building paths first (about half the cost).
  if (!hasNul(value)) return [];
  const errors: FieldError[] = [];
  const fail = (path: string) =>
    errors.push({ path, message: 'must not contain NUL (U+0000)', ...(location ? { in: location } : {}) });
  // Iterative: bodies may nest thousands deep (the body limit bounds how much there is).
  const stack: Array<[unknown, string]> = [[value, prefix]];
  while (stack.length > 0 && errors.length < max) {
    const [v, path] = stack.pop() as [unknown, string];
    if (typeof v === 'string') {
      if (v.includes('\u0000')) fail(path);
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], join(path, String(i))]);
    } else if (v !== null && typeof v === 'object') {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i] as string;
        if (key.includes('\u0000')) fail(join(path, key));
        else stack.push([(v as Record<string, unknown>)[key], join(path, key)]);
      }
    }
  }
  return errors;
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

function hasNul(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return true;
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push(v[i]);
    } else if (v !== null && typeof v === 'object') {
      for (const key in v) {
        if (!Object.hasOwn(v, key)) continue;
        if (key.includes('\u0000')) return true;
        stack.push((v as Record<string, unknown>)[key]);
      }
    }
  }
  return false;
}
