import pino from 'pino';
import { Writable } from 'node:stream';
import { createKafka } from './client';

/** A pino logger writing its lines into `lines`, as a service's logger writes to stdout. */
function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, logger: pino({ level: 'info', base: { service: 'test' } }, stream) };
}

const settings = { brokers: ['127.0.0.1:1'], clientId: 'logs-test', requestTimeoutMs: 1_000 };

describe('kafkajs log lines', () => {
  it('go through the service logger as JSON, with the level and the kafkajs namespace', () => {
    const { lines, logger } = capture();
    const kafka = createKafka(settings, logger);
    kafka.logger().namespace('Connection').warn('Connection error: connect ECONNREFUSED', { broker: '127.0.0.1:1', clientId: 'logs-test' });
    kafka.logger().error('Crash: something', { groupId: 'g' });
    expect(lines).toHaveLength(2);
    const [warn, error] = lines.map((l) => JSON.parse(l));
    expect(warn).toMatchObject({ level: 40, service: 'test', msg: 'Connection error: connect ECONNREFUSED', kafka: { namespace: 'Connection', broker: '127.0.0.1:1' } });
    expect(error).toMatchObject({ level: 50, msg: 'Crash: something', kafka: { groupId: 'g' } });
    // One time per line, the logger's own.
    expect(Object.keys(warn.kafka).sort()).toEqual(['broker', 'clientId', 'namespace']);
    expect(typeof warn.time).toBe('number');
  });

  it('below warn are dropped, and so is the start-up notice about bounded idempotent retries', () => {
    const { lines, logger } = capture();
    const kafka = createKafka(settings, logger);
    kafka.logger().info('Starting', { groupId: 'g' });
    kafka.logger().warn('Limiting retries for the idempotent producer to Number.MAX_SAFE_INTEGER', {});
    expect(lines).toEqual([]);
  });

  it('never reach stdout as text when no logger is given', () => {
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      createKafka(settings).logger().error('Crash: something', {});
      expect([write.mock.calls.length, log.mock.calls.length, error.mock.calls.length]).toEqual([0, 0, 0]);
    } finally {
      write.mockRestore();
      log.mockRestore();
      error.mockRestore();
    }
  });
});
