import { BeforeApplicationShutdown, Inject, Injectable, Module, OnApplicationBootstrap, OnApplicationShutdown, Type } from '@nestjs/common';
import { Registry } from 'prom-client';
import { HealthModule, MetricsModule, ReadinessCheck } from '@pipeline/platform';
import { IngestionHandler } from './handler';
import { INGESTION_HANDLER, LogsController } from './http';

export interface Lifecycle {
  /** After the module is up: start provisioning in the background. */
  start?(): void;
  /** Shutdown began; the HTTP server still finishes in-flight requests after this. */
  drain?(): Promise<void> | void;
  /** The HTTP server is closed: release clients (producer, admin, S3). */
  close?(): Promise<void>;
}

export interface IngestionModuleDeps {
  handler: IngestionHandler;
  registry: Registry;
  readinessChecks: ReadinessCheck[];
  lifecycle: Lifecycle;
}

const LIFECYCLE = Symbol('LIFECYCLE');

@Injectable()
class LifecycleHooks implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  constructor(@Inject(LIFECYCLE) private readonly lifecycle: Lifecycle) {}

  onApplicationBootstrap() {
    this.lifecycle.start?.();
  }

  // Nest closes the HTTP server between these two hooks, so in-flight requests still have a
  // connected producer and S3 client; only after the server drained are they released.
  async beforeApplicationShutdown() {
    await this.lifecycle.drain?.();
  }

  async onApplicationShutdown() {
    await this.lifecycle.close?.();
  }
}

/** The service's Nest module, built around ready-made dependencies (real ones in main, fakes in tests). */
export function ingestionModule(deps: IngestionModuleDeps): Type<unknown> {
  @Module({
    imports: [
      MetricsModule.forRegistry(deps.registry),
      HealthModule.forChecks({ useFactory: () => deps.readinessChecks }),
    ],
    controllers: [LogsController],
    providers: [{ provide: INGESTION_HANDLER, useValue: deps.handler }, { provide: LIFECYCLE, useValue: deps.lifecycle }, LifecycleHooks],
  })
  class BatchIngestionModule {}
  return BatchIngestionModule;
}
