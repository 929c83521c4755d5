import {
  executeChild,
  isCancellation,
  log,
  ParentClosePolicy,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { OrchestratorActivities } from '../activities';
import { suiteBenchmarkId, type SuiteRunInput, type SuiteVerdict, type VerdictRecord } from '../core/suite';
import { FAILURE_TYPES, SEARCH_ATTRIBUTES } from '../shared/names';
import { orchestratorActivityOptions } from './activity-options';
import { benchmarkWorkflow } from './benchmark';
import { suiteRunQuery, type SuiteRunPhase, type SuiteRunState } from './suite-definitions';

const activities = proxyActivities<OrchestratorActivities>(orchestratorActivityOptions('10 minutes'));

// A chat or paging endpoint may be down for a while: keep trying for about an hour.
const alerts = proxyActivities<OrchestratorActivities>({
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '10 minutes',
    maximumAttempts: 12,
    nonRetryableErrorTypes: [FAILURE_TYPES.input],
  },
});

export interface SuiteRunResult {
  suite: string;
  benchmarkId: string;
  ref: string;
  commit: string;
  verdict: SuiteVerdict;
  reason: string;
  baselineId: string | null;
  /** The webhook call on a regression: sent, failed (after Temporal's retries) or none. */
  alert: 'none' | 'sent' | { failed: string };
}

const fmt = (v: number | null) => (v === null ? '-' : Math.abs(v) >= 1000 ? v.toFixed(0) : v.toPrecision(4));

/** The verdict as the Web UI shows it in the run's current details (Markdown). */
function verdictDetails(v: VerdictRecord): string {
  const lines = [
    `**${v.verdict}**: suite \`${v.suite}\`, gcsfuse ${v.ref} (${v.commit.slice(0, 12)}), benchmark \`${v.benchmarkId}\`` +
      (v.baselineId ? ` vs baseline \`${v.baselineId}\`` : ''),
    '',
    v.reason,
  ];
  if (v.regressions.length > 0) {
    lines.push('', '| test | metric | baseline | candidate | change | p | threshold |', '| --- | --- | --- | --- | --- | --- | --- |');
    for (const r of v.regressions) {
      lines.push(
        `| ${r.testId} | ${r.metric} (${r.unit}) | ${fmt(r.baseline)} | ${fmt(r.candidate)} | ${r.deltaPct === null ? '-' : `${r.deltaPct.toFixed(1)}%`} | ${r.p === null ? '-' : r.p.toPrecision(2)} | ${r.thresholdPct ?? '-'}% |`,
      );
    }
  }
  return lines.join('\n');
}

/**
 * One run of a suite, as a schedule starts it: resolve the gcsfuse ref now, run an ordinary
 * benchmark as a child (its own id, searchable by BenchmarkSuite), judge it against the suite's
 * baseline, record the verdict (artifact store, current details, BenchmarkVerdict), and call
 * the suite's webhook on a regression. Its input is the suite's name and the hash of its
 * stored inputs only.
 */
export async function suiteRunWorkflow(input: SuiteRunInput): Promise<SuiteRunResult> {
  const info = workflowInfo();
  const benchmarkId = suiteBenchmarkId(input.suite, info.startTime, info.firstExecutionRunId);
  const state: SuiteRunState = { suite: input.suite, benchmarkId, phase: 'resolving-ref' };
  setHandler(suiteRunQuery, () => state);
  const phase = (p: SuiteRunPhase, details: string): void => {
    state.phase = p;
    setCurrentDetails(details);
  };
  phase('resolving-ref', `resolving the gcsfuse ref of suite \`${input.suite}\``);

  const resolved = await activities.resolveSuiteRef({ suite: input.suite, specSha256: input.specSha256 });
  state.ref = resolved.ref;
  state.commit = resolved.commit;
  const prepared = await activities.prepareSuiteRun({
    suite: input.suite,
    specSha256: input.specSha256,
    benchmarkId,
    commit: resolved.commit,
  });

  phase('benchmarking', `**benchmarking** gcsfuse ${resolved.ref} (${resolved.commit.slice(0, 12)}): benchmark \`${benchmarkId}\``);
  const searchable = input.searchable && info.typedSearchAttributes.get(SEARCH_ATTRIBUTES.suite) !== undefined;
  try {
    await executeChild(benchmarkWorkflow, {
      workflowId: benchmarkId,
      args: [prepared.request],
      // Cancelled rather than abandoned if this run ends: the agents must stop fio.
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      typedSearchAttributes: searchable
        ? [
            { key: SEARCH_ATTRIBUTES.benchmarkId, value: benchmarkId },
            { key: SEARCH_ATTRIBUTES.gcsfuseCommit, value: prepared.commits },
            { key: SEARCH_ATTRIBUTES.fleet, value: prepared.fleetLabel },
            { key: SEARCH_ATTRIBUTES.status, value: 'starting' },
            { key: SEARCH_ATTRIBUTES.suite, value: input.suite },
          ]
        : undefined,
      memo: { suite: input.suite, gcsfuseRef: resolved.ref, suiteRun: info.workflowId },
    });
  } catch (err) {
    if (!isCancellation(err)) phase('failed', `**failed**: benchmark \`${benchmarkId}\` did not finish`);
    throw err;
  }

  phase('judging', `judging benchmark \`${benchmarkId}\` against the suite's baseline`);
  const verdict = await activities.judgeSuiteRun({
    suite: input.suite,
    specSha256: input.specSha256,
    benchmarkId,
    ref: resolved.ref,
    commit: resolved.commit,
    startedAt: info.startTime.toISOString(),
  });
  state.verdict = verdict.verdict;
  if (searchable) upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.verdict, value: verdict.verdict }]);

  let alert: SuiteRunResult['alert'] = 'none';
  if (verdict.verdict === 'regression' && prepared.webhook) {
    phase('alerting', verdictDetails(verdict));
    try {
      await alerts.notifyWebhook({ webhook: prepared.webhook, verdict });
      alert = 'sent';
    } catch (err) {
      if (isCancellation(err)) throw err;
      // The verdict stands and is recorded; a webhook that stayed down is reported, not fatal.
      const cause = (err as { cause?: Error }).cause ?? (err as Error);
      alert = { failed: cause.message };
      log.warn('the regression webhook failed', { webhook: prepared.webhook, error: cause.message });
    }
  }
  state.alert = alert;
  phase(
    'done',
    verdictDetails(verdict) +
      (alert === 'sent'
        ? `\n\nwebhook \`${prepared.webhook}\` notified`
        : typeof alert === 'object'
          ? `\n\nwebhook \`${prepared.webhook}\` failed: ${alert.failed}`
          : ''),
  );
  return {
    suite: input.suite,
    benchmarkId,
    ref: resolved.ref,
    commit: resolved.commit,
    verdict: verdict.verdict,
    reason: verdict.reason,
    baselineId: verdict.baselineId,
    alert,
  };
}
