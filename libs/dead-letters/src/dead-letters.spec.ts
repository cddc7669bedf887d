import { deadLetterHeaders } from '@pipeline/contract';
import { countByReason, DeadLetterRecord, describeLetter, parsePlace, replayMessage, selectForReplay, toDeadLetter } from './dead-letters';

const headersOf = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Buffer.from(v)]));

function letter(o: { offset: string; partition?: number; code: string; customer?: string; key?: string | null; sourceOffset?: string; extra?: Record<string, string> }): DeadLetterRecord {
  return {
    topic: 'batch-ingested-dlq',
    partition: o.partition ?? 0,
    offset: o.offset,
    key: o.key === null ? null : Buffer.from(o.key ?? `${o.customer ?? 'cus-a'}|b-${o.offset}`),
    value: Buffer.from(`{"v":1,"n":${o.offset}}`),
    headers: headersOf({
      'raw-body': '[1]',
      ...o.extra,
      ...deadLetterHeaders({
        reasonCode: o.code,
        reason: `because ${o.code}`,
        sourceTopic: 'batch-ingested',
        sourcePartition: 2,
        sourceOffset: o.sourceOffset ?? `10${o.offset}`,
        group: 'batch-summarizer',
        failedAt: '2026-01-01T00:00:00.000Z',
        customerId: o.customer,
        batchId: o.customer ? `b-${o.offset}` : undefined,
      }),
    }),
  };
}

describe('dead letters', () => {
  it('read their reason and source from the headers, and their customer from the header or the key', () => {
    const l = toDeadLetter(letter({ offset: '5', code: 'object_missing', customer: 'cus-x' }));
    expect(l.info).toMatchObject({ reasonCode: 'object_missing', sourceTopic: 'batch-ingested', sourcePartition: 2, sourceOffset: '105', batchId: 'b-5' });
    expect(l.customerId).toBe('cus-x');
    expect(toDeadLetter(letter({ offset: '6', code: 'not_json', key: 'cus-k|2025-12-28T18:03Z' })).customerId).toBe('cus-k');
    expect(toDeadLetter(letter({ offset: '7', code: 'not_json', key: null })).customerId).toBeUndefined();
    expect(toDeadLetter(letter({ offset: '8', code: 'x', extra: { 'dlq-value-dropped': 'true' } })).valueDropped).toBe(true);
    expect(describeLetter(l)).toMatch(/^0:5 {2}object_missing {2}customer=cus-x {2}batch=b-5 .*from=batch-ingested\/2\/105.*\n {6}because object_missing$/);
  });

  it('are selected by reason, customer and place (AND across kinds, OR within one)', () => {
    const letters = [
      toDeadLetter(letter({ offset: '1', code: 'object_missing', customer: 'cus-a' })),
      toDeadLetter(letter({ offset: '2', code: 'object_invalid', customer: 'cus-a' })),
      toDeadLetter(letter({ offset: '3', code: 'object_missing', customer: 'cus-b' })),
      toDeadLetter(letter({ offset: '4', partition: 1, code: 'event_invalid', customer: 'cus-c' })),
    ];
    const offsets = (s: Parameters<typeof selectForReplay>[1]) => selectForReplay(letters, s).selected.map((l) => l.record.offset);
    expect(offsets({})).toEqual(['1', '2', '3', '4']);
    expect(offsets({ reasons: ['object_missing'] })).toEqual(['1', '3']);
    expect(offsets({ reasons: ['object_missing', 'event_invalid'], customers: ['cus-b', 'cus-c'] })).toEqual(['3', '4']);
    expect(offsets({ offsets: [parsePlace('1:4')!, parsePlace('0:2')!] })).toEqual(['2', '4']);
    expect(offsets({ offsets: [parsePlace('0:4')!] })).toEqual([]);
    expect(countByReason(letters)).toEqual([
      ['object_missing', 2],
      ['event_invalid', 1],
      ['object_invalid', 1],
    ]);
  });

  it('replay each source message once, however often it was dead-lettered', () => {
    const letters = [
      toDeadLetter(letter({ offset: '1', code: 'object_missing', sourceOffset: '50' })),
      toDeadLetter(letter({ offset: '2', code: 'object_missing', sourceOffset: '50' })),
      toDeadLetter(letter({ offset: '3', code: 'object_missing', sourceOffset: '51' })),
    ];
    const { selected, repeats } = selectForReplay(letters, {});
    expect(selected.map((l) => l.record.offset)).toEqual(['1', '3']);
    expect(repeats.map((l) => l.record.offset)).toEqual(['2']);
  });

  it('are replayed with their original key, value and headers, without the dead-letter headers', () => {
    const l = toDeadLetter(letter({ offset: '1', code: 'object_missing', customer: 'cus-a', extra: { trace: 't-1' } }));
    const m = replayMessage(l);
    expect(m.key?.toString()).toBe('cus-a|b-1');
    expect(m.value.toString()).toBe('{"v":1,"n":1}');
    expect(Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k, v.toString()]))).toEqual({ 'raw-body': '[1]', trace: 't-1' });
  });

  it('take a dropped value from the original message', () => {
    const l = toDeadLetter({ ...letter({ offset: '1', code: 'kafka_message_too_large', extra: { 'dlq-value-dropped': 'true' } }), value: Buffer.alloc(0) });
    const m = replayMessage(l, { key: Buffer.from('k'), value: Buffer.from('big'), headers: { h: Buffer.from('1') } });
    expect([m.key?.toString(), m.value.toString(), Object.keys(m.headers)]).toEqual(['k', 'big', ['h']]);
  });

  it('are placed as partition:offset', () => {
    expect(parsePlace('3:17')).toEqual({ partition: 3, offset: '17' });
    expect(parsePlace('3:017')).toEqual({ partition: 3, offset: '17' });
    expect(parsePlace('17')).toBeNull();
  });
});
