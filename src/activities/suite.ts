/**
 * Activities of a suite run: resolve the gcsfuse ref, turn the stored suite into a benchmark
 * request, judge the finished run against the suite's baseline, and call the webhook.
 */
import type { ArtifactStore } from '../artifacts/store';
import { getJson, toJson } from '../artifacts/store';
import { compareReports, parseThresholds } from '../core/compare';
import { InputError } from '../core/errors';
import { layout } from '../core/layout';
import type { EntryReport } from '../core/report';
import { prepareBenchmark, type BenchmarkRequest } from '../core/spec';
import {
  regressionAlert,
  resolveRefFromLsRemote,
  suiteLayout,
  suiteVerdictOf,
  webhookEnvName,
  type BaselinePointer,
  type RefSpec,
  type ResolvedRef,
  type SuiteRunRecord,
  type SuiteSpec,
  type VerdictRecord,
} from '../core/suite';
import { fleetLabel } from '../core/fleet-label';
import { checkRepoLocation } from '../core/repo';
import { runGit } from './git';

const GIT_TIMEOUT_MS = 60_000;

/** `git ls-remote` of the repository, with no credentials, prompts or config of the worker's user. */
export async function resolveGcsfuseRef(repo: string, spec: RefSpec): Promise<ResolvedRef> {
  if (spec.kind === 'commit') return { ref: spec.sha, commit: spec.sha };
  checkRepoLocation(repo, '--gcsfuse-repo');
  const args = ['ls-remote', spec.kind === 'tag' ? '--tags' : '--heads', repo];
  const stdout = await runGit(args, `git ls-remote ${repo}`, {
    timeoutMs: GIT_TIMEOUT_MS,
    maxBufferBytes: 64 * 2 ** 20,
    location: { flag: '--gcsfuse-repo' },
  });
  return resolveRefFromLsRemote(stdout, spec, repo);
}

export interface PrepareSuiteRunInput {
  suite: string;
  specSha256: string;
  benchmarkId: string;
  commit: string;
}

export interface PreparedSuiteRun {
  request: BenchmarkRequest;
  /** Search attribute values of the benchmark, as `startBenchmark` sets them. */
  fleetLabel: string;
  commits: string[];
  webhook: string | null;
}

export async function readSuiteSpec(store: ArtifactStore, suite: string, specSha256: string): Promise<SuiteSpec> {
  const spec = await getJson<SuiteSpec>(store, suiteLayout.spec(suite, specSha256));
  if (!spec)
    throw new InputError(`suite "${suite}" has no stored inputs ${specSha256} in ${store.urlOf(suiteLayout.spec(suite, specSha256))}`);
  return spec;
}

/** The benchmark request of one run: the suite's inputs, its own id, and the commit resolved for it. */
export async function prepareSuiteRun(store: ArtifactStore, input: PrepareSuiteRunInput): Promise<PreparedSuiteRun> {
  const spec = await readSuiteSpec(store, input.suite, input.specSha256);
  const request: BenchmarkRequest = { ...spec.request, benchmarkId: input.benchmarkId, gcsfuseCommit: input.commit };
  const prepared = prepareBenchmark(request);
  return {
    request,
    fleetLabel: fleetLabel(request.fleet),
    commits: [...new Set(prepared.configs.map((c) => c.commit))],
    webhook: spec.webhook ?? null,
  };
}

export interface JudgeSuiteRunInput {
  suite: string;
  specSha256: string;
  benchmarkId: string;
  ref: string;
  commit: string;
  startedAt: string;
}

/**
 * Compares the run with the suite's baseline and records the verdict: `<run>/verdict.json`,
 * the suite's run record, and the baseline moved to this run when it passed (unless pinned).
 * Idempotent: a retry after the verdict was written returns it (the baseline may have moved to
 * this very run by then).
 */
export async function judgeSuiteRun(store: ArtifactStore, input: JudgeSuiteRunInput): Promise<VerdictRecord> {
  const existing = await getJson<VerdictRecord>(store, suiteLayout.verdict(input.benchmarkId));
  const verdict = existing ?? (await computeVerdict(store, input));
  if (!existing) await store.putOnce(suiteLayout.verdict(input.benchmarkId), toJson(verdict));
  const record: SuiteRunRecord = {
    suite: input.suite,
    benchmarkId: input.benchmarkId,
    ref: input.ref,
    commit: input.commit,
    startedAt: input.startedAt,
    verdict: verdict.verdict,
    baselineId: verdict.baselineId,
  };
  await store.put(suiteLayout.run(input.suite, input.benchmarkId), toJson(record));
  const pointer = await getJson<BaselinePointer>(store, suiteLayout.baseline(input.suite));
  const becomesBaseline = verdict.verdict === 'pass' || (verdict.verdict === 'no-baseline' && verdict.reason.startsWith(BECOMES_BASELINE));
  if (becomesBaseline && !pointer?.pinned) {
    await store.put(suiteLayout.baseline(input.suite), toJson({ benchmarkId: input.benchmarkId, pinned: false } satisfies BaselinePointer));
  }
  return verdict;
}

