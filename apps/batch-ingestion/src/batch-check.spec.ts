import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BatchHeaders, MAX_BATCH_BYTES, prepareBatch } from '@pipeline/batch';
import { bundleEntry, REPO_ROOT } from '@pipeline/testing';
import { ThreadChecker } from './batch-check';


const headers: BatchHeaders = { customerId: 'cus-axon', idempotencyKey: 'b-1', contentEncoding: 'identity' };
const entry = (i: number, over: Record<string, unknown> = {}) => ({ receivedAt: '2025-12-28T18:03:07.123Z', method: 'GET', path: `/p/${i}`, userAgent: 'curl/8.5.0', ...over });
const body = (entries: unknown[]) => Buffer.from(JSON.stringify(entries));
const many = (n: number, over?: (i: number) => Record<string, unknown>) => body(Array.from({ length: n }, (_, i) => entry(i, over?.(i))));

describe('ThreadChecker', () => {
  let dir: string;
  let worker: string;
  const open: ThreadChecker[] = [];
  const checker = (options: Partial<ConstructorParameters<typeof ThreadChecker>[0]> = {}) => {
    const c = new ThreadChecker({ filename: worker, threads: 1, minBytes: 1024, niceIncrement: 5, ...options });
    open.push(c);
    return c;
  };

  beforeAll(async () => {
    mkdirSync(join(REPO_ROOT, 'dist'), { recursive: true });
    dir = mkdtempSync(join(REPO_ROOT, 'dist', 'batch-check-'));
    worker = join(dir, 'batch-check.worker.js');
    // Bundled as the build bundles it, beside the workspace's node_modules.
    await bundleEntry(join(__dirname, 'batch-check.worker.ts'), worker);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gives a large batch the same identity, digest and count on a thread as on the event loop, and keeps its body', async () => {
    const raw = many(5_000);
    const onThread = await checker().check(headers, raw);
    expect(onThread).toEqual(prepareBatch(headers, raw));
    expect(onThread.ok && onThread.value.body).toBe(raw);
    expect(onThread.ok && onThread.value.entries).toBe(5_000);
  });

  it('refuses a large batch with the same answer on a thread as on the event loop', async () => {
    const raw = many(5_000, (i) => (i % 1_000 === 7 ? { method: 'BREW', receivedAt: 'yesterday' } : {}));
    const onThread = await checker().check(headers, raw);
    expect(onThread.ok).toBe(false);
    expect(onThread).toEqual(prepareBatch(headers, raw));
    expect(!onThread.ok && onThread.rejection.code).toBe('invalid_entries');
  });

  it('checks small bodies on the event loop, and a large one there too when its thread cannot run, telling why', async () => {
    const errors: unknown[] = [];
    const broken = checker({ filename: join(dir, 'no-such-worker.js'), onThreadError: (err) => errors.push(err) });
    const small = body([entry(1)]);
    expect(broken.placeOf(small.byteLength)).toBe('inline');
    expect(await broken.check(headers, small)).toEqual(prepareBatch(headers, small));
    expect(errors).toEqual([]);
    const large = many(100);
    expect(broken.placeOf(large.byteLength)).toBe('thread');
    expect(await broken.check(headers, large)).toEqual(prepareBatch(headers, large));
    expect(errors.length).toBeGreaterThan(0);
  });

  it('runs its threads below the event loop by the niceness asked', async () => {
    expect(await checker({ niceIncrement: 7 }).niceness()).toBe(7);
  });

  it('fits the worst body the door lets in, 2 MiB of the smallest entries, in its thread memory', async () => {
    const smallest = JSON.stringify({ receivedAt: '2025-12-28T18:03:07Z', method: 'GET', path: '/', userAgent: '' });
    const raw = Buffer.from(`[${Array.from({ length: Math.floor((MAX_BATCH_BYTES - 2) / (smallest.length + 1)) }, () => smallest).join(',')}]`);
    expect(raw.byteLength).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    const errors: unknown[] = [];
    const c = checker({ onThreadError: (err) => errors.push(err) });
    // Several in a row: memory left over from one check must not make the next one fail.
    for (let i = 0; i < 4; i++) {
      const checked = await c.check(headers, raw);
      expect(checked.ok && checked.value.entries).toBeGreaterThan(20_000);
    }
    // Checked on the thread each time, not on the event loop after the thread ran out of memory.
    expect(errors).toEqual([]);
  });
});
