import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadCompose, readRepoFile, ROOT } from './files';
import { exportedMetrics, exportedSeries, promqlMetricNames } from './metrics';

/**
 * The Grafana dashboards of the `grafana` profile, checked offline: every panel reads a
 * provisioned data source, ClickHouse targets use the query types and formats the
 * grafana-clickhouse-datasource 4.x plugin defines, and every metric a Prometheus target selects
 * is one the services export.
 */
interface Target {
  refId: string;
  datasource: { type: string; uid: string };
  expr?: string;
  rawSql?: string;
  editorType?: string;
  queryType?: string;
  format?: number | string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource: { type: string; uid: string };
  targets: Target[];
}

const DASHBOARD_DIR = 'infra/grafana/dashboards';
const dashboards = readdirSync(join(ROOT, DASHBOARD_DIR))
  .filter((f) => f.endsWith('.json'))
  .map((file) => ({ file, json: JSON.parse(readRepoFile(`${DASHBOARD_DIR}/${file}`)) as { uid: string; panels: Panel[] } }));
const panels = dashboards.flatMap(({ file, json }) => json.panels.map((panel) => ({ file, panel })));
const targets = panels.flatMap(({ file, panel }) => panel.targets.map((target) => ({ file, panel, target })));

const datasources = readdirSync(join(ROOT, 'infra/grafana/provisioning/datasources')).flatMap(
  (f) => (parse(readRepoFile(`infra/grafana/provisioning/datasources/${f}`)) as { datasources: { uid: string; type: string; url?: string }[] }).datasources,
);

/**
 * The plugin's own mapping (src/data/utils.ts, mapQueryTypeToGrafanaFormat): the query type a
 * SQL query is run as, and the data-frame format the backend turns its result into.
 */
const CLICKHOUSE_FORMAT: Record<string, number> = { timeSeries: 0, table: 1, logs: 2, traces: 3 };
/** Which query type each panel type needs: time series are turned from long to wide frames. */
const QUERY_TYPE_OF_PANEL: Record<string, string> = { timeseries: 'timeSeries', barchart: 'timeSeries', table: 'table' };
/** Series Prometheus makes itself for every scrape target. */
const PROMETHEUS_OWN = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);

describe('Grafana dashboards', () => {
  it('are the traffic dashboard and the pipeline-health dashboard, each with its own uid', () => {
    expect(dashboards.map((d) => d.file).sort()).toEqual(['pipeline-health.json', 'requests-per-minute.json']);
    expect(new Set(dashboards.map((d) => d.json.uid)).size).toBe(dashboards.length);
    expect(targets.length).toBeGreaterThan(10);
  });

  it('read only data sources that are provisioned, of the panel\'s own type', () => {
    for (const { file, panel, target } of targets) {
      const source = datasources.find((d) => d.uid === target.datasource.uid);
      expect([file, panel.title, source?.type]).toEqual([file, panel.title, target.datasource.type]);
      expect([file, panel.title, panel.datasource.uid]).toEqual([file, panel.title, target.datasource.uid]);
    }
  });

  it('provision Prometheus at the compose service, which scrapes the three services', () => {
    const prometheus = datasources.find((d) => d.type === 'prometheus')!;
    const compose = loadCompose('docker-compose.yml', new Proxy({}, { get: () => 'x' }) as Record<string, string>);
    expect(prometheus.url).toBe('http://prometheus:9090');
    expect(compose.services.prometheus.profiles).toContain('grafana');
    expect(compose.services.grafana.depends_on).toHaveProperty('prometheus');
  });

  it('run ClickHouse targets as SQL with the query type and format the plugin pairs, matching the panel', () => {
    const clickhouse = targets.filter((t) => t.target.datasource.type === 'grafana-clickhouse-datasource');
    expect(clickhouse.length).toBeGreaterThan(0);
    for (const { file, panel, target } of clickhouse) {
      const seen = [file, panel.title, target.editorType, target.queryType, target.format];
      expect(seen).toEqual([file, panel.title, 'sql', QUERY_TYPE_OF_PANEL[panel.type], CLICKHOUSE_FORMAT[QUERY_TYPE_OF_PANEL[panel.type]]]);
      expect(target.rawSql).toMatch(/FROM log_analytics\.(minute|hourly|daily)_aggregates/);
      // A time series needs its time column, named time, first and in order.
      if (target.queryType === 'timeSeries') expect(target.rawSql).toMatch(/^SELECT \w+ AS time,[\s\S]*ORDER BY time$/);
    }
  });

  it('select in every Prometheus target only metrics the services export', () => {
    const series = exportedSeries();
    const prometheus = targets.filter((t) => t.target.datasource.type === 'prometheus');
    expect(prometheus.length).toBeGreaterThan(10);
    const unknown = prometheus.flatMap(({ panel, target }) =>
      promqlMetricNames(target.expr ?? '')
        .filter((name) => !series.has(name) && !PROMETHEUS_OWN.has(name))
        .map((name) => `${panel.title}: ${name}`),
    );
    expect(unknown).toEqual([]);
    for (const { target } of prometheus) expect(promqlMetricNames(target.expr ?? '').length).toBeGreaterThan(0);
  });

  it('cover ingest rate and latency, lag, dead letters, late events and freshness', () => {
    const exprs = targets.map((t) => t.target.expr ?? '').join('\n');
    for (const metric of ['ingestion_batches_total', 'http_request_duration_seconds_bucket', 'consumer_lag', 'consumer_dead_letters_total', 'late_events_total', 'aggregator_last_write_timestamp_seconds']) {
      expect([metric, exprs.includes(metric)]).toEqual([metric, true]);
    }
  });
});

describe('the PromQL metric-name reader', () => {
  it('finds metric names, not functions, keywords, labels, ranges or variables', () => {
    expect(promqlMetricNames('histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{route="/logs"}[$__rate_interval])))')).toEqual([
      'http_request_duration_seconds_bucket',
    ]);
    expect(promqlMetricNames('time() - max(aggregator_last_write_timestamp_seconds) > on (service) group_left up')).toEqual(['aggregator_last_write_timestamp_seconds', 'up']);
    expect(promqlMetricNames('sum without (instance) (consumer_lag) / 2')).toEqual(['consumer_lag']);
  });

  it('knows the metrics the code declares, with their types', () => {
    const metrics = exportedMetrics();
    expect(metrics.get('late_events_total')?.type).toBe('counter');
    expect(metrics.get('consumer_lag')?.type).toBe('gauge');
    expect(metrics.get('http_request_duration_seconds')?.type).toBe('histogram');
    expect(metrics.get('process_resident_memory_bytes')?.type).toBe('gauge');
    expect(exportedSeries().has('consumer_unit_duration_seconds_bucket')).toBe(true);
    expect(exportedSeries().has('consumer_unit_duration_seconds')).toBe(false);
  });
});
