import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from './paths';
import { BACKGROUND_STAGES, backgroundNice, isBackgroundStage, ManagedProcess, waitFor } from './process';

describe('the back stages', () => {
  const everyProcess = ['kafka', 'minio', 'clickhouse', 'batch-ingestion', 'batch-summarizer', 'window-aggregator'];

  it('are the same for the native stack (lib.sh) as for the test kit', () => {
    const lib = join(REPO_ROOT, 'infra/local/lib.sh');
    const native = everyProcess.filter((name) => spawnSync('bash', ['-c', `source ${JSON.stringify(lib)}; is_background ${name}`]).status === 0);
    expect(native).toEqual(everyProcess.filter(isBackgroundStage));
    expect(native.sort()).toEqual([...BACKGROUND_STAGES].sort());
  });

  it.each(['docker-compose.yml', 'docker-compose.cluster.yml'])('are the services %s gives a smaller CPU share', (file) => {
    const compose = parse(readFileSync(join(REPO_ROOT, file), 'utf8'), { merge: true }) as { services: Record<string, { cpu_shares?: number }> };
    // The cluster file names its nodes after the stage (`batch-summarizer-2`); anchors carry the share.
    const stageOf = (service: string) => everyProcess.find((p) => service === p || service.startsWith(`${p}-`));
    const lowered = new Set(Object.entries(compose.services).filter(([, s]) => s.cpu_shares !== undefined && s.cpu_shares < 1024).map(([name]) => stageOf(name)));
    const stages = new Set(Object.keys(compose.services).map(stageOf).filter((s) => s !== undefined));
    expect([...lowered].sort()).toEqual([...BACKGROUND_STAGES].filter((s) => stages.has(s)).sort());
  });
});

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
