import fc from 'fast-check';
import { Admission, AdmissionSettings, CustomerLimits, parseCustomerLimits } from './admission';
import { MAX_BATCH_BYTES } from './body';

const MiB = 1024 * 1024;

const limits = (over: Partial<{ rps: number; burst: number; bps: number; bytesBurst: number; inflight: number }> = {}): CustomerLimits => ({
  requests: { perSecond: over.rps ?? 1_000, burst: over.burst ?? 1_000 },
  bytes: { perSecond: over.bps ?? 100 * MiB, burst: over.bytesBurst ?? 100 * MiB },
  bytesInFlight: over.inflight ?? 64 * MiB,
});

function door(settings: Partial<AdmissionSettings>) {
  let now = 0;
  const admission = new Admission(
    { customer: limits(), token: { perSecond: 1_000, burst: 1_000 }, maxBytesInFlight: 64 * MiB, busyRetryAfterSeconds: 2, ...settings },
    () => now,
  );
  const ask = (customerId: string, expectedBytes = 100, reserveBytes = expectedBytes, token = 'edge') => admission.admit({ token, customerId, expectedBytes, reserveBytes });
  const verdict = (r: ReturnType<typeof ask>) => (r.ok ? 'ok' : `${r.refusal.status} ${r.refusal.scope} ${r.refusal.limit} ${r.refusal.retryAfterSeconds}`);
  return { admission, ask, verdict, advance: (ms: number) => (now += ms) };
}

