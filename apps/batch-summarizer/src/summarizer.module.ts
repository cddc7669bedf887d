import { BeforeApplicationShutdown, Module, OnApplicationBootstrap, Type } from '@nestjs/common';
import { HealthModule, MetricsModule } from '@pipeline/platform';
import { Summarizer } from './summarizer';

/** Starts consuming once the HTTP side is up, and drains the consumer before the process exits. */
class SummarizerLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(private readonly summarizer: Summarizer) {}

  onApplicationBootstrap(): void {
    this.summarizer.consumer.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.summarizer.consumer.stop();
  }
}

/** The Nest side of the service: /metrics, /health and the consumer's lifecycle. */
export function summarizerModule(summarizer: Summarizer): Type<unknown> {
  @Module({
    imports: [
      MetricsModule.forRegistry(summarizer.registry),
      HealthModule.forChecks({ useFactory: () => summarizer.checks }),
    ],
    providers: [{ provide: SummarizerLifecycle, useValue: new SummarizerLifecycle(summarizer) }],
  })
  class SummarizerModule {}
  return SummarizerModule;
}
