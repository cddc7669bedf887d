import { Logger } from 'pino';
import { Gauge, Registry } from 'prom-client';
import { errorMessage, Source } from '@pipeline/platform';

export interface BacklogSettings {
  /** Behind above this many batches announced and not yet summarized. */
  maxBatches: number;
  pollMs: number;
}

/**
 * The summarizer's backlog, as the door sees it: the lag of its consumer group on the topic this
 * service announces to, read every `pollMs`. Behind above `maxBatches`, caught up again at half of
 * it, so that the door does not flap at the line. A backlog that cannot be read (Kafka away, the
 * group not described) counts as caught up: the door's own limits still hold, and a 202 never
 * waits for this.
 */
export class SummarizerBacklog implements Source {
  readonly name = 'summarizer-backlog';
  private behind = false;
  private failing = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private readonly backlog: Gauge;
  private readonly behindGauge: Gauge;

  constructor(
    private readonly readLag: () => Promise<number>,
    private readonly settings: BacklogSettings,
    private readonly logger: Logger,
    registry: Registry,
    private readonly close: () => Promise<void> = async () => undefined,
  ) {
    this.backlog = new Gauge({
      name: 'ingestion_summarizer_backlog_batches',
      help: "Batches announced and not yet summarized (the summarizer group's lag), as last read; -1 while it cannot be read",
      registers: [registry],
    });
    this.behindGauge = new Gauge({
      name: 'ingestion_summarizer_behind',
      help: "1 while the summarizer's backlog is above INGESTION_BACKLOG_MAX_BATCHES and each customer is held to INGESTION_BACKLOG_BYTES_PER_CUSTOMER",
      registers: [registry],
    });
    this.backlog.set(-1);
    this.behindGauge.set(0);
  }

  isBehind(): boolean {
    return this.behind;
  }

  /** One reading of the backlog (the loop calls it; tests may too). */
  async poll(): Promise<void> {
    let lag: number;
    try {
      lag = await this.readLag();
    } catch (err) {
      if (!this.failing) this.logger.warn({ err: errorMessage(err) }, 'the summarizer\'s backlog cannot be read; the door counts it as caught up');
      this.failing = true;
      this.backlog.set(-1);
      this.set(false, -1);
      return;
    }
    if (this.failing) this.logger.info({ backlog: lag }, 'the summarizer\'s backlog is read again');
    this.failing = false;
    this.backlog.set(lag);
    if (lag > this.settings.maxBatches) this.set(true, lag);
    else if (lag <= this.settings.maxBatches / 2) this.set(false, lag);
  }

  start(): void {
    const loop = () => {
      if (this.stopped) return;
      this.polling = this.poll().finally(() => {
        if (!this.stopped) this.timer = setTimeout(loop, this.settings.pollMs);
      });
    };
    loop();
  }

  async drain(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
    await this.close();
  }

  private set(behind: boolean, lag: number): void {
    if (behind === this.behind) return;
    this.behind = behind;
    this.behindGauge.set(behind ? 1 : 0);
    this.logger.warn({ backlog: lag, maxBatches: this.settings.maxBatches }, behind ? 'the summarizer is behind: customers are held to the byte rate while behind' : 'the summarizer has caught up');
  }
}
