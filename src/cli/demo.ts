import { loadConfig } from '../config.js';
import { runDemo } from '../demo/run.js';
import { ensureLocalServices } from '../dev/local-services.js';

/** `offerflow demo`: the whole product on embedded defaults (see src/demo/run.ts). */
export async function demo(_args: string[]): Promise<number> {
  const started = Date.now();
  await ensureLocalServices(process.env, (line) => process.stderr.write(`${line}\n`));
  const result = await runDemo({ config: loadConfig(), progress: process.stdout.isTTY === true });
  process.stdout.write(
    `\nDemo finished in ${Math.round((Date.now() - started) / 1000)} s (campaign ${result.campaignId}).\n`,
  );
  return result.sent > 0 ? 0 : 1;
}
