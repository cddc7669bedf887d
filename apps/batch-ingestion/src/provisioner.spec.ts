import pino from 'pino';
import { Provisioner } from './provisioner';

const logger = pino({ level: 'silent' });

describe('Provisioner', () => {
  it('retries until provisioning succeeds, then reports done', async () => {
    let attempts = 0;
    const p = new Provisioner(
      async () => {
        attempts++;
        if (attempts < 3) throw new Error('S3 down');
      },
      logger,
      { baseMs: 1, maxMs: 5 },
    );
    expect(p.done).toBe(false);
    await p.start();
    expect(attempts).toBe(3);
    expect(p.done).toBe(true);
  });

  it('stops retrying once stopped, and is never done', async () => {
    let attempts = 0;
    const p = new Provisioner(
      async () => {
        attempts++;
        if (attempts === 2) p.stop();
        throw new Error('Kafka down');
      },
      logger,
      { baseMs: 1, maxMs: 5 },
    );
    await p.start();
    expect(attempts).toBe(2);
    expect(p.done).toBe(false);
  });
});
