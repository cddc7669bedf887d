import { existsSync, readFileSync } from 'node:fs';
import { backgroundNice, ManagedProcess, waitFor } from './process';

describe('ManagedProcess', () => {
  it('keeps what stderr writes after stdout has closed, in the one log file', async () => {
    // stdout is closed first, then stderr writes: with each pipe ending the shared log, that last
    // write failed as a write after end and took the test process down.
    const script = "require('fs').closeSync(1); setTimeout(() => { process.stderr.write('late line\\n'); process.exit(0); }, 50);";
    const p = new ManagedProcess(`process-spec-${process.pid}`, process.execPath, ['-e', `process.stdout.write('early line\\n', () => { ${script} });`]);
    p.start();
    await waitFor('the process to exit and its log to hold both lines', async () => !p.running && /early line\n[^]*late line/.test(readFileSync(p.logFile, 'utf8')), 4_000, 50);
  });

  it('starts a back stage with the niceness asked, for its threads and for the scheduling group of its session', async () => {
    const p = new ManagedProcess(`process-nice-spec-${process.pid}`, process.execPath, ['-e', 'setTimeout(() => {}, 5000)'], { nice: 7 });
    p.start();
    try {
      // The pid is the command's own once `nice` has execed it: signals and the process group still reach it.
      await waitFor('nice to exec the command', async () => readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').split('\0')[0] === process.execPath, 4_000, 20);
      // Field 19 of /proc/PID/stat, counted after the command name's closing parenthesis.
      const stat = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
      expect(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])).toBe(7);
      if (existsSync(`/proc/${p.pid}/autogroup`)) expect(readFileSync(`/proc/${p.pid}/autogroup`, 'utf8')).toMatch(/ nice 7\n?$/);
    } finally {
      await p.stop();
    }
  });

  it('reads BACKGROUND_NICE, 10 by default, and refuses what nice cannot take', () => {
    expect(backgroundNice({})).toBe(10);
    expect(backgroundNice({ BACKGROUND_NICE: '0' })).toBe(0);
    expect(() => backgroundNice({ BACKGROUND_NICE: '-5' })).toThrow(/0 to 19/);
    expect(() => backgroundNice({ BACKGROUND_NICE: 'high' })).toThrow(/0 to 19/);
  });
});
