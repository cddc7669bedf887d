import { parse } from 'yaml';
import { loadComposeRaw, readRepoFile } from './files';
import { exportedSeries, promqlMetricNames } from './metrics';

/**
 * The Prometheus alert rules of the `monitoring` profile, checked offline: loaded by the config and
 * mounted by compose, every rule selects only series the services export, and the failures an
 * operator must act on each have one.
 */
interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules = (parse(readRepoFile('infra/prometheus/alerts.yml')) as { groups: { name: string; rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const PROMETHEUS_OWN = new Set(['up']);

describe('Prometheus alert rules', () => {
  it('are loaded by the Prometheus config and mounted next to it', () => {
    expect((parse(readRepoFile('infra/prometheus/prometheus.yml')) as { rule_files: string[] }).rule_files).toEqual(['alerts.yml']);
    expect(loadComposeRaw().services.prometheus.volumes).toEqual(expect.arrayContaining([expect.stringMatching(/infra\/prometheus\/alerts\.yml:\/etc\/prometheus\/alerts\.yml:ro$/)]));
  });

  it('select only series the services export, each rule with a severity and a summary', () => {
    const series = exportedSeries();
    for (const rule of rules) {
      const names = promqlMetricNames(rule.expr);
      expect([rule.alert, names.length > 0]).toEqual([rule.alert, true]);
      expect([rule.alert, names.filter((n) => !series.has(n) && !PROMETHEUS_OWN.has(n))]).toEqual([rule.alert, []]);
      expect([rule.alert, rule.labels?.severity, typeof rule.annotations?.summary]).toEqual([rule.alert, expect.stringMatching(/^(page|warn)$/), 'string']);
    }
  });

  it('page when a store refuses writes or a dependency is gone, and warn on dead letters, stalls and lag', () => {
    const byName = Object.fromEntries(rules.map((r) => [r.alert, r]));
    expect(byName.StoreRefusingWrites.expr).toMatch(/consumer_held_partitions\{kind="refusing"\}/);
    expect(byName.DependencyUnavailable.expr).toMatch(/consumer_held_partitions/);
    expect(byName.DeadLetters.expr).toMatch(/consumer_dead_letters_total/);
    expect(byName.PartitionStalled.expr).toMatch(/consumer_stalled_seconds/);
    expect(byName.ConsumerLagGrowing.expr).toMatch(/consumer_lag/);
    expect(byName.RollupsBehind.expr).toMatch(/aggregator_rollup_delay_seconds/);
    expect(byName.IngestionUnavailable.expr).toMatch(/ingestion_batches_total\{outcome="unavailable"\}/);
  });
});
