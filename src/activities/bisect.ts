/**
 * Activities of a bisect: list the commits between good and bad in the repository, compare a
 * commit's pooled rounds with the good commit's, and store the answer.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ArtifactStore } from '../artifacts/store';
import { getJson, toJson } from '../artifacts/store';
import {
  bisectLayout,
  checkBisectRef,
  commitVerdictOf,
  parseRevList,
  type BisectRecord,
  type BisectStep,
  type CommitVerdict,
} from '../core/bisect';
import { compareReports, parseThresholds } from '../core/compare';
import { InputError } from '../core/errors';
import { layout } from '../core/layout';
import type { MatrixEntry } from '../core/matrix';
import { entryReports, parseIteration, type EntryReport, type IterationResult } from '../core/report';
import { readJobSpecs } from '../shared/job-specs';
import { checkRepoLocation } from '../core/repo';
import { runGit } from './git';

/** Cloning and listing a large repository may take a while. */
const GIT_TIMEOUT_MS = 10 * 60_000;

const git = (args: string[], what: string, cwd?: string): Promise<string> =>
  runGit(args, what, { cwd, timeoutMs: GIT_TIMEOUT_MS, maxBufferBytes: 256 * 2 ** 20 });

export interface ResolveBisectRangeInput {
  repo: string;
  good: string;
  bad: string;
}

export interface BisectRange {
  good: string;
  bad: string;
  /** `git rev-list --ancestry-path good..bad`, oldest first: the bad commit is last. */
  commits: string[];
}

/**
 * Lists the commits from good to bad: a bare, blob-less clone of the repository into a
 * temporary folder (commits and trees only: what rev-list needs), removed afterwards.
 */
export async function resolveBisectRange(input: ResolveBisectRangeInput): Promise<BisectRange> {
  const { repo } = input;
  checkRepoLocation(repo, '--repo');
  const good = checkBisectRef(input.good, { flag: '--good' });
  const bad = checkBisectRef(input.bad, { flag: '--bad' });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gcsfuse-bench-bisect-'));
  try {
    await git(['clone', '--quiet', '--bare', '--filter=blob:none', '--', repo, dir], `git clone ${repo}`);
    const sha = async (ref: string, flag: string) => {
      try {
        return (await git(['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`], `git rev-parse ${ref}`, dir)).trim();
      } catch (err) {
        if (err instanceof InputError) throw new InputError(`${repo} has no commit, tag or branch "${ref}"`, { flag });
        throw err;
      }
    };
    const [goodSha, badSha] = [await sha(good, '--good'), await sha(bad, '--bad')];
    if (goodSha === badSha) throw new InputError(`${good} and ${bad} are the same commit (${goodSha})`, { flag: '--bad' });
    const out = await git(['rev-list', '--ancestry-path', '--reverse', `${goodSha}..${badSha}`], `git rev-list ${good}..${bad}`, dir);
    return { good: goodSha, bad: badSha, commits: parseRevList(out, good, bad) };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/**
 * One test's report pooled over several benchmarks (a commit's rounds): every iteration's fio
 * output read again and summarised as one entry, so the t-test sees all iterations. A round whose
 * entry did not pass makes the pooled entry failed.
 */
export async function pooledReport(store: ArtifactStore, benchmarkIds: readonly string[]): Promise<EntryReport[]> {
  const results: IterationResult[] = [];
  let entry: MatrixEntry | undefined;
  let vm: string | null = null;
  let status: EntryReport['status'] = 'passed';
  for (const id of benchmarkIds) {
    const reports = await getJson<EntryReport[]>(store, layout.report(id, 'results.json'));
    if (!reports) throw new Error(`benchmark ${id} has no report/results.json`);
    // One test and one config: one matrix entry (several reports only for several fio groups).
    const r = reports[0];
    if (!r || reports.some((x) => x.matrixId !== r.matrixId)) throw new Error(`benchmark ${id} is not of one test and one config`);
    const specs = await readJobSpecs(store, id);
    entry ??= specs.flatMap((s) => s.entries).find((e) => e.matrixId === r.matrixId);
    if (r.status !== 'passed' || !r.vm) {
      status = r.status;
      continue;
    }
    vm ??= r.vm;
    for (let i = 1; i <= r.iterations; i++) {
      const key = layout.fioOutput(id, r.vm, r.matrixId, i);
      const buf = await store.get(key);
      if (!buf) throw new Error(`${store.urlOf(key)} is missing although its entry passed`);
      results.push(parseIteration(buf.toString('utf8'), store.urlOf(key)));
    }
  }
  if (!entry) throw new Error(`no job spec of ${benchmarkIds.join(', ')} has the entry`);
  return entryReports(entry, vm, status, results);
}

export interface CompareBisectInput {
  goodBenchmarkIds: string[];
  candidateBenchmarkIds: string[];
  maxRegression: string;
  alpha: number;
}

export interface CommitJudgement {
  verdict: CommitVerdict;
  reason: string;
  iterations: { good: number; candidate: number };
  metrics: BisectStep['metrics'];
  /** Set when a side's benchmark did not pass: more iterations would not help. */
  failed: string | null;
}

/** Compares a commit's pooled rounds with the good commit's, with compare's test and thresholds. */
export async function compareBisectCommits(store: ArtifactStore, input: CompareBisectInput): Promise<CommitJudgement> {
  const good = await pooledReport(store, input.goodBenchmarkIds);
  const candidate = await pooledReport(store, input.candidateBenchmarkIds);
  const iterations = { good: good[0]?.iterations ?? 0, candidate: candidate[0]?.iterations ?? 0 };
  const failedSide = good.some((r) => r.status !== 'passed')
    ? `the good commit's benchmark (${input.goodBenchmarkIds.join(', ')})`
    : candidate.some((r) => r.status !== 'passed')
      ? `benchmark ${input.candidateBenchmarkIds.join(', ')}`
      : null;
  if (failedSide) return { verdict: 'inconclusive', reason: `${failedSide} did not pass`, iterations, metrics: [], failed: failedSide };
  // Both sides are one test under one config label: matched by test id (and fio group).
  const comparison = compareReports(
    { benchmarkId: input.goodBenchmarkIds[0]!, config: good[0]!.configLabel, reports: good },
    { benchmarkId: input.candidateBenchmarkIds[0]!, config: candidate[0]!.configLabel, reports: candidate },
    { alpha: input.alpha, thresholds: parseThresholds(input.maxRegression) },
  );
  const { verdict, reason } = commitVerdictOf(comparison);
  const metrics = comparison.rows
    .filter((r) => r.thresholdPct !== null)
    .map((r) => ({
      metric: r.metric,
      unit: r.unit,
      good: r.baseline,
      candidate: r.candidate,
      deltaPct: r.deltaPct,
      p: r.p,
      thresholdPct: r.thresholdPct,
      verdict: r.verdict,
    }));
  return { verdict, reason, iterations, metrics, failed: null };
}

/** Stores the answer as `_bisects/<id>/bisect.json` (replaced by a later bisect of the same id). */
export async function writeBisectRecord(store: ArtifactStore, record: BisectRecord): Promise<string> {
  const key = bisectLayout.record(record.bisectId);
  await store.put(key, toJson(record));
  return store.urlOf(key);
}

export function bisectActivities(deps: { store: ArtifactStore }) {
  return {
    resolveBisectRange: (input: ResolveBisectRangeInput) => resolveBisectRange(input),
    compareBisectCommits: (input: CompareBisectInput) => compareBisectCommits(deps.store, input),
    writeBisectRecord: (record: BisectRecord) => writeBisectRecord(deps.store, record),
  };
}
