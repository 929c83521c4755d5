import { getJson, toJson, type ArtifactStore } from '../artifacts/store';
import { renderHtmlReport } from '../core/html-report';
import { isSafeId } from '../core/ids';
import { layout } from '../core/layout';
import { reportCsv, reportsByConfig, reportSummary, type EntryReport } from '../core/report';

export interface ReportInput {
  benchmarkId: string;
  /** Also write one CSV per config, report/<label>.csv (the original tool's --separate-configs). */
  separateConfigs?: boolean;
  /** Set for the partial report of a benchmark that did not run to its end (e.g. "cancelled"). */
  incompleteReason?: string;
}

export interface ReportSummary {
  keys: string[];
  urls: string[];
  /** As summary.json says: every entry has its final result and the benchmark ran to its end. */
  complete: boolean;
}

/** Report file names a config label must not take. */
const RESERVED = new Set(['combined_report', 'results', 'summary', 'report']);

/** File name of a config's CSV: report/<label>.csv (labels are safe ids); a reserved or odd label gets a prefix. */
export function configCsvName(label: string): string {
  return isSafeId(label) && !RESERVED.has(label) ? `${label}.csv` : `config-${encodeURIComponent(label).replace(/%/g, '_')}.csv`;
}

/**
 * Renders the aggregated results (report/results.json, which keeps every per-iteration value)
 * into the files users read: combined_report.csv, summary.json, report.html and, when asked,
 * one CSV per config. Derived files are replaced when a resumed benchmark reports again.
 * Takes a benchmark id (the original signature) or a ReportInput.
 */
export async function writeReport(store: ArtifactStore, input: string | ReportInput): Promise<ReportSummary> {
  const { benchmarkId, separateConfigs = false, incompleteReason } = typeof input === 'string' ? { benchmarkId: input } : input;
  const resultsKey = layout.report(benchmarkId, 'results.json');
  const reports = await getJson<EntryReport[]>(store, resultsKey);
  if (!reports) throw new Error(`${store.urlOf(resultsKey)} is missing: aggregate first`);
  const summary = reportSummary(benchmarkId, reports, incompleteReason);
  const files: [string, string][] = [
    ['combined_report.csv', reportCsv(reports)],
    ['summary.json', toJson(summary)],
    ['report.html', renderHtmlReport(benchmarkId, reports)],
  ];
  if (separateConfigs) {
    for (const [label, entries] of reportsByConfig(reports)) files.push([configCsvName(label), reportCsv(entries)]);
  }
  const keys: string[] = [];
  for (const [name, content] of files) {
    const key = layout.report(benchmarkId, name);
    await store.put(key, content);
    keys.push(key);
  }
  keys.splice(1, 0, resultsKey);
  return { keys, urls: keys.map((k) => store.urlOf(k)), complete: summary.complete };
}
