import { Controller, DynamicModule, FactoryProvider, Get, Inject, Module } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, TerminusModule } from '@nestjs/terminus';
import { withTimeout } from './failure';

/** A dependency probe for readiness: resolves when the dependency answers, rejects otherwise. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<unknown>;
}

export const READINESS_CHECKS = Symbol('READINESS_CHECKS');
const PROBE_TIMEOUT_MS = 2_000;

@Controller('health')
export class HealthController {
  constructor(
    @Inject(HealthCheckService) private readonly health: HealthCheckService,
    @Inject(HealthIndicatorService) private readonly indicators: HealthIndicatorService,
    @Inject(READINESS_CHECKS) private readonly checks: ReadinessCheck[],
  ) {}

  @Get('live')
  live() {
    return { status: 'ok' };
  }

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check(
      this.checks.map((probe) => async () => {
        const indicator = this.indicators.check(probe.name);
        try {
          await withTimeout(PROBE_TIMEOUT_MS, () => probe.check());
          return indicator.up();
        } catch (err) {
          return indicator.down({ message: (err as Error).message });
        }
      }),
    );
  }
}

@Module({})
export class HealthModule {
  /** The factory builds the app's ReadinessCheck[] from the providers it injects. */
  static forChecks(checks: Omit<FactoryProvider<ReadinessCheck[]>, 'provide'> & { provide?: unknown }): DynamicModule {
    const { provide: _ignored, ...factory } = checks;
    return {
      module: HealthModule,
      imports: [TerminusModule.forRoot({ errorLogStyle: 'json', logger: false })],
      controllers: [HealthController],
      providers: [{ ...factory, provide: READINESS_CHECKS }],
    };
  }
}
