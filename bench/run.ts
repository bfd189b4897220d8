import { fileURLToPath } from 'node:url';
import { ensureLocalServices } from '../src/dev/local-services.js';
import { type Bench, type BenchResult, formatResult, writeResults } from './harness.js';

// Every benchmark module in bench/ registers here; `npm run bench -- NAME` runs only those whose
// name contains NAME.
const BENCHES: Array<() => Promise<{ default: Bench }>> = [
  () => import('./customers-upsert.js'),
  () => import('./offers-decide.js'),
  () => import('./tracking.js'),
  () => import('./tracking-processes.js'),
  () => import('./reports.js'),
  () => import('./reports-partitioned.js'),
  () => import('./segments-sql.js'),
  () => import('./rules-eval.js'),
  () => import('./templates-render.js'),
  () => import('./ui-pages.js'),
  () => import('./campaign-e2e.js'),
  () => import('./imports.js'),
  () => import('./trigger-latency.js'),
  () => import('./events.js'),
  () => import('./scale.js'),
  () => import('./webhooks.js'),
  () => import('./recommendations.js'),
  () => import('./journeys.js'),
];

await ensureLocalServices();
const filter = process.argv[2];
const results: BenchResult[] = [];
for (const load of BENCHES) {
  const bench = (await load()).default;
  if (filter && !bench.name.includes(filter)) continue;
  process.stderr.write(`running ${bench.name}…\n`);
  for (const result of await bench.run()) {
    results.push(result);
    process.stdout.write(`${formatResult(result)}\n`);
  }
}
await writeResults(fileURLToPath(new URL('./results.json', import.meta.url)), results);
process.exit(0);
