import { scenario001 } from '../scenarios';
import { AggregateReader, NotExactError, waitUntilExact } from '../support/aggregates';
import { ComposeCluster, composeCluster } from '../support/compose-cluster';
import { externalStack } from '../support/external-stack';
import { Progress } from '../support/progress';
import { runScenario, ScenarioOutcome } from '../support/run';
import { printSummary } from '../support/summary';
import { EXACT, finalAnswers, SCENARIO_TIMEOUT_MS, verdict } from './scenario-spec';

/**
 * Sixteen containers on the cores of one machine answer scenario 001 several times slower than the
 * single-node stack, and each kill adds its wait until healthy: three times the usual bound.
 */
const CLUSTER_TIMEOUT_MS = 3 * SCENARIO_TIMEOUT_MS;

const cluster = composeCluster();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * What is killed (SIGKILL, `docker kill`), when (fraction of the sends answered) and for how long:
 * one broker, one instance of each service, one ClickHouse replica and the coordinator, one at a
 * time (the cluster is built to lose any one of them; each comes back healthy before the next goes).
 */
const KILLS: ReadonlyArray<{ at: number; target: string; downMs: number }> = [
  { at: 0.05, target: 'kafka-2', downMs: 3_000 },
  { at: 0.15, target: 'batch-ingestion-2', downMs: 1_000 },
  { at: 0.25, target: 'batch-summarizer-1', downMs: 1_000 },
  { at: 0.35, target: 'window-aggregator-2', downMs: 1_000 },
  { at: 0.45, target: 'clickhouse-1', downMs: 3_000 },
  { at: 0.55, target: 'zookeeper', downMs: 20_000 },
];

/** Both replicas hold the same exact views, each read on its own (not only through the balancer). */
async function replicaProblems(c: ComposeCluster, outcome: ScenarioOutcome, customers: readonly string[], progress: Progress): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  for (const name of c.instances('clickhouse')) {
    const reader = new AggregateReader(c.replica(name));
    try {
      await waitUntilExact(reader, outcome.expected, { customers, since: outcome.report.startedAt, timeoutMs: 60_000, progress });
      out[name] = null;
    } catch (err) {
      if (!(err instanceof NotExactError)) throw err;
      out[name] = err.message;
    } finally {
      await reader.close();
    }
  }
  return out;
}

if (!cluster) {
  describe('scenario 009: a cluster losing one of each kind', () => {
    it('runs against a docker-compose cluster only (docker-compose.cluster.yml, E2E_TARGET=external, E2E_COMPOSE_PROJECT)', () => {
      new Progress('009_cluster_failover').line('not run: the target is not a docker-compose cluster project');
      expect(cluster).toBeUndefined();
    });
  });
} else {
  describe('scenario 009: a cluster losing one of each kind (docker-compose.cluster.yml)', () => {
    afterAll(() => printSummary());

    it('keeps scenario 001 exact while a broker, an instance of each service, a ClickHouse replica and ZooKeeper (20 s) are killed and started again', async () => {
      const stack = externalStack();
      const progress = new Progress('009_cluster_failover');
      const fired: string[] = [];
      const wasDown: Record<string, boolean> = {};
      const crash = async (target: string, downMs: number) => {
        await cluster.kill(target);
        const killedAt = Date.now();
        wasDown[target] = !(await cluster.running(target));
        progress.line(`SIGKILL ${target}, down for ${downMs / 1000} s`);
        await sleep(downMs);
        await cluster.start(target);
        fired.push(target);
        progress.line(`${target} healthy again ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`);
      };
      let chain = Promise.resolve();
      const pending = KILLS.map((k) => ({ ...k, fired: false }));
      const scenario = scenario001({ customerSuffix: stack.customerSuffix });
      const outcome = await runScenario(stack, scenario, {
        label: '009_cluster_failover',
        onAnswered: (done, total) => {
          for (const step of pending) {
            if (!step.fired && done >= step.at * total) {
              step.fired = true;
              chain = chain.then(() => crash(step.target, step.downMs));
            }
          }
        },
        afterSending: () => chain,
      });

      expect(fired).toEqual(KILLS.map((k) => k.target));
      expect(Object.values(wasDown).every(Boolean)).toBe(true);
      const answers = finalAnswers(outcome);
      expect({ sends: (answers[202] ?? 0) + (answers[409] ?? 0), at_most_3200_accepted: (answers[202] ?? 0) <= 3200 }).toEqual({ sends: 5200, at_most_3200_accepted: true });
      expect(verdict(outcome)).toEqual(EXACT);
      expect(await replicaProblems(cluster, outcome, scenario.customers, progress)).toEqual({ 'clickhouse-1': null, 'clickhouse-2': null });
    }, CLUSTER_TIMEOUT_MS);

    it('keeps scenario 001 exact through a rolling restart of every service instance under load', async () => {
      const stack = externalStack();
      const progress = new Progress('009_rolling_restart');
      const order = ['batch-ingestion', 'batch-summarizer', 'window-aggregator'].flatMap((s) => cluster.instances(s));
      const restarted: string[] = [];
      let restarting: Promise<void> | undefined;
      let rollingEndedAt = 0;
      const rolling = async () => {
        // One at a time, each back before the next goes: the other instance carries the load meanwhile.
        for (const name of order) {
          const started = Date.now();
          await cluster.restart(name);
          restarted.push(name);
          progress.line(`restarted ${name} (SIGTERM): ready again after ${((Date.now() - started) / 1000).toFixed(1)} s`);
        }
        rollingEndedAt = Date.now();
      };
      const scenario = scenario001({ customerSuffix: stack.customerSuffix });
      const outcome = await runScenario(stack, scenario, {
        label: '009_rolling_restart',
        onAnswered: (done, total) => {
          if (!restarting && done >= 0.05 * total) restarting = rolling();
        },
        afterSending: () => restarting ?? Promise.resolve(),
      });
      const underLoad = rollingEndedAt <= outcome.report.finishedAt;
      progress.line(`the rolling restart ended ${((outcome.report.finishedAt - rollingEndedAt) / 1000).toFixed(1)} s before the last answer (${underLoad ? 'all of it under load' : 'partly after the sends'})`);

      expect(restarted).toEqual(order);
      expect(order).toHaveLength(6);
      const answers = finalAnswers(outcome);
      expect({ sends: (answers[202] ?? 0) + (answers[409] ?? 0), at_most_3200_accepted: (answers[202] ?? 0) <= 3200 }).toEqual({ sends: 5200, at_most_3200_accepted: true });
      expect(verdict(outcome)).toEqual(EXACT);
    }, CLUSTER_TIMEOUT_MS);
  });
}
