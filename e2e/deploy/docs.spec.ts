import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { ROOT } from './files';
import { exportedSeries } from './metrics';

/**
 * The documentation against the repository: metric names it quotes are the ones the code
 * exports, and every relative link leads to a file (and heading) that exists.
 */
const markdown = execFileSync('git', ['ls-files', '*.md', '**/*.md'], { cwd: ROOT, encoding: 'utf8' })
  .split('\n')
  .filter(Boolean)
  .filter((f) => existsSync(join(ROOT, f)));
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
/** Fenced code is examples, not references. */
const prose = (text: string) => text.replace(/^```[\s\S]*?^```/gm, '');

/** Prefixes of the pipeline's metric names (and prom-client's process metrics). */
const METRIC = /^((?:ingestion|summarizer|aggregator|consumer|reconciler|process|nodejs|http|late)_[a-z0-9_]+)(\{[^`]*\})?$/;

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
const anchorOf = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, (c) => (c === '_' ? '_' : ''))
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
const anchorsOf = (file: string) => new Set([...prose(read(file)).matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => anchorOf(m[1])));

describe('documentation', () => {
  it('covers the README and the docs', () => {
    expect(markdown).toEqual(expect.arrayContaining(['README.md', 'docs/operations.md', 'docs/semantics.md']));
  });

  it.each(markdown)('%s names only metrics the code exports', (file) => {
    const series = exportedSeries();
    const quoted = [...prose(read(file)).matchAll(/`([^`\n]+)`/g)].map((m) => METRIC.exec(m[1])).filter((m): m is RegExpExecArray => m !== null);
    const unknown = quoted.map((m) => m[1]).filter((name) => !series.has(name) && !series.has(`${name}_bucket`));
    expect(unknown).toEqual([]);
  });

  it.each(markdown)('%s links only to files and headings that exist', (file) => {
    const broken: string[] = [];
    for (const m of prose(read(file)).matchAll(/\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1];
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
      const [path, anchor] = target.split('#');
      const resolved = path === '' ? file : relative(ROOT, join(ROOT, dirname(file), decodeURIComponent(path)));
      if (resolved.startsWith('..') || !existsSync(join(ROOT, resolved))) {
        broken.push(`${target} (no ${resolved})`);
        continue;
      }
      if (anchor && resolved.endsWith('.md') && statSync(join(ROOT, resolved)).isFile() && !anchorsOf(resolved).has(anchor)) broken.push(`${target} (no heading #${anchor} in ${resolved})`);
    }
    expect(broken).toEqual([]);
  });

  it('the readers work: a quoted metric and a link that do not exist are found', () => {
    expect(METRIC.exec('late_events_total')?.[1]).toBe('late_events_total');
    expect(METRIC.exec('consumer_lag{topic,partition}')?.[1]).toBe('consumer_lag');
    expect(exportedSeries().has('late_events')).toBe(false);
    expect(anchorOf('Two ClickHouse versions')).toBe('two-clickhouse-versions');
    expect(anchorOf('`POST /logs`: validation')).toBe('post-logs-validation');
  });
});
