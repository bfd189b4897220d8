import { type ChildProcess, spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { loadConfig } from '../src/config.js';
import { messageLinks } from '../src/tracking/links.js';
import { type Bench, type BenchResult, withScratchDatabase } from './harness.js';

// Tracking throughput: autocannon (in this process) against /t/o and /t/c of the whole app,
// served by a child process over a database of 10,000 sent messages with distinct tokens per
// request, and against a bare Hono hello-world served the same way, in the same run. 20 s per
// target at full size (BENCH_SCALE shortens). After each tracking run the server is stopped,
// which flushes its event buffer, and every answered request must have its event stored (and
// no more than the requests still in flight when autocannon stopped).
//
// Then the same two with unique tokens: every request a message no cache has seen (a token
// check, a message lookup in PostgreSQL), as a real campaign's pixels mostly are; each unique
// run takes its own messages, enough for its length (`tokens_repeated` says if they ran out).
//
// The hello-world runs before and after the tracking runs and the baseline is their mean, so a
// machine that gets busier or quieter during the bench does not favour either side. The notes
// give the server's CPU time per request, the cache hit rates (the 10,000 tokens repeat many
// times in a run, so the token and message caches are warm after the first pass: a real
// campaign's pixels repeat less), and the load average while it ran.
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const SECONDS = Math.max(3, Math.round(20 * SCALE));
const MESSAGES = 10_000;
/**
 * Messages per unique-token run: more than a run answers (answered ahead of the message read,
 * unique tokens reach over 10,000 requests a second on 2 cores).
 */
const UNIQUE_MESSAGES = Math.max(20_000, Math.round(250_000 * SCALE));
const CONNECTIONS = 50;
const UA =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';

interface Server {
  child: ChildProcess;
  port: number;
  /** The `STATS` line the server prints when it stops. */
  stats: Promise<Record<string, number>>;
}

async function startServer(mode: 'hello' | 'app', databaseUrl = ''): Promise<Server> {
  const script = fileURLToPath(new URL('./tracking-server.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, mode, databaseUrl], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  const stats = new Promise<Record<string, number>>((resolve) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /STATS (\{.*\})\n/.exec(output);
      if (match) resolve(JSON.parse(match[1]!));
    });
    child.once('exit', () => resolve({}));
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.on('data', () => {
      const match = /PORT (\d+)/.exec(output);
      if (match) resolve(Number(match[1]));
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { child, port, stats };
}

async function stopServer(server: Server): Promise<Record<string, number>> {
  const exited = new Promise<void>((resolve) => server.child.once('exit', () => resolve()));
  server.child.kill('SIGTERM');
  await exited;
  return server.stats;
}

const ratio = (hits: number | undefined, misses: number | undefined) =>
  hits === undefined || misses === undefined ? 'n/a' : (hits / Math.max(1, hits + misses)).toFixed(3);

interface Load {
  rps: number;
  answered: number;
  errors: number;
  bad: number;
  /** Paths asked for (the first `used` of the list, wrapping round past its end). */
  used: number;
}

async function load(port: number, paths: string[]): Promise<Load> {
  let i = 0;
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: SECONDS,
    headers: { 'user-agent': UA },
    requests: [{ setupRequest: (req) => ({ ...req, path: paths[i++ % paths.length]! }) }],
  });
  const answered = result['2xx'] + result['3xx'];
  return {
    rps: result.requests.average,
    answered,
    errors: result.errors + result.timeouts,
    bad: result['4xx'] + result['5xx'],
    used: i,
  };
}

const bench: Bench = {
  name: 'tracking',
  async run(): Promise<BenchResult[]> {
    return withScratchDatabase('tracking', 4, async (sql, url) => {
      const config = loadConfig();
      const [campaign] = await sql<{ id: number }[]>`
        insert into campaigns (name, status) values ('bench', 'sent') returning id`;
      const campaignId = campaign!.id;
      await sql`
        insert into customers (external_id, email)
        select 't' || i, 't' || i || '@example.com' from generate_series(1, ${MESSAGES}) as i`;
      await sql`
        insert into customers (external_id, email)
        select 'u' || i, 'u' || i || '@example.com' from generate_series(1, ${2 * UNIQUE_MESSAGES}) as i`;
      const messages = await sql<{ id: number; url: string }[]>`
        insert into messages (campaign_id, customer_id, status, sent_at, links)
        select ${campaignId}, id, 'sent', now() - interval '1 day',
               jsonb_build_object('16', jsonb_build_object('url', 'https://shop.example/p/' || id, 'offer_id', null))
        from customers order by id
        returning id, links -> '16' ->> 'url' as url`;
      const ids = messages.map((m) => m.id);
      const urls = new Map(messages.map((m) => [m.id, m.url]));
      const linksOf = (slice: number[]) => {
        const opens: string[] = [];
        const clicks: string[] = [];
        for (const id of slice) {
          const links = messageLinks('', config.OFFERFLOW_SECRET, id);
          opens.push(links.openPixelUrl);
          // Signed with its target, as the sender signs every offer and product link.
          clicks.push(links.offerUrl(0, urls.get(id)));
        }
        return { opens, clicks };
      };
      const repeated = ids.slice(0, MESSAGES);
      const uniqueOpened = ids.slice(MESSAGES, MESSAGES + UNIQUE_MESSAGES);
      const uniqueClicked = ids.slice(MESSAGES + UNIQUE_MESSAGES);
      const { opens, clicks } = linksOf(repeated);

      const helloRun = async () => {
        const hello = await startServer('hello');
        const run = await load(hello.port, ['/']);
        const stats = await stopServer(hello);
        return { ...run, cpuUs: ((stats.cpu_ms ?? 0) * 1000) / Math.max(1, run.answered) };
      };
      const loadBefore = loadavg()[0]!;
      const before = await helloRun();
      const runs: Array<{
        kind: string;
        label: string;
        ids: number[];
        unique: boolean;
        run: Load;
        stats: Record<string, number>;
      }> = [];
      for (const [kind, paths, label, runIds, unique] of [
        ['opened', opens, 'tracking open pixel /t/o', repeated, false],
        ['clicked', clicks, 'tracking click redirect /t/c', repeated, false],
        [
          'opened',
          linksOf(uniqueOpened).opens,
          'tracking open pixel /t/o, unique tokens',
          uniqueOpened,
          true,
        ],
        [
          'clicked',
          linksOf(uniqueClicked).clicks,
          'tracking click redirect /t/c, unique tokens',
          uniqueClicked,
          true,
        ],
      ] as const) {
        const server = await startServer('app', url);
        const run = await load(server.port, paths);
        runs.push({ kind, label, ids: runIds, unique, run, stats: await stopServer(server) });
      }
      const after = await helloRun();
      const loadAfter = loadavg()[0]!;
      const baseline = (before.rps + after.rps) / 2;

      const results: BenchResult[] = [];
      for (const { kind, label, ids: runIds, unique, run, stats } of runs) {
        const [counted] = await sql<{ stored: number }[]>`
          select count(*)::int as stored from contact_events
          where kind = ${kind} and message_id = any(${runIds}::bigint[])`;
        const stored = counted!.stored;
        results.push({
          name: label,
          value: run.rps,
          unit: 'req/s',
          baseline: 'bare Hono hello-world (mean of a run before and after)',
          baseline_value: baseline,
          ratio: run.rps / baseline,
          target: 0.5,
          notes: {
            seconds: SECONDS,
            connections: CONNECTIONS,
            answered: run.answered,
            stored,
            // Requests still in flight when autocannon stops are served and stored but not
            // counted: at most one per connection.
            all_stored: stored >= run.answered && stored <= run.answered + CONNECTIONS ? 'yes' : 'NO',
            errors: run.errors,
            non_2xx_3xx: run.bad,
            hello_before: Math.round(before.rps),
            hello_after: Math.round(after.rps),
            server_us_per_req: Math.round(((stats.cpu_ms ?? 0) * 1000) / Math.max(1, run.answered)),
            hello_server_us_per_req: Math.round((before.cpuUs + after.cpuUs) / 2),
            // PostgreSQL statements per answered request, flushes included (when counted).
            ...(stats.statements === undefined
              ? {}
              : { statements_per_req: (stats.statements / Math.max(1, run.answered)).toFixed(4) }),
            ...(unique ? { tokens_repeated: Math.max(0, run.used - runIds.length) } : {}),
            token_hit_rate: ratio(stats.token_hits, stats.token_misses),
            message_hit_rate: ratio(stats.message_hits, stats.message_misses),
            loadavg_1m: `${loadBefore.toFixed(1)}→${loadAfter.toFixed(1)}`,
          },
        });
      }
      return results;
    });
  },
};

export default bench;
