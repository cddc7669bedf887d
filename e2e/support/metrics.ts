/** Sums every sample of the metrics whose name matches `name` (all label sets), from Prometheus text. */
export function sumMetric(text: string, name: RegExp): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match && name.test(match[1]) && !match[1].endsWith('_created')) total += Number(match[3]);
  }
  return total;
}

export async function scrapeMetrics(baseUrl: string): Promise<string> {
  const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`${baseUrl}/metrics answered ${res.status}`);
  return res.text();
}

/** The aggregator's count of late partials (`late_events_total`). */
export const LATE_EVENTS = /^(\w+_)?late_events(_total)?$/;
