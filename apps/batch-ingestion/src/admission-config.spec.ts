import { ConfigError } from '@pipeline/platform';
import { loadIngestionConfig } from './config';
import { admissionFromConfig } from './service';

const MiB = 1024 * 1024;
const config = (env: Record<string, string> = {}) => loadIngestionConfig({ S3_ACCESS_KEY_ID: 'k', S3_SECRET_ACCESS_KEY: 's', GATEWAY_TOKEN: 'a-gateway-token-0123456789', ...env });

describe('the admission the ingestion is configured with', () => {
  it('gives every customer the defaults and a quarter of the in-flight budget, and named customers their own', () => {
    const a = admissionFromConfig(config({ CUSTOMER_LIMITS: 'cus-big:bps=64MiB,inflight=32MiB' }));
    expect(a.limitsOf('cus-any')).toEqual({ requests: { perSecond: 2_000, burst: 4_000 }, bytes: { perSecond: 8 * MiB, burst: 16 * MiB }, bytesInFlight: 16 * MiB });
    expect(a.limitsOf('cus-big')).toEqual({ requests: { perSecond: 2_000, burst: 4_000 }, bytes: { perSecond: 64 * MiB, burst: 128 * MiB }, bytesInFlight: 32 * MiB });
    expect(admissionFromConfig(config({ INGESTION_MAX_BYTES_IN_FLIGHT: String(4 * MiB) })).limitsOf('cus-any').bytesInFlight).toBe(2 * MiB);
  });

  it.each([
    ['malformed customer limits', { CUSTOMER_LIMITS: 'cus-a:speed=1' }, /CUSTOMER_LIMITS: cus-a: "speed=1"/],
    ['a customer share above the instance budget', { CUSTOMER_LIMITS: 'cus-a:inflight=128MiB' }, /CUSTOMER_LIMITS: cus-a: a share of in-flight bytes above INGESTION_MAX_BYTES_IN_FLIGHT/],
    ['a default share below one batch', { INGESTION_MAX_BYTES_IN_FLIGHT_PER_CUSTOMER: String(MiB) }, /INGESTION_MAX_BYTES_IN_FLIGHT_PER_CUSTOMER: must be at least/],
    ['a default share above the instance budget', { INGESTION_MAX_BYTES_IN_FLIGHT_PER_CUSTOMER: String(128 * MiB) }, /INGESTION_MAX_BYTES_IN_FLIGHT_PER_CUSTOMER: a share/],
  ])('refuses to start with %s, naming the variable', (_label, env, message) => {
    let error: unknown;
    try {
      admissionFromConfig(config(env));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
  });
});
