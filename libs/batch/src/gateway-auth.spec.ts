import { GatewayAuthenticator, gatewayTokenFromSecret, gatewayTokenHash, parseGatewayTokens } from './gateway-auth';
import { RateLimiter } from './rate-limit';

describe('gateway tokens', () => {
  it('parses names, hashes and customer scopes, never needing the token itself', () => {
    const h = gatewayTokenHash('secret-one-0123456789');
    const [a, b] = parseGatewayTokens(`edge-eu=${h}@cus-a|cus-b;  edge-us=${'f'.repeat(64)}@*`);
    expect([a.name, a.sha256.toString('hex'), [...(a.customers as Set<string>)]]).toEqual(['edge-eu', h, ['cus-a', 'cus-b']]);
    expect([b.name, b.customers]).toEqual(['edge-us', '*']);
  });

  it('refuses a token that names no customers: every customer must be said with *', () => {
    expect(() => parseGatewayTokens(`edge=${'a'.repeat(64)}`)).toThrow(/names no customers: add @customer\|customer, or @\* for every customer/);
    expect(() => parseGatewayTokens(`edge=${'a'.repeat(64)}@`)).toThrow();
    expect(() => gatewayTokenFromSecret('default', 'token-0123456789', undefined)).toThrow(/names no customers/);
    expect(gatewayTokenFromSecret('default', 'token-0123456789', '*').customers).toBe('*');
  });

  it.each([
    ['a token instead of its hash', 'edge=secret-one-0123456789'],
    ['a short hash', `edge=${'a'.repeat(63)}`],
    ['a bad customer', `edge=${'a'.repeat(64)}@../x`],
    ['a name twice', `edge=${'a'.repeat(64)} edge=${'b'.repeat(64)}`],
  ])('refuses %s', (_label, text) => {
    expect(() => parseGatewayTokens(text)).toThrow();
  });

  it('authenticates by hash, in any order of configuration, and reports which gateway called', () => {
    const auth = new GatewayAuthenticator([...parseGatewayTokens(`old=${gatewayTokenHash('old-token-0123456789')}@*`), gatewayTokenFromSecret('new', 'new-token-0123456789', '*')]);
    const who = (header: string | undefined) => {
      const r = auth.authenticate(header);
      return r.ok ? r.value.name : `${r.rejection.status}`;
    };
    expect([who('Bearer old-token-0123456789'), who('Bearer new-token-0123456789'), who('bearer new-token-0123456789')]).toEqual(['old', 'new', 'new']);
    expect([who(undefined), who(''), who('Bearer'), who('Token new-token-0123456789'), who('Bearer other'), who('Bearer new-token-0123456789 extra')]).toEqual(['401', '401', '401', '401', '401', '401']);
  });

  it('refuses to run without any token', () => {
    expect(() => new GatewayAuthenticator([])).toThrow(/no gateway token/);
  });
});

describe('RateLimiter', () => {
  it('allows the burst, then the rate, per key, and says how long to wait', () => {
    let now = 0;
    const limiter = new RateLimiter({ perSecond: 2, burst: 3 }, () => now);
    expect([1, 2, 3, 4].map(() => limiter.take('a').ok)).toEqual([true, true, true, false]);
    expect(limiter.take('a')).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(limiter.take('b').ok).toBe(true);
    now += 500;
    expect([limiter.take('a').ok, limiter.take('a').ok]).toEqual([true, false]);
  });
});
