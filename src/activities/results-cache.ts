import { createHash } from 'node:crypto';
import type { ArtifactStore } from '../artifacts/store';
import type { EntryReport } from '../core/report';

/**
 * The reports the aggregate activity just wrote to results.json, kept for the report activity
 * that the workflow runs right after it on (usually) the same worker, so tens of MiB of JSON are
 * not parsed back. One benchmark per store; taken once (the report frees it). The digest of the
 * stored bytes must match, so a report on another worker, after a later aggregate or after
 * anyone changed results.json reads the file as before.
 *
 * The kept reports are results.json's minus the pooled latency histograms (clatHistogramNs,
 * emptied) of the entries whose test report.html draws no chart for (core/timeseries.ts
 * chartedTests): nothing else reads them, and they are most of a report's memory. The report
 * files are the same either way (test/unit/aggregate.test.ts checks it byte for byte).
 */
const recent = new WeakMap<ArtifactStore, { key: string; sha256: string; reports: EntryReport[] }>();

export const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

export function rememberReports(store: ArtifactStore, key: string, sha256: string, reports: EntryReport[]): void {
  recent.set(store, { key, sha256, reports });
}

/** The remembered reports of `key` if `stored` (its bytes as read now) is what was written; forgotten either way. */
export function takeReports(store: ArtifactStore, key: string, stored: Buffer): EntryReport[] | undefined {
  const held = recent.get(store);
  if (!held || held.key !== key) return undefined;
  recent.delete(store);
  return held.sha256 === sha256Hex(stored) ? held.reports : undefined;
}