describe('Admission', () => {
  describe('while the pipeline is behind', () => {
    const behindDoor = () => {
      let behind = false;
      const d = door({ backlog: { isBehind: () => behind, bytes: { perSecond: 1 * MiB, burst: 2 * MiB } } });
      return { ...d, setBehind: (b: boolean) => (behind = b) };
    };

    it('holds a flooding customer to the byte rate while behind, leaves a small one alone, and lets the flood in again once caught up', () => {
      const { ask, verdict, advance, setBehind } = behindDoor();
      const send = (customer: string, bytes: number) => {
        const r = ask(customer, bytes);
        if (r.ok) r.pass.release();
        return verdict(r);
      };
      expect(send('cus-flood', MiB)).toBe('ok');
      expect(send('cus-quiet', 4_000)).toBe('ok');
      // Not behind: the flood's own limits (100 MiB/s) are all that count.
      for (let i = 0; i < 20; i++) expect(send('cus-flood', MiB)).toBe('ok');
      setBehind(true);
      // The bucket is full when falling behind begins: the burst passes, then 1 MiB a second.
      expect([send('cus-flood', MiB), send('cus-flood', MiB), send('cus-flood', MiB)]).toEqual(['ok', 'ok', '429 customer backlog 1']);
      for (let i = 0; i < 10; i++) {
        advance(100);
        expect(send('cus-quiet', 4_000)).toBe('ok');
      }
      expect(send('cus-flood', MiB)).toBe('ok');
      expect(send('cus-flood', MiB)).toBe('429 customer backlog 1');
      setBehind(false);
      expect([send('cus-flood', MiB), send('cus-flood', MiB), send('cus-flood', MiB)]).toEqual(['ok', 'ok', 'ok']);
    });

    it('charges the rate while behind with the body as read, not as declared', () => {
      const { ask, verdict, advance, setBehind } = behindDoor();
      const first = ask('cus-gzip', 100);
      if (first.ok) first.pass.release();
      setBehind(true);
      advance(5_000);
      const small = ask('cus-gzip', 100);
      expect(small.ok).toBe(true);
      if (small.ok) {
        // It inflated to 4 MiB: the 2 MiB burst is 2 MiB in debt, repaid at 1 MiB a second.
        small.pass.settle(4 * MiB);
        small.pass.release();
      }
      expect(verdict(ask('cus-gzip', 100))).toBe('429 customer backlog 3');
    });
  });

  it('refuses a customer over its request rate without charging the gateway token, so another customer on that token gets in', () => {
    const { ask, verdict } = door({ token: { perSecond: 1, burst: 10 }, perCustomer: new Map([['cus-a', limits({ rps: 1, burst: 2 })]]) });
    const flood = Array.from({ length: 20 }, () => verdict(ask('cus-a')));
    expect(flood.filter((v) => v === 'ok')).toHaveLength(2);
    expect(new Set(flood.slice(2))).toEqual(new Set(['429 customer requests 1']));
    // The token spent 2 of its 10 on A: B has the other 8, and only then is the token the limit.
    expect(Array.from({ length: 8 }, () => verdict(ask('cus-b')))).toEqual(Array(8).fill('ok'));
    expect(verdict(ask('cus-b'))).toBe('429 token requests 1');
  });

  it('charges the customer nothing for a request the token refuses', () => {
    const { ask, verdict, advance } = door({ token: { perSecond: 1, burst: 1 }, perCustomer: new Map([['cus-a', limits({ rps: 0.001, burst: 3 })]]) });
    expect([verdict(ask('cus-a')), verdict(ask('cus-a')), verdict(ask('cus-a'))]).toEqual(['ok', '429 token requests 1', '429 token requests 1']);
    advance(1_000);
    expect(verdict(ask('cus-a'))).toBe('ok');
    advance(1_000);
    expect(verdict(ask('cus-a'))).toBe('ok');
    advance(1_000);
    // Three admitted: the customer's burst, not five.
    expect(verdict(ask('cus-a'))).toMatch(/^429 customer requests/);
  });

  it('limits body bytes a second, and says how long until the next body fits', () => {
    const { ask, verdict, advance } = door({ customer: limits({ bps: 1_000, bytesBurst: 2_000 }) });
    expect(verdict(ask('cus-a', 1_500))).toBe('ok');
    expect(verdict(ask('cus-a', 1_500))).toBe('429 customer bytes 1');
    advance(999);
    expect(verdict(ask('cus-a', 1_500))).toBe('429 customer bytes 1');
    advance(1);
    expect(verdict(ask('cus-a', 1_500))).toBe('ok');
    // A body larger than the burst passes once the bucket is full, never before.
    expect(verdict(ask('cus-a', 5_000))).toBe('429 customer bytes 2');
    advance(2_000);
    expect(verdict(ask('cus-a', 5_000))).toBe('ok');
    expect(verdict(ask('cus-a', 1))).toBe('429 customer bytes 4');
    expect(verdict(ask('cus-b', 1_500))).toBe('ok');
  });

  it('charges a body of unknown size what it turns out to be: an inflating gzip flood runs into debt and waits it out', () => {
    const { ask, verdict, advance } = door({ customer: limits({ bps: MiB, bytesBurst: 2 * MiB, inflight: 8 * MiB }) });
    // Four gzip bodies at once, none with a declared size: admitted while the budget is not in debt, as many as the in-flight share holds.
    const passes = Array.from({ length: 5 }, () => ask('cus-a', 0, MAX_BATCH_BYTES));
    expect(passes.map(verdict)).toEqual(['ok', 'ok', 'ok', 'ok', '429 customer in_flight 1']);
    for (const p of passes) if (p.ok) p.pass.settle(MAX_BATCH_BYTES);
    for (const p of passes) if (p.ok) p.pass.release();
    // 8 MiB read against 2 MiB of budget: 6 MiB of debt at 1 MiB a second.
    expect(verdict(ask('cus-a', 0, MAX_BATCH_BYTES))).toBe('429 customer bytes 7');
    advance(6_000);
    expect(verdict(ask('cus-a', 0, MAX_BATCH_BYTES))).toBe('429 customer bytes 1');
    advance(1);
    expect(verdict(ask('cus-a', 0, MAX_BATCH_BYTES))).toBe('ok');
  });

  it('gives each customer a share of the in-flight budget, and answers 503 only when the instance itself is full', () => {
    const { admission, ask, verdict } = door({ customer: limits({ inflight: 4 * MiB }), maxBytesInFlight: 6 * MiB });
    const a = [ask('cus-a', 2 * MiB), ask('cus-a', 2 * MiB), ask('cus-a', 2 * MiB)];
    expect(a.map(verdict)).toEqual(['ok', 'ok', '429 customer in_flight 1']);
    const b1 = ask('cus-b', 2 * MiB);
    expect(verdict(b1)).toBe('ok');
    expect(admission.bytesInFlight).toBe(6 * MiB);
    expect(verdict(ask('cus-b', 2 * MiB))).toBe('503 instance in_flight 2');
    if (a[0].ok) {
      a[0].pass.release();
      a[0].pass.release();
    }
    expect(admission.bytesInFlight).toBe(4 * MiB);
    expect(verdict(ask('cus-b', 2 * MiB))).toBe('ok');
    // Alone, a request always fits, whatever it reserves.
    const lone = door({ maxBytesInFlight: MAX_BATCH_BYTES });
    expect([lone.verdict(lone.ask('cus-c', 0, MAX_BATCH_BYTES)), lone.verdict(lone.ask('cus-d', 0, 1))]).toEqual(['ok', '503 instance in_flight 2']);
  });

  it('applies a customer\'s own limits instead of the defaults', () => {
    const { ask, verdict } = door({ customer: limits({ rps: 1, burst: 1 }), perCustomer: new Map([['cus-big', limits({ rps: 1, burst: 5 })]]) });
    expect(Array.from({ length: 6 }, () => verdict(ask('cus-big'))).filter((v) => v === 'ok')).toHaveLength(5);
    expect(Array.from({ length: 6 }, () => verdict(ask('cus-small'))).filter((v) => v === 'ok')).toHaveLength(1);
  });

  it('forgets idle customers once many are tracked', () => {
    const { admission, ask, advance } = door({ token: { perSecond: 1, burst: 20_000 } });
    const busy = ask('cus-busy');
    for (let i = 0; i < 10_000; i++) {
      const r = ask(`cus-${i}`);
      if (r.ok) r.pass.release();
    }
    expect(admission.customersTracked).toBe(10_001);
    advance(10_000);
    ask('cus-late');
    // Only the customer with a request still in flight, and the newcomer.
    expect(admission.customersTracked).toBe(2);
    expect(busy.ok).toBe(true);
  });

  it('never lets a customer past its byte rate by more than its burst and its in-flight share, however the sizes were declared', () => {
    const rate = 10_000;
    const burst = 20_000;
    const inflight = 4 * MiB;
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ gapMs: fc.integer({ min: 0, max: 300 }), actual: fc.integer({ min: 1, max: MAX_BATCH_BYTES }), declared: fc.boolean(), finishAfter: fc.integer({ min: 0, max: 3 }) }),
          { minLength: 1, maxLength: 60 },
        ),
        (steps) => {
          const { ask, advance } = door({ customer: limits({ bps: rate, bytesBurst: burst, inflight }) });
          let t = 0;
          let admitted = 0;
          const open: Array<{ left: number; done: () => void }> = [];
          for (const s of steps) {
            t += s.gapMs;
            advance(s.gapMs);
            for (const o of open) if (o.left-- === 0) o.done();
            const r = ask('cus-a', s.declared ? s.actual : 0, s.declared ? s.actual : MAX_BATCH_BYTES);
            if (!r.ok) continue;
            admitted += s.actual;
            r.pass.settle(s.actual);
            open.push({ left: s.finishAfter, done: () => r.pass.release() });
            if (admitted > burst + (rate * t) / 1000 + inflight) return false;
          }
          return true;
        },
      ),
    );
  });
});

