import { S3ObjectStore, s3SettingsFromEnv } from './s3-object-store';
import { testS3Env, uniqueName } from '@pipeline/testing';

const store = S3ObjectStore.fromSettings(s3SettingsFromEnv(testS3Env(uniqueName('it-s3'))));

afterAll(() => store.destroy());

describe('S3ObjectStore against MinIO', () => {
  beforeAll(async () => {
    await store.ensureBucket();
    await store.ensureBucket(); // idempotent
  });

  it('creates once, then reports the key as taken and keeps the first content', async () => {
    const key = 'raw/cus-a/batch-1.json';
    expect(await store.putIfAbsent(key, Buffer.from('first'), { sha256: 'aaa' })).toEqual({ status: 'created' });
    expect(await store.putIfAbsent(key, Buffer.from('second'), { sha256: 'bbb' })).toEqual({ status: 'exists' });
    const stored = await store.get(key);
    expect(stored?.body.toString()).toBe('first');
    expect(stored?.metadata.sha256).toBe('aaa');
    expect(await store.head(key)).toEqual(expect.objectContaining({ sha256: 'aaa' }));
  });

  it('lets exactly one of 10 concurrent conditional writes of one key win', async () => {
    const key = 'raw/cus-a/race.json';
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.putIfAbsent(key, Buffer.from(`writer-${i}`), { sha256: String(i) })),
    );
    const winners = outcomes.map((o, i) => (o.status === 'created' ? i : -1)).filter((i) => i >= 0);
    expect(winners).toHaveLength(1);
    expect((await store.get(key))?.body.toString()).toBe(`writer-${winners[0]}`);
  });

  it('answers null for a missing key', async () => {
    expect(await store.get('raw/cus-a/missing.json')).toBeNull();
    expect(await store.head('raw/cus-a/missing.json')).toBeNull();
  });
});
