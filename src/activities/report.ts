import { getJson, toJson, type ArtifactStore } from '../artifacts/store';
import { renderHtmlReport } from '../core/html-report';
import { isSafeId } from '../core/ids';
import { layout } from '../core/layout';
import {
  DEFAULT_REPORT_NAME,
  isValidReportName,
  originalConfigReportName,
  originalReportCsv,
  reportFileNames,
  type ReportFormat,
} from '../core/original-report';
import { reportCsv, reportsByConfig, reportSummary, type EntryReport } from '../core/report';
import type { BenchmarkConfig } from '../core/spec';
import { takeReports } from './results-cache';

export interface ReportInput {
  benchmarkId: string;
  /** Also write one CSV per config, report/<label>.csv (the original tool's --separate-configs). */
  separateConfigs?: boolean;
  /** Set for the partial report of a benchmark that did not run to its end (e.g. "cancelled"). */
  incompleteReason?: string;
  /**
   * `original`: also the original tool's combined report (compat.md), under reportName. Both
   * default to what the benchmark's config.json says (the request's reportFormat/reportName).
   */
  reportFormat?: ReportFormat;
  /** File name of the combined report; default combined_report.csv. */
  reportName?: string;
}

export interface ReportSummary {
  keys: string[];
  urls: string[];
  /** As summary.json says: every entry has its final result and the benchmark ran to its end. */
  complete: boolean;
  /** Which file holds which combined report. */
  files: { own: string; original?: string };
  /** Set when the report name was not usable and the default was taken instead. */
  warning?: string;
}

/** Files of report/ a report name must not take. */
const RESERVED_FILES = new Set(['results.json', 'summary.json', 'report.html', 'iterations.ndjson', 'bigquery-schema.json']);

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
  const {
    benchmarkId,
    separateConfigs = false,
    incompleteReason,
    ...asked
  } = typeof input === 'string' ? ({ benchmarkId: input } as ReportInput) : input;
  const resultsKey = layout.report(benchmarkId, 'results.json');
  const stored = await store.get(resultsKey);
  if (!stored) throw new Error(`${store.urlOf(resultsKey)} is missing: aggregate first`);
  // Right after aggregate on this worker: its reports in memory, if results.json is still what it wrote.
  const reports = takeReports(store, resultsKey, stored) ?? (JSON.parse(stored.toString('utf8')) as EntryReport[]);
  // The workflow passes what it knows; the format and name otherwise come from the stored request.
  const config = await getJson<BenchmarkConfig>(store, layout.config(benchmarkId));
  const format = asked.reportFormat ?? config?.reportFormat ?? 'default';
  let reportName = asked.reportName ?? config?.reportName ?? DEFAULT_REPORT_NAME;
  let warning: string | undefined;
  // The CLI checks it; a request started without the CLI must still not lose the report or leave report/.
  if (!isValidReportName(reportName) || RESERVED_FILES.has(reportName)) {
    warning = `report name ${JSON.stringify(reportName)} is not a plain file name of its own: ${DEFAULT_REPORT_NAME} was used`;
    reportName = DEFAULT_REPORT_NAME;
  }
  const names = reportFileNames(format, reportName);
  // The analysis the aggregate activity applied (config.json), stated in summary.json's method.
  const analysis = { ciMinIterations: config?.ciMinIterations, fioGroups: config?.fioGroups };
  const summary = reportSummary(benchmarkId, reports, incompleteReason, analysis);
  const files: [string, string][] = [
    [names.own, reportCsv(reports)],
    ['summary.json', toJson(summary)],
    ['report.html', renderHtmlReport(benchmarkId, reports, analysis)],
  ];
  if (names.original) files.splice(1, 0, [names.original, originalReportCsv(reports)]);
  if (separateConfigs) {
    for (const [label, entries] of reportsByConfig(reports)) {
      files.push([configCsvName(label), reportCsv(entries)]);
      if (names.original) files.push([originalConfigReportName(names.original, label), originalReportCsv(entries)]);
    }
  }
  const keys: string[] = [];
  for (const [name, content] of files) {
    const key = layout.report(benchmarkId, name);
    await store.put(key, content);
    keys.push(key);
  }
  keys.splice(1, 0, resultsKey);
  return { keys, urls: keys.map((k) => store.urlOf(k)), complete: summary.complete, files: names, ...(warning ? { warning } : {}) };
}
