/**
 * Progress lines for long runs, written straight to stderr (jest buffers console output per
 * test; these lines must show while a scenario runs). E2E_PROGRESS_MS sets the period (default 5 s).
 */
export class Progress {
  private timer?: NodeJS.Timeout;
  private readonly started = performance.now();

  constructor(readonly label: string, private readonly periodMs = Number(process.env.E2E_PROGRESS_MS ?? 5_000)) {}

  /** Prints `render()` every period until `stop()`. */
  every(render: () => string): void {
    this.stop();
    this.timer = setInterval(() => this.line(render()), this.periodMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  line(text: string): void {
    process.stderr.write(`[e2e ${this.label}] ${text} | ${this.elapsed()}\n`);
  }

  elapsed(): string {
    return `${((performance.now() - this.started) / 1000).toFixed(1)} s`;
  }
}

/** `202:3200 409:2000` with the statuses in order. */
export function formatCounts(counts: Record<string, number>): string {
  const keys = Object.keys(counts).sort();
  return keys.length === 0 ? '-' : keys.map((k) => `${k}:${counts[k]}`).join(' ');
}

/** A plain-text table with right-aligned numbers, for terminals and the benchmark page alike. */
export function textTable(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (/^[\d.,:%\s-]+$/.test(c) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ');
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('-+-'), ...cells.slice(1).map(line)].join('\n');
}
