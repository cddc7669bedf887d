import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import type { Send } from '../scenarios';

export interface Answer {
  status: number;
  body: string;
  /** Seconds from the Retry-After header, when present. */
  retryAfter?: number;
  ms: number;
}

/**
 * The gateway token every request of this run carries: E2E_GATEWAY_TOKEN, or one made up for the
 * run (native and containers modes configure the services they start with it; against an
 * external stack it must be set to the stack's token).
 */
export function gatewayToken(env: NodeJS.ProcessEnv = process.env): string {
  env.E2E_GATEWAY_TOKEN ||= `e2e-${randomBytes(24).toString('base64url')}`;
  return env.E2E_GATEWAY_TOKEN;
}

/** A keep-alive HTTP/1.1 client for POST /logs, sized for `concurrency` requests in flight. */
export class IngestClient {
  private readonly agent: Agent;

  constructor(
    concurrency: number,
    private readonly timeoutMs = 30_000,
    private readonly token = gatewayToken(),
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
  }

  post(baseUrl: string, send: Send): Promise<Answer> {
    const started = performance.now();
    const url = new URL('/logs', baseUrl);
    const headers: Record<string, string | number> = {
      'content-type': send.contentType,
      'content-length': send.body.length,
      'x-customer-id': send.customerId,
      authorization: `Bearer ${this.token}`,
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
