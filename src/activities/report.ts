import { getJson, type ArtifactStore } from '../artifacts/store';
import { layout } from '../core/layout';
import { reportCsv, type EntryReport } from '../core/report';

export interface ReportSummary {
  keys: string[];
  urls: string[];
}

/** Renders the aggregated results into the report files users read. */
export async function writeReport(store: ArtifactStore, benchmarkId: string): Promise<ReportSummary> {
  const reports = await getJson<EntryReport[]>(store, layout.report(benchmarkId, 'results.json'));
  if (!reports) throw new Error(`${store.urlOf(layout.report(benchmarkId, 'results.json'))} is missing: aggregate first`);
  const csvKey = layout.report(benchmarkId, 'combined_report.csv');
  await store.put(csvKey, reportCsv(reports));
  const keys = [csvKey, layout.report(benchmarkId, 'results.json')];
  return { keys, urls: keys.map((k) => store.urlOf(k)) };
}
