import pino, { Logger } from 'pino';

/**
 * One JSON line per event, with the service name on every line so mixed logs stay readable.
 * Lines are written in chunks, not one system call each (a request writes one or two lines, and
 * a socket or pipe write costs as much as the rest of the request's work): at most about 8 KiB
 * or 200 ms wait in memory, and what waits is flushed when the process exits; only a SIGKILL
 * loses the last ones. LOG_SYNC=true writes every line as it comes.
 */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info', destination?: pino.DestinationStream): Logger {
  const sync = process.env.LOG_SYNC === 'true';
  return pino(
    {
      level,
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // No code logs a credential on purpose; this keeps a careless `{ headers }` or a client's
      // error object from doing it by accident.
      redact: { paths: REDACTED, censor: '[redacted]' },
    },
    destination ?? pino.destination(sync ? { dest: 1, sync: true } : { dest: 1, sync: false, minLength: 8192, periodicFlush: 200 }),
  );
}

const SECRET_FIELDS = ['authorization', 'password', 'secretAccessKey', 'token', 'sasl'];
const REDACTED = SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]);

export type { Logger };
