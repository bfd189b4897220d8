import { ConfigError } from './config.js';

type Command = (args: string[]) => Promise<number | undefined>;

// Each command lives in its own module, loaded only when used so that `offerflow keys` does not
// load MJML or BullMQ.
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  serve: {
    summary: 'serve the HTTP API, tracking and UI',
    load: async () => (await import('./cli/serve.js')).serve,
  },
  migrate: {
    summary: 'apply pending database migrations',
    load: async () => (await import('./cli/migrate.js')).migrate,
  },
  keys: {
    summary: 'create, list or revoke API keys',
    load: async () => (await import('./cli/keys.js')).keys,
  },
  users: {
    summary: 'people who sign in to the web UI: users create --email E --role admin prints a sign-in link',
    load: async () => (await import('./cli/users.js')).users,
  },
  worker: {
    summary:
      'run queue workers: planner, sender, reconciler, trigger, import, retention (all when none is named)',
    load: async () => (await import('./cli/queue-workers.js')).worker,
  },
  senders: {
    summary: 'sender identities: list, create, and the SPF/DKIM/DMARC records to publish (senders dns ID)',
    load: async () => (await import('./cli/senders.js')).senders,
  },
  campaign: {
    summary: 'launch a campaign or watch its progress (campaign launch ID --watch)',
    load: async () => (await import('./cli/campaign.js')).campaign,
  },
  import: {
    summary: 'import customers or purchases from a CSV file (import purchases FILE.csv)',
    load: async () => (await import('./cli/import.js')).importCommand,
  },
  inbound: {
    summary: 'receive bounces (VERP DSNs) and mailto unsubscribes over SMTP for BOUNCE_DOMAIN',
    load: async () => (await import('./cli/inbound.js')).inbound,
  },
  partitions: {
    summary: 'monthly partitions of the contact history: list, ensure, detach --before YYYY-MM',
    load: async () => (await import('./cli/partitions.js')).partitions,
  },
  sink: {
    summary: 'a local SMTP server keeping every mail as an .eml file (for trying things by hand)',
    load: async () => (await import('./cli/sink.js')).sink,
  },
  demo: {
    summary: 'run a whole campaign on a sample shop, end to end, on local services',
    load: async () => (await import('./cli/demo.js')).demo,
  },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `Usage: offerflow COMMAND [options]\n\nCommands:\n${lines.join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage());
    return name ? 0 : 1;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`offerflow: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  return (await (await command.load())(rest)) ?? 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ConfigError || (error instanceof Error && error.name === 'UsageError')) {
      process.stderr.write(`offerflow: ${error.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(
        `offerflow: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 1;
    }
  },
);
