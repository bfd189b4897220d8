import { writeFile } from 'node:fs/promises';

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  baseline: string;
  baseline_value: number;
  /** value / baseline_value, oriented so that higher is better for Offerflow (1 = as fast as the baseline). */
  ratio: number;
  target?: number;
  notes?: Record<string, number | string>;
}

export interface Bench {
  name: string;
  run(): Promise<BenchResult[]>;
}

export function formatResult(r: BenchResult): string {
  const target = r.target !== undefined ? ` (target ≥ ${r.target})` : '';
  const notes = r.notes
    ? ` [${Object.entries(r.notes)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}]`
    : '';
  return `${r.name}: ${round(r.value)} ${r.unit}, ratio ${r.ratio.toFixed(2)} vs ${r.baseline} (${round(r.baseline_value)} ${r.unit})${target}${notes}`;
}

export const round = (n: number) => (Math.abs(n) >= 100 ? Math.round(n) : Math.round(n * 100) / 100);

export async function writeResults(path: string, results: BenchResult[]): Promise<void> {
  await writeFile(path, `${JSON.stringify(results, null, 2)}\n`);
}

/** Times an async function once, in seconds. */
export async function time(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return (performance.now() - started) / 1000;
}
