import { createHash, timingSafeEqual } from 'node:crypto';
import { isCustomerId } from '@pipeline/contract';
import { Checked, accept, reject } from './rejection';

/** One gateway credential as configured: the SHA-256 of its token, never the token itself. */
export interface GatewayToken {
  /** Shown in logs and metrics instead of the token. */
  name: string;
  sha256: Buffer;
  /** The customers this token may send for, or `*`: any (said explicitly, never by omission). */
  customers: ReadonlySet<string> | '*';
}

/**
 * A token's scope as configured: `*` or customer ids separated by `|`. There is no default: a
 * token that says nothing about its customers is a configuration error, not a key to all of them.
 */
export function parseTokenScope(name: string, scope: string | undefined): ReadonlySet<string> | '*' {
  if (scope === undefined || scope === '') throw new Error(`token ${name} names no customers: add @customer|customer, or @* for every customer`);
  if (scope === '*') return '*';
  const customers = scope.split('|');
  for (const c of customers) if (!isCustomerId(c)) throw new Error(`token ${name}: not a customer id: ${JSON.stringify(c)}`);
  return new Set(customers);
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/**
 * Parses `GATEWAY_TOKENS`: entries separated by whitespace, commas or semicolons, each
 * `name=<sha256 hex of the token>@<scope>`, the scope `customer|customer` or `*`, e.g.
 * `edge-eu=3f5a…@cus-axon|cus-beta edge-us=9c1b…@*`. Several tokens may be active at once, which is
 * how one is rotated without a failed request: add the new one, move the gateways, remove the old.
 */
export function parseGatewayTokens(text: string): GatewayToken[] {
  const tokens: GatewayToken[] = [];
  // A tokens file may carry comments.
  const uncommented = text.replace(/#[^\n]*/g, ' ');
  for (const entry of uncommented.split(/[\s,;]+/).filter(Boolean)) {
    const m = /^([A-Za-z0-9._-]{1,64})=([0-9a-fA-F]{64})(?:@(.+))?$/.exec(entry);
    if (!m) throw new Error(`not name=<sha256 hex>@<customer|customer or *>: ${JSON.stringify(entry.slice(0, 80))}`);
    const customers = parseTokenScope(m[1], m[3]);
    if (tokens.some((t) => t.name === m[1])) throw new Error(`token name ${m[1]} used twice`);
    tokens.push({ name: m[1], sha256: Buffer.from(m[2], 'hex'), customers });
  }
  return tokens;
}

/** A token given in clear (local stacks, compose) with its scope: kept only as its hash. */
export function gatewayTokenFromSecret(name: string, secret: string, scope: string | undefined): GatewayToken {
  return { name, sha256: sha256(secret), customers: parseTokenScope(name, scope) };
}

/** Hex SHA-256 of a token: what `GATEWAY_TOKENS` holds. */
export function gatewayTokenHash(secret: string): string {
  return sha256(secret).toString('hex');
}

/**
 * Who is calling: the gateway whose token the `Authorization: Bearer` header carries. Checked
 * before anything of the request body is read. The presented token is hashed and compared with
 * every configured hash in constant time (no early exit, no comparison of the token itself), so
 * neither timing nor logs reveal a token.
 */
export class GatewayAuthenticator {
  private tokens: readonly GatewayToken[];

  constructor(tokens: readonly GatewayToken[]) {
    this.tokens = GatewayAuthenticator.checked(tokens);
  }

  /** Swaps the whole set at once (a reloaded tokens file): a request sees the old set or the new. */
  replace(tokens: readonly GatewayToken[]): void {
    this.tokens = GatewayAuthenticator.checked(tokens);
  }

  /** The names of the tokens in force (never the tokens). */
  get names(): string[] {
    return this.tokens.map((t) => t.name);
  }

  private static checked(tokens: readonly GatewayToken[]): readonly GatewayToken[] {
    if (tokens.length === 0) throw new Error('no gateway token configured');
    return [...tokens];
  }

  authenticate(authorization: string | string[] | undefined): Checked<GatewayToken> {
    if (authorization === undefined || authorization === '') return reject(401, 'unauthorized', 'An Authorization: Bearer <gateway token> header is required.');
    const m = typeof authorization === 'string' ? /^Bearer +([\x21-\x7e]{1,512})$/i.exec(authorization.trim()) : null;
    if (!m) return reject(401, 'unauthorized', 'Authorization must be "Bearer <gateway token>".');
    const presented = sha256(m[1]);
    let found: GatewayToken | undefined;
    for (const t of this.tokens) if (timingSafeEqual(presented, t.sha256) && !found) found = t;
    return found ? accept(found) : reject(401, 'unauthorized', 'The gateway token is not valid.');
  }

  /** Whether the token may send batches of `customerId` (403 otherwise). */
  authorize(token: GatewayToken, customerId: string): Checked<GatewayToken> {
    if (token.customers === '*' || token.customers.has(customerId)) return accept(token);
    return reject(403, 'forbidden_customer', `This gateway token may not send batches for customer ${customerId}.`);
  }
}
