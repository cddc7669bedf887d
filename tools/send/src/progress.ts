import { SingleBar } from 'cli-progress';
import { SendReport } from '@pipeline/log-files';

export interface Progress {
  update(readBytes: number): void;
  stop(): void;
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

function counters(r: SendReport) {
  return { batches: r.done, entries: r.entries.accepted + r.entries.duplicate, dups: r.batches.duplicate, failed: r.batches.failed, rejected: r.rejected.length };
}

/**
 * A bar on a terminal; elsewhere (a pipe, a log file, CI) a plain line every `intervalMs`, since
 * a redrawn bar would fill a log with control characters.
 */
export function startProgress(report: SendReport, totalBytes: number | undefined, o: { tty: boolean; intervalMs: number; out: NodeJS.WriteStream }): Progress {
  let read = 0;
  if (o.tty) {
    const sized = totalBytes !== undefined && totalBytes > 0;
    const bar = new SingleBar({
      stream: o.out,
      format: `${sized ? '{bar} {percentage}% ' : ''}{read} read | batches {batches} | entries {entries} | duplicates {dups} | failed {failed} | rejected lines {rejected}`,
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
    });
    bar.start(sized ? totalBytes : 1, 0, { read: mib(0), ...counters(report) });
    const timer = setInterval(() => bar.update(sized ? read : 0, { read: mib(read), ...counters(report) }), 200);
    return {
      update: (bytes) => {
        read = bytes;
      },
      stop: () => {
        clearInterval(timer);
        bar.update(sized ? read : 0, { read: mib(read), ...counters(report) });
        bar.stop();
      },
    };
  }
  const line = () => {
    const c = counters(report);
    o.out.write(`progress: ${mib(read)}${totalBytes ? ` of ${mib(totalBytes)}` : ''} read, ${c.batches} batches answered (${c.entries} entries), ${c.dups} duplicates, ${c.failed} failed, ${c.rejected} rejected lines\n`);
  };
  const timer = setInterval(line, o.intervalMs);
  return {
    update: (bytes) => {
      read = bytes;
    },
    stop: () => {
      clearInterval(timer);
      // A last line, so a log shows the final state however short the run was.
      line();
    },
  };
}
