import { Command, InvalidArgumentError, Option } from 'commander';
import { isCustomerId } from '@pipeline/contract';
import { DEFAULT_RETRY } from '@pipeline/ingestion-client';
import { FORMATS, Format } from '@pipeline/log-files';
import { errorMessage } from '@pipeline/platform';
import { send } from './send';

const positive = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${what} must be a positive integer`);
  return n;
};

const program = new Command('send')
  .description(
    'Send access-log entries to batch-ingestion (POST /logs): NDJSON, a JSON array, or a "combined" access log ' +
      '(nginx, Apache). Entries are checked as the ingestion checks them, packed into gzip batches under 2 MiB ' +
      'and sent with idempotency keys made of their content and position: sending the same input again counts nothing twice.',
  )
  .requiredOption('--customer <id>', 'customer id the entries belong to (x-customer-id)', (v) => {
    if (!isCustomerId(v)) throw new InvalidArgumentError('1-64 characters of [A-Za-z0-9._-]');
    return v;
  })
  .option('--file <path>', 'input file; - (or no --file) reads standard input', '-')
  .addOption(new Option('--format <format>', 'input format (default: detected from the first line)').choices(FORMATS))
  .option('--url <url>', 'batch-ingestion base URL (env INGESTION_URL)', process.env.INGESTION_URL || 'http://127.0.0.1:8080')
  .option('--token <token>', 'gateway token (env GATEWAY_TOKEN; prefer the variable: arguments are visible to other users)')
  .option('--concurrency <n>', 'batches in flight', positive('--concurrency'), 2)
  .option('--max-attempts <n>', 'attempts per batch on 503, 429, 5xx and connection errors', positive('--max-attempts'), DEFAULT_RETRY.maxAttempts)
  .option('--max-retry-delay <seconds>', 'longest wait between two attempts, also when Retry-After asks for more', positive('--max-retry-delay'), DEFAULT_RETRY.maxDelayMs / 1000)
  .option('--timeout <seconds>', 'bound on one request', positive('--timeout'), 30)
  .option('--progress-interval <seconds>', 'period of the progress lines when stderr is not a terminal', positive('--progress-interval'), 5)
  .option('--dry-run', 'read, check and batch the input, send nothing', false)
  .addHelpText(
    'after',
    '\nExit status: 0 when every batch was accepted or was already there (lines refused locally are listed, not fatal);\n' +
      '1 when a batch was refused or could not be delivered; 2 for a usage or input error.',
  )
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

async function main(): Promise<number> {
  program.parse();
  const opts = program.opts<{
    customer: string;
    file: string;
    format?: Format;
    url: string;
    token?: string;
    concurrency: number;
    maxAttempts: number;
    maxRetryDelay: number;
    timeout: number;
    progressInterval: number;
    dryRun: boolean;
  }>();
  const token = opts.token ?? process.env.GATEWAY_TOKEN;
  if (!token && !opts.dryRun) {
    process.stderr.write('send: a gateway token is required: --token or GATEWAY_TOKEN (docs/security.md)\n');
    return 2;
  }
  if (opts.file === '-' && process.stdin.isTTY) {
    process.stderr.write('send: no input: give --file <path> or pipe the entries into standard input\n');
    return 2;
  }
  // Ctrl-C stops reading; batches in flight finish, and the summary says what was sent. Sending
  // the same input again later is safe: what was sent is answered as a duplicate.
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  const report = await send(
    {
      customerId: opts.customer,
      file: opts.file,
      format: opts.format,
      url: opts.url,
      token: token ?? '',
      concurrency: opts.concurrency,
      retry: { ...DEFAULT_RETRY, maxAttempts: opts.maxAttempts, maxDelayMs: opts.maxRetryDelay * 1000 },
      timeoutMs: opts.timeout * 1000,
      progressIntervalMs: opts.progressInterval * 1000,
      dryRun: opts.dryRun,
    },
    { stdin: process.stdin, stderr: process.stderr, signal: abort.signal },
  );
  process.stdout.write(`${opts.dryRun ? '(dry run: nothing was sent)\n' : ''}${report.format(100, opts.dryRun ? 'prepared' : 'sent')}\n`);
  if (abort.signal.aborted) {
    process.stdout.write('interrupted: the rest of the input was not read\n');
    return 130;
  }
  return report.exitCode();
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`send: ${errorMessage(err)}\n`);
    process.exit(2);
  },
);
