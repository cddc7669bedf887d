import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { errorMessage } from '@pipeline/platform';
import { Delivery, interpretAnswer } from './answer';

const gzipAsync = promisify(gzip);

export interface IngestionClientSettings {
  /** Base URL of batch-ingestion, e.g. http://127.0.0.1:8080. */
  url: string;
  /** Gateway token, sent as `Authorization: Bearer`. */
  token: string;
  /** Bound on one request, answer included. */
  timeoutMs: number;
}

export interface BatchToSend {
  customerId: string;
  idempotencyKey: string;
  /** The JSON array, uncompressed (the 2 MiB limit applies to these bytes). */
  body: Uint8Array;
}

/**
 * A client of `POST /logs` as a gateway uses it: gzip bodies, the batch id as idempotency key,
 * every answer (and every failure to get one) turned into a Delivery.
 */
export class IngestionClient {
  private readonly endpoint: URL;

  constructor(private readonly settings: IngestionClientSettings) {
    this.endpoint = new URL('/logs', settings.url);
  }

  async post(batch: BatchToSend): Promise<Delivery> {
    const body = await gzipAsync(batch.body);
    let res: Response;
    let text: string;
    try {
      res = await fetch(this.endpoint, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${this.settings.token}`,
          'content-type': 'application/json',
          'content-encoding': 'gzip',
          'x-customer-id': batch.customerId,
          'idempotency-key': batch.idempotencyKey,
        },
        body,
        signal: AbortSignal.timeout(this.settings.timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      // No answer (refused, reset, timed out): the batch may or may not have been stored, and a
      // retry with the same key settles it either way.
      return { kind: 'retry', reason: `no answer from ${this.endpoint.origin}: ${describeFetchError(err)}` };
    }
    return interpretAnswer(res.status, res.headers.get('retry-after'), text);
  }
}

/** fetch hides the socket error (ECONNREFUSED, ECONNRESET) in `cause`. */
function describeFetchError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  return errorMessage(err);
}
