import { RejectedRecord } from './batches';

/** What became of one batch, as the ingestion finally answered it. */
export type BatchResult =
  | { kind: 'accepted'; entries: number }
  | { kind: 'duplicate'; entries: number }
  /** Refused for good (a 4xx), or still unavailable when the retries ran out. */
  | { kind: 'failed'; entries: number; firstLine: number; lastLine: number; key: string; reason: string };

/** The tally of one `send` run, and the summary and exit status it makes. */
export class SendReport {
  batches = { accepted: 0, duplicate: 0, failed: 0 };
  entries = { accepted: 0, duplicate: 0, failed: 0 };
  retries = 0;
  readonly rejected: RejectedRecord[] = [];
  readonly failures: Extract<BatchResult, { kind: 'failed' }>[] = [];

  reject(r: RejectedRecord): void {
    this.rejected.push(r);
  }

  record(result: BatchResult): void {
    this.batches[result.kind]++;
    this.entries[result.kind] += result.entries;
    if (result.kind === 'failed') this.failures.push(result);
  }

  /** Batches answered, whatever the answer. */
  get done(): number {
    return this.batches.accepted + this.batches.duplicate + this.batches.failed;
  }

  /** 0 when every batch was delivered (accepted or already there); 1 when one was refused or undeliverable. */
  exitCode(): number {
    return this.batches.failed > 0 ? 1 : 0;
  }

  /** The summary for people; at most `maxListed` rejected lines are listed one by one. `sent` names what a dry run did instead. */
  format(maxListed = 100, sent = 'sent'): string {
    const out = [
      `batches: ${this.batches.accepted} ${sent}, ${this.batches.duplicate} duplicates (already sent), ${this.batches.failed} failed`,
      `entries: ${this.entries.accepted} ${sent}, ${this.entries.duplicate} in duplicates, ${this.entries.failed} in failed batches`,
      `rejected lines: ${this.rejected.length} (not sent)`,
    ];
    if (this.retries > 0) out.push(`retries: ${this.retries}`);
    const sorted = [...this.rejected].sort((a, b) => a.ordinal - b.ordinal);
    for (const r of sorted.slice(0, maxListed)) out.push(`  line ${r.line}: ${r.reason}`);
    if (sorted.length > maxListed) out.push(`  ... and ${sorted.length - maxListed} more`);
    for (const f of this.failures) out.push(`failed batch ${f.key} (lines ${f.firstLine}-${f.lastLine}, ${f.entries} entries): ${f.reason}`);
    return out.join('\n');
  }
}