describe('parseCustomerLimits', () => {
  const defaults = limits({ rps: 2_000, burst: 4_000, bps: 16 * MiB, bytesBurst: 32 * MiB, inflight: 16 * MiB });

  it('reads entries, units, and bursts that default to twice a given rate', () => {
    const parsed = parseCustomerLimits('cus-a:rps=10,bps=1MiB ; cus-b:inflight=4MiB,bytes-burst=512KiB\n# a comment\ncus.c:burst=7', defaults);
    expect(Object.fromEntries(parsed)).toEqual({
      'cus-a': { requests: { perSecond: 10, burst: 20 }, bytes: { perSecond: MiB, burst: 2 * MiB }, bytesInFlight: 16 * MiB },
      'cus-b': { requests: { perSecond: 2_000, burst: 4_000 }, bytes: { perSecond: 16 * MiB, burst: 512 * 1024 }, bytesInFlight: 4 * MiB },
      'cus.c': { requests: { perSecond: 2_000, burst: 7 }, bytes: { perSecond: 16 * MiB, burst: 32 * MiB }, bytesInFlight: 16 * MiB },
    });
    expect(parseCustomerLimits('  ', defaults).size).toBe(0);
  });

  it.each([
    ['no colon', 'cus-a rps=1', /customer:key=value/],
    ['a bad customer id', '../x:rps=1', /valid customer id/],
    ['an unknown key', 'cus-a:rate=1', /not one of rps, burst, bps, bytes-burst, inflight/],
    ['a missing value', 'cus-a:rps', /not one of/],
    ['a unit on a request rate', 'cus-a:rps=1KiB', /positive whole number$/],
    ['zero', 'cus-a:bps=0', /positive whole number/],
    ['a fraction', 'cus-a:rps=1.5', /positive whole number/],
    ['an unknown unit', 'cus-a:bps=1MB', /KiB, MiB or GiB/],
    ['a key twice', 'cus-a:rps=1,rps=2', /given twice/],
    ['a customer twice', 'cus-a:rps=1;cus-a:bps=1', /listed twice/],
    ['an in-flight share below one batch', 'cus-a:inflight=1MiB', /at least 2097152/],
  ])('refuses %s', (_label, text, message) => {
    expect(() => parseCustomerLimits(text, defaults)).toThrow(message);
  });
});
