import type { LogEntry } from '@pipeline/entry';
import { USER_AGENTS, userAgentTable } from './user-agents';
import { customerId, GeneratorOptions, isoAt, JSON_CONTENT_TYPE, jsonBody, pad, Scenario, seededRandom, Send } from './model';

export const LATE_DAY = '2025-07-04';
/** The minute (15:02) that receives data again after it is visible. */
export const LATE_MINUTE = `${LATE_DAY}T15:02Z`;

export interface LateData {
  /** Minutes 15:00..15:04, then an hour of newer minutes (15:30..16:29); sent first and awaited until exact. */
  initial: Scenario;
  /** Batches for 15:02 (and a little for 15:04), sent once those windows are visible. */
  late: Scenario;
  /** Both phases: the expected results after the late batches. */
  all: Scenario;
}

/**
 * Late data: minutes that are already written receive more batches. The windows must grow to the
 * exact new counts (a correction, not a second row) and the aggregator counts late events. The
 * newer hour makes the late batches late by any measure: their minutes were written, and event
 * time has moved on by half an hour on every partition (well past any allowed lateness).
 */
export function scenarioLateData(options: GeneratorOptions = {}): LateData {
  const customer = customerId('cus-late', options);
  const random = seededRandom(6006);
  // Minutes counted from 15:00: 90 is 16:30.
  const entry = (minutes: number[]): LogEntry => {
    const m = minutes[Math.floor(random() * minutes.length)];
    return {
      receivedAt: isoAt(LATE_DAY, 15 + Math.floor(m / 60), m % 60, Math.floor(random() * 60), Math.floor(random() * 1000)),
      method: 'GET',
      path: `/late/${Math.floor(random() * 4)}`,
      userAgent: USER_AGENTS[Math.floor(random() * 4)][0],
    };
  };
  const batch = (key: string, minutes: number[]): Send => {
    const entries = Array.from({ length: 25 }, () => entry(minutes));
    return { customerId: customer, idempotencyKey: key, body: jsonBody(entries), contentType: JSON_CONTENT_TYPE, entries, expect: { kind: 'accepted' } };
  };
  const initialSends = [
    ...Array.from({ length: 100 }, (_, i) => batch(`early-${pad(i + 1, 4)}`, [0, 1, 2, 3, 4])),
    ...Array.from({ length: 60 }, (_, i) => batch(`newer-${pad(i + 1, 4)}`, [30 + i, 30 + ((i + 1) % 60)])),
  ];
  const lateSends = [
    ...Array.from({ length: 8 }, (_, i) => batch(`late-${pad(i + 1, 4)}`, [2])),
    ...Array.from({ length: 2 }, (_, i) => batch(`late-${pad(i + 9, 4)}`, [2, 4])),
  ];
  const families = userAgentTable(4);
  const scenario = (id: string, title: string, sends: Send[]): Scenario => ({ id, title, inFlight: 4, sends, families, customers: [customer] });
  return {
    initial: scenario('006_late_data', 'late data: initial minutes', initialSends),
    late: scenario('006_late_data', 'late data: batches for visible minutes', lateSends),
    all: scenario('006_late_data', 'late data', [...initialSends, ...lateSends]),
  };
}
