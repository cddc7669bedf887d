import { Agent, request } from 'node:http';
import type { Send } from '../scenarios';

export interface Answer {
  status: number;
  body: string;
  /** Seconds from the Retry-After header, when present. */
  retryAfter?: number;
  ms: number;
}

/** A keep-alive HTTP/1.1 client for POST /logs, sized for `concurrency` requests in flight. */
export class IngestClient {
  private readonly agent: Agent;

  constructor(concurrency: number, private readonly timeoutMs = 30_000) {
    this.agent = new Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
  }

  post(baseUrl: string, send: Send): Promise<Answer> {
    const started = performance.now();
    const url = new URL('/logs', baseUrl);
    const headers: Record<string, string | number> = {
      'content-type': send.contentType,
      'content-length': send.body.length,
      'x-customer-id': send.customerId,
    };
    if (send.idempotencyKey !== undefined) headers['idempotency-key'] = send.idempotencyKey;
    if (send.contentEncoding) headers['content-encoding'] = send.contentEncoding;
    return new Promise((resolve, reject) => {
      const req = request(url, { method: 'POST', agent: this.agent, headers, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const retryAfter = Number(res.headers['retry-after']);
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            retryAfter: Number.isFinite(retryAfter) ? retryAfter : undefined,
            ms: performance.now() - started,
          });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(send.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
