import { readFileSync } from 'node:fs';
import { ManagedProcess, waitFor } from './process';

describe('ManagedProcess', () => {
  it('keeps what stderr writes after stdout has closed, in the one log file', async () => {
    // stdout is closed first, then stderr writes: with each pipe ending the shared log, that last
    // write failed as a write after end and took the test process down.
    const script = "require('fs').closeSync(1); setTimeout(() => { process.stderr.write('late line\\n'); process.exit(0); }, 50);";
    const p = new ManagedProcess(`process-spec-${process.pid}`, process.execPath, ['-e', `process.stdout.write('early line\\n', () => { ${script} });`]);
    p.start();
    await waitFor('the process to exit and its log to hold both lines', async () => !p.running && /early line\n[^]*late line/.test(readFileSync(p.logFile, 'utf8')), 4_000, 50);
  });
});
