import { Writable } from 'node:stream';
import { createLogger } from './logger';

describe('createLogger', () => {
  it('writes JSON lines with the service and hides credentials wherever they are nested', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger('svc', 'info', sink);
    logger.info({ batchId: 'b-1', headers: { authorization: 'Bearer s3cret-token' }, s3: { credentials: { secretAccessKey: 'k3y' } }, password: 'pw' }, 'hello');
    const line = JSON.parse(lines.join(''));
    expect(line).toMatchObject({ service: 'svc', level: 'info', batchId: 'b-1', msg: 'hello', password: '[redacted]' });
    expect(line.headers.authorization).toBe('[redacted]');
    expect(line.s3.credentials.secretAccessKey).toBe('[redacted]');
    expect(lines.join('')).not.toMatch(/s3cret|k3y|"pw"/);
  });
});
