import { GatewayAuthenticator, GatewayToken, parseGatewayTokens } from '@pipeline/batch';
import { errorMessage, Logger, Source } from '@pipeline/platform';
import { readFileSync, statSync } from 'node:fs';

/** The tokens of a GATEWAY_TOKENS_FILE, read now (a missing or malformed file stops the start). */
export function readTokensFile(path: string): GatewayToken[] {
  return parseGatewayTokens(readFileSync(path, 'utf8'));
}

/**
 * Keeps the authenticator in step with GATEWAY_TOKENS_FILE: the file is checked every few seconds
 * and, when it changed, the whole set of tokens is swapped at once. Rotating a token is then an
 * edit of the file (add the new one, move the gateways over, remove the old one), with no restart
 * and no failed request. A file that no longer parses, or would leave no token, is ignored (the
 * tokens in force stay) and reported.
 */
export class GatewayTokensFile implements Source {
  readonly name = 'gateway-tokens';
  private timer?: NodeJS.Timeout;
  private seen: string;

  constructor(
    private readonly path: string,
    private readonly auth: GatewayAuthenticator,
    private readonly fixed: GatewayToken[],
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {
    this.seen = this.stamp();
  }

  start(): void {
    this.timer = setInterval(() => this.check(), this.intervalMs);
    this.timer.unref();
  }

  async drain(): Promise<void> {
    clearInterval(this.timer);
  }

  private stamp(): string {
    try {
      const s = statSync(this.path);
      return `${s.mtimeMs}:${s.size}:${s.ino}`;
    } catch {
      return 'missing';
    }
  }

  private check(): void {
    const stamp = this.stamp();
    if (stamp === this.seen) return;
    this.seen = stamp;
    try {
      this.auth.replace([...this.fixed, ...readTokensFile(this.path)]);
      this.logger.info({ file: this.path, tokens: this.auth.names }, 'gateway tokens reloaded');
    } catch (err) {
      this.logger.error({ file: this.path, err: errorMessage(err) }, 'gateway tokens file not usable; the tokens in force stay');
    }
  }
}
