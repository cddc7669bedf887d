import { createRequire } from 'node:module';
import { stopIdleRequestQueuePolling } from './request-queue';

interface Queue {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: unknown;
  push(request: { entry: { correlationId: number; resolve: () => void }; expectResponse: boolean; sendRequest: () => void }): void;
  fulfillRequest(response: { correlationId: number; payload: Buffer; size: number }): void;
  maybeThrottle(ms: number): void;
  destroy(): void;
}

type QueueClass = { new (o: object): Queue; prototype: { scheduleCheckPendingRequests(): void } };
const RequestQueue: QueueClass = createRequire(require.resolve('kafkajs'))('./src/network/requestQueue');
const logger = { debug: () => undefined, warn: () => undefined, info: () => undefined, error: () => undefined };
const newQueue = () => new RequestQueue({ maxInFlightRequests: 1, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: 'test', broker: 'b:9092', logger });
const request = (correlationId: number, sent: number[]) => ({ entry: { correlationId, resolve: () => undefined }, expectResponse: true, sendRequest: () => void sent.push(correlationId) });
const answer = (q: Queue, correlationId: number) => q.fulfillRequest({ correlationId, payload: Buffer.alloc(0), size: 0 });

/** A queue on fake timers that has sent one request and had its answer: what every connection is between requests. */
function answeredQueue() {
  jest.useFakeTimers();
  const q = newQueue();
  const sent: number[] = [];
  q.push(request(1, sent));
  answer(q, 1);
  return { q, sent };
}


describe('kafkajs request queue at rest', () => {
  const original = RequestQueue.prototype.scheduleCheckPendingRequests;
  afterEach(() => jest.useRealTimers());

  it('without the change, a queue with nothing pending wakes every millisecond (the defect this works around)', () => {
    if (RequestQueue.prototype.scheduleCheckPendingRequests !== original) throw new Error('run before the change is applied');
    const { q } = answeredQueue();
    expect(q.throttleCheckTimeoutId).not.toBeNull();
    jest.advanceTimersByTime(50);
    // Each check schedules the next one a millisecond later, with nothing to do.
    expect(q.throttleCheckTimeoutId).not.toBeNull();
    expect(jest.getTimerCount()).toBe(1);
    q.destroy();
  });

  it('with the change, an idle queue schedules nothing', () => {
    expect(stopIdleRequestQueuePolling()).toBe(true);
    expect(stopIdleRequestQueuePolling()).toBe(true);
    const { q, sent } = answeredQueue();
    expect(sent).toEqual([1]);
    expect(q.throttleCheckTimeoutId).toBeNull();
    expect(jest.getTimerCount()).toBe(0);
  });

  it('a request waiting for an in-flight slot is still sent when the slot frees', () => {
    stopIdleRequestQueuePolling();
    jest.useFakeTimers();
    const q = newQueue();
    const sent: number[] = [];
    q.push(request(1, sent));
    q.push(request(2, sent));
    expect(sent).toEqual([1]);
    answer(q, 1);
    expect(sent).toEqual([1, 2]);
    answer(q, 2);
    jest.advanceTimersByTime(20);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('a request held back by a broker throttle is sent once the throttle ends, with nothing else to wake the queue', () => {
    stopIdleRequestQueuePolling();
    const { q, sent } = answeredQueue();
    q.maybeThrottle(100);
    q.push(request(2, sent));
    expect(sent).toEqual([1]);
    jest.advanceTimersByTime(150);
    expect(sent).toEqual([1, 2]);
  });
});
