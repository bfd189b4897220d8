import { type Logger, pino } from 'pino';

type LogObject = Record<string, unknown> & { level?: number };

/**
 * JSON log lines on the Workers console (Workers Logs / `wrangler tail` index them). The bundler
 * picks pino's browser build (package.json `browser`), which has no worker threads or
 * streams; this is the same Logger type, redaction and levels as `src/logger.ts` on Node.
 */
export function createEdgeLogger(level: string = 'info', name = 'offerflow-edge'): Logger {
  return pino({
    name,
    level,
    redact: { paths: ['req.headers.authorization', '*.email', '*.first_name', '*.last_name'], remove: true },
    serializers: { err: pino.stdSerializers.err },
    browser: {
      serialize: true,
      write: (record: object) => {
        const line = JSON.stringify({ name, ...(record as LogObject) });
        const value = (record as LogObject).level ?? 30;
        if (value >= 50) console.error(line);
        else if (value >= 40) console.warn(line);
        else console.log(line);
      },
    },
  });
}