const BECOMES_BASELINE = 'the suite had no baseline: this run is it';

async function computeVerdict(store: ArtifactStore, input: JudgeSuiteRunInput): Promise<VerdictRecord> {
  const spec = await readSuiteSpec(store, input.suite, input.specSha256);
  const base = { suite: input.suite, benchmarkId: input.benchmarkId, ref: input.ref, commit: input.commit, regressions: [] };
  const candidate = await getJson<EntryReport[]>(store, layout.report(input.benchmarkId, 'results.json'));
  if (!candidate) throw new Error(`benchmark ${input.benchmarkId} has no report/results.json`);
  const failed = candidate.filter((r) => r.status !== 'passed').length;
  const pointer = await getJson<BaselinePointer>(store, suiteLayout.baseline(input.suite));
  if (!pointer) {
    return {
      ...base,
      baselineId: null,
      verdict: 'no-baseline',
      reason: failed === 0 ? BECOMES_BASELINE : `the suite has no baseline, and this run cannot be it: ${failed} entries did not pass`,
      comparison: null,
    };
  }
  const baseline = await getJson<EntryReport[]>(store, layout.report(pointer.benchmarkId, 'results.json'));
  if (!baseline) {
    return {
      ...base,
      baselineId: pointer.benchmarkId,
      verdict: 'inconclusive',
      reason: `the baseline ${pointer.benchmarkId} has no report/results.json`,
      comparison: null,
    };
  }
  let comparison;
  try {
    comparison = compareReports(
      { benchmarkId: pointer.benchmarkId, reports: baseline },
      { benchmarkId: input.benchmarkId, reports: candidate },
      { alpha: spec.gate.alpha, thresholds: parseThresholds(spec.gate.maxRegression) },
    );
  } catch (err) {
    // A comparison that cannot be made (e.g. nothing in common) judges nothing.
    if (!(err instanceof InputError)) throw err;
    return { ...base, baselineId: pointer.benchmarkId, verdict: 'inconclusive', reason: err.message, comparison: null };
  }
  const { verdict, reason } = suiteVerdictOf(comparison, failed);
  const regressions = comparison.rows
    .filter((r) => r.verdict === 'regression')
    .map(({ testId, baselineConfig, metric, unit, baseline: b, candidate: c, deltaPct, p, thresholdPct }) => ({
      testId,
      baselineConfig,
      metric,
      unit,
      baseline: b,
      candidate: c,
      deltaPct,
      p,
      thresholdPct,
    }));
  return { ...base, baselineId: pointer.benchmarkId, verdict, reason, regressions, comparison };
}

export interface NotifyInput {
  webhook: string;
  verdict: VerdictRecord;
}

export type WebhookResolver = (name: string) => string | undefined;

/** Webhook URLs from the orchestrator worker's environment (GCSFUSE_BENCH_WEBHOOK_<NAME>). */
export const webhooksFromEnv =
  (env: NodeJS.ProcessEnv = process.env): WebhookResolver =>
  (name) =>
    env[webhookEnvName(name)];

const WEBHOOK_TIMEOUT_MS = 15_000;

/** POSTs the regression alert; a failed call throws, so Temporal retries it with backoff. */
export async function notifyWebhook(resolve: WebhookResolver, input: NotifyInput): Promise<{ status: number }> {
  const url = resolve(input.webhook);
  if (!url)
    throw new InputError(
      `the orchestrator worker has no webhook "${input.webhook}": set ${webhookEnvName(input.webhook)} in its environment`,
    );
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InputError(`${webhookEnvName(input.webhook)} is not a URL`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')
    throw new InputError(`${webhookEnvName(input.webhook)} must be an http(s) URL`);
  const res = await fetch(parsed, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(regressionAlert(input.verdict)),
    redirect: 'error',
    signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
  });
  // The URL stays out of the message: it is the secret.
  if (!res.ok) throw new Error(`webhook "${input.webhook}" answered ${res.status} ${res.statusText}`);
  return { status: res.status };
}

export interface SuiteActivityDeps {
  store: ArtifactStore;
  webhooks?: WebhookResolver;
}

/** The commit a suite's run benchmarks: its ref spec resolved against its repository now. */
export async function resolveSuiteRef(store: ArtifactStore, input: { suite: string; specSha256: string }): Promise<ResolvedRef> {
  const spec = await readSuiteSpec(store, input.suite, input.specSha256);
  return resolveGcsfuseRef(spec.gcsfuse.repo, spec.gcsfuse.ref);
}

export function suiteActivities(deps: SuiteActivityDeps) {
  return {
    resolveSuiteRef: (input: { suite: string; specSha256: string }) => resolveSuiteRef(deps.store, input),
    prepareSuiteRun: (input: PrepareSuiteRunInput) => prepareSuiteRun(deps.store, input),
    judgeSuiteRun: (input: JudgeSuiteRunInput) => judgeSuiteRun(deps.store, input),
    notifyWebhook: (input: NotifyInput) => notifyWebhook(deps.webhooks ?? webhooksFromEnv(), input),
  };
}
