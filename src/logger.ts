import { type Logger, pino } from 'pino';

/** JSON logs to standard output; personal data (emails, names, notes) is never logged by design. */
export function createLogger(level: string = 'info', name = 'offerflow'): Logger {
  return pino({
    name,
    level,
    base: { pid: process.pid },
    redact: { paths: ['req.headers.authorization', '*.email', '*.first_name', '*.last_name'], remove: true },
  });
}
