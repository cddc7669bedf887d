import { backoffDelay, retryUntilStopped } from './resilience';

describe('retryUntilStopped', () => {
  it('retries until the call succeeds', async () => {
    let calls = 0;
    const result = await retryUntilStopped(
      async () => {
        calls++;
        if (calls < 3) throw new Error('down');
        return 'up';
      },
      { shouldStop: () => false, baseMs: 1, maxMs: 2 },
    );
    expect(result).toBe('up');
    expect(calls).toBe(3);
  });

  it('gives up with the last error once the caller stops', async () => {
    let stop = false;
    const attempt = retryUntilStopped(
      async () => {
        stop = true;
        throw new Error('still down');
      },
      { shouldStop: () => stop, baseMs: 1 },
    );
    await expect(attempt).rejects.toThrow('still down');
  });

  it('keeps delays within the cap', () => {
    for (let attempt = 0; attempt < 40; attempt++) {
      const delay = backoffDelay(attempt, 100, 1_000);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(1_000);
    }
  });
});
