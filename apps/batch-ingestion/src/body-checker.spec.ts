import { BodyChecker } from './body-checker';

const body = Buffer.from(JSON.stringify([{ receivedAt: '2025-12-28T18:03:07.123Z', method: 'GET', path: '/', userAgent: 'curl/8.5.0' }]));

describe('BodyChecker', () => {
  it('checks every body on the event loop when the thread is turned off', async () => {
    const checker = new BodyChecker({ threadBytes: 0 });
    expect(checker.placeOf(Buffer.alloc(2 * 1024 * 1024))).toBe('inline');
    expect(await checker.check(body)).toMatchObject({ ok: true, value: { entries: 1 } });
    await checker.close();
  });

  it('refuses to start without the thread code it was told to use, saying how to build it or turn it off', () => {
    expect(() => new BodyChecker({ threadBytes: 1024, workerFile: '/nonexistent/body-check.worker.js' })).toThrow(/build the app, or set INGESTION_BODY_THREAD_BYTES=0/);
  });
});
