import { parseListeningInodes, parseMachineTicks, parseStatCpuTicks, parseStatusHighWaterBytes, parseStatusRssBytes, processCpuSeconds, processHighWaterBytes, processRssBytes } from './proc';

describe('/proc parsing', () => {
  it('reads utime and stime after the command name, even one with spaces and parentheses', () => {
    // Fields 3.. of a real stat line; utime (14) = 1234, stime (15) = 56.
    const rest = 'S 1 100 100 0 -1 4194560 5000 0 0 0 1234 56 0 0 20 0 12 0 300 1000000 2500 18446744073709551615';
    expect(parseStatCpuTicks(`4242 (java) ${rest}`)).toEqual({ user: 1234, system: 56 });
    expect(parseStatCpuTicks(`4242 (clickhouse-serv) ${rest}`)).toEqual({ user: 1234, system: 56 });
    expect(parseStatCpuTicks(`4242 (a (b) c) ${rest}\n`)).toEqual({ user: 1234, system: 56 });
  });

  it('refuses a line that is not a stat line', () => {
    expect(() => parseStatCpuTicks('nothing here')).toThrow(/stat/);
    expect(() => parseStatCpuTicks('1 (x) S 1')).toThrow(/utime/);
  });

  it('reads VmRSS in bytes', () => {
    expect(parseStatusRssBytes('Name:\tnode\nVmPeak:\t 999 kB\nVmRSS:\t  204800 kB\nThreads:\t11\n')).toBe(204800 * 1024);
    expect(parseStatusRssBytes('Name:\tkthreadd\nThreads:\t1\n')).toBeUndefined();
    expect(parseStatusHighWaterBytes('VmHWM:\t  300000 kB\nVmRSS:\t  204800 kB\n')).toBe(300000 * 1024);
  });

  it('counts idle and iowait as not busy', () => {
    // user nice system idle iowait irq softirq steal guest guest_nice
    const t = parseMachineTicks('cpu  100 5 50 1000 20 3 2 1 0 0\ncpu0 50 2 25 500 10 1 1 0 0 0\nintr 1\n');
    expect(t.total).toBe(100 + 5 + 50 + 1000 + 20 + 3 + 2 + 1);
    expect(t.busy).toBe(t.total - 1000 - 20);
  });

  it('finds the inodes of sockets listening on a port (state 0A), not connected ones', () => {
    const table = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 11111 1 0000000000000000 100 0 0 10 0',
      '   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 22222 1 0000000000000000 20 4 30 10 -1',
      '   2: 0100007F:2382 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 33333 1 0000000000000000 100 0 0 10 0',
    ].join('\n');
    expect(parseListeningInodes(table, 8080)).toEqual(['11111']);
    expect(parseListeningInodes(table, 9090)).toEqual(['33333']);
    expect(parseListeningInodes(table, 1234)).toEqual([]);
  });

  it('reads this very process (Linux)', () => {
    if (process.platform !== 'linux') return;
    const cpu = processCpuSeconds(process.pid);
    expect(cpu).toBeGreaterThan(0);
    expect(processRssBytes(process.pid)).toBeGreaterThan(1024 * 1024);
    expect(processHighWaterBytes(process.pid)).toBeGreaterThanOrEqual(processRssBytes(process.pid)! - 4096 * 64);
    expect(processCpuSeconds(2 ** 22 + 1)).toBeUndefined();
  });
});
