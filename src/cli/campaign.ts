import { parseArgs } from 'node:util';
import { SingleBar } from 'cli-progress';
import { pino } from 'pino';
import { dispatchTransition } from '../campaigns/dispatch-transition.js';
import { campaignProgress, launchCampaign } from '../campaigns/lifecycle.js';
import { findCampaign } from '../campaigns/store.js';
import { loadConfig } from '../config.js';
import { createSql } from '../db/sql.js';
import { createRedis } from '../queue/connection.js';
import { createBullDispatcher } from '../queue/dispatcher.js';
import { UsageError } from './usage-error.js';

const HELP = `Usage:
  offerflow campaign launch ID [--watch]   launch a draft (workers must be running: offerflow worker)
  offerflow campaign status ID [--watch]   progress of a campaign
`;

/** `offerflow campaign launch|status ID [--watch]`: --watch shows a progress bar until it is sent. */
export async function campaign(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: { watch: { type: 'boolean' } },
  });
  const [action, rawId] = positionals;
  const id = Number(rawId);
  if (!['launch', 'status'].includes(action ?? '') || !Number.isInteger(id) || id <= 0)
    throw new UsageError(HELP);
  const config = loadConfig();
  const sql = createSql(config.DATABASE_URL, { max: 2 });
  const redis = createRedis(config.REDIS_URL);
  const jobs = createBullDispatcher(redis);
  try {
    if (action === 'launch') {
      const deps = { sql, config, logger: pino({ level: 'silent' }), redis, jobs, clock: () => new Date() };
      const result = await launchCampaign(sql, id, deps.clock());
      await dispatchTransition(deps, result);
      process.stdout.write(
        `campaign ${id} is ${result.campaign.status} (template version ${result.campaign.template_version})\n`,
      );
    }
    const row = await findCampaign(sql, id);
    if (!row) throw new UsageError(`no campaign ${id}`);
    if (!values.watch) {
      process.stdout.write(
        `${JSON.stringify({ status: row.status, ...(await campaignProgress(sql, row)) }, null, 2)}\n`,
      );
      return 0;
    }
    const bar = new SingleBar({
      format: 'campaign {id} {status} [{bar}] {value}/{total} | {rate}/s | failed {failed}',
    });
    bar.start(1, 0, { id, status: row.status, rate: 0, failed: 0 });
    for (;;) {
      const current = await findCampaign(sql, id);
      if (!current) break;
      const p = await campaignProgress(sql, current);
      bar.setTotal(Math.max(1, p.total - (p.counts.suppressed ?? 0) - (p.counts.cancelled ?? 0)));
      bar.update((p.counts.sent ?? 0) + (p.counts.failed ?? 0), {
        status: current.status,
        rate: p.rate_per_second.toFixed(0),
        failed: p.counts.failed ?? 0,
      });
      if (['sent', 'cancelled', 'draft'].includes(current.status)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    bar.stop();
    return 0;
  } finally {
    await jobs.close();
    redis.disconnect();
    await sql.end({ timeout: 5 });
  }
}
