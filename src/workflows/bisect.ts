import {
  executeChild,
  isCancellation,
  ParentClosePolicy,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { OrchestratorActivities } from '../activities';
import type { CommitJudgement } from '../activities/bisect';
import {
  bisectRoundId,
  maxProbesFor,
  moreIterations,
  nextProbe,
  type BisectInput,
  type BisectOutcome,
  type BisectRecord,
  type BisectStep,
} from '../core/bisect';
import type { BenchmarkRequest } from '../core/spec';
import { SEARCH_ATTRIBUTES } from '../shared/names';
import { orchestratorActivityOptions } from './activity-options';
import { benchmarkWorkflow } from './benchmark';
import { bisectQuery, type BisectPhase, type BisectState } from './bisect-definitions';

const activities = proxyActivities<OrchestratorActivities>(orchestratorActivityOptions('15 minutes'));

const short = (sha: string) => sha.slice(0, 12);
const pct = (v: number | null) => (v === null ? '-' : `${v > 0 ? '+' : ''}${v.toFixed(1)}%`);

/** The bisect as the Web UI shows it in the workflow's current details (Markdown). */
function details(s: BisectState, headline: string): string {
  const lines = [headline, ''];
  lines.push(
    `test \`${s.testId}\`, good ${s.good ? short(s.good) : '?'}, bad ${s.bad ? short(s.bad) : '?'}${s.commits !== undefined ? `, ${s.commits} commits` : ''}`,
  );
  if (s.range)
    lines.push(
      `range: last good ${short(s.range.lastGood)}, first bad ${short(s.range.firstBad)}, ${s.range.remaining} commit(s) between; probes ${s.steps.filter((x) => x.kind === 'probe').length} of at most ${s.maxProbes}`,
    );
  if (s.current) lines.push(`now: ${short(s.current.commit)} round ${s.current.round} (benchmark \`${s.current.benchmarkId}\`)`);
  if (s.steps.length) {
    lines.push('', '| # | commit | verdict | iterations (good/commit) | change | reason |', '| --- | --- | --- | --- | --- | --- |');
    for (const [i, st] of s.steps.entries()) {
      lines.push(
        `| ${i + 1} | ${short(st.commit)} | ${st.verdict} | ${st.iterations.good}/${st.iterations.candidate} | ${st.metrics.map((m) => `${m.metric} ${pct(m.deltaPct)}`).join(', ') || '-'} | ${st.reason.replace(/\|/g, '/')} |`,
      );
    }
  }
  return lines.join('\n');
}

/**
 * Finds the first commit between a good and a bad gcsfuse commit at which one test got worse:
 * lists the commits (`git rev-list --ancestry-path good..bad`), benchmarks the good commit, checks
 * that the bad one is worse beyond the thresholds, then halves the range, each probe an ordinary
 * child benchmark with gcsfuse-commit = the commit. A comparison with the good commit that cannot
 * decide (compare's "inconclusive", or a metric untested) adds a round of iterations to the side
 * with fewer, up to the cap; a commit still undecided there ends the bisect with the range so far.
 */
export async function bisectWorkflow(input: BisectInput): Promise<BisectRecord> {
  const info = workflowInfo();
  const state: BisectState = { bisectId: input.bisectId, phase: 'listing-commits', testId: input.testId, steps: [] };
  setHandler(bisectQuery, () => state);
  const phase = (p: BisectPhase, headline: string): void => {
    state.phase = p;
    setCurrentDetails(details(state, headline));
  };
  phase('listing-commits', `**listing commits** ${input.good}..${input.bad} in ${input.repo}`);

  const path = await activities.resolveBisectRange({ repo: input.repo, good: input.good, bad: input.bad });
  state.good = path.good;
  state.bad = path.bad;
  state.commits = path.commits.length;
  state.maxProbes = maxProbesFor(path.commits.length);
  const searchable = input.searchable;
  // Each commit's rounds (benchmark ids) and iterations so far: a later comparison pools them.
  const rounds = new Map<string, { ids: string[]; iterations: number }>();

  const runRound = async (commit: string, iterations: number): Promise<void> => {
    const done = rounds.get(commit) ?? { ids: [], iterations: 0 };
    const benchmarkId = bisectRoundId(input.bisectId, commit, done.ids.length + 1);
    state.current = { commit, round: done.ids.length + 1, benchmarkId };
    setCurrentDetails(details(state, `**${state.phase}**: benchmarking ${short(commit)} (${iterations} iterations)`));
    const request: BenchmarkRequest = { ...input.request, benchmarkId, gcsfuseCommit: commit, iterations, runName: benchmarkId };
    await executeChild(benchmarkWorkflow, {
      workflowId: benchmarkId,
      args: [request],
      // Cancelled rather than abandoned if the bisect ends: the agents must stop fio.
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      typedSearchAttributes: searchable
        ? [
            { key: SEARCH_ATTRIBUTES.benchmarkId, value: benchmarkId },
            { key: SEARCH_ATTRIBUTES.gcsfuseCommit, value: [commit] },
            { key: SEARCH_ATTRIBUTES.fleet, value: input.fleetLabel },
            { key: SEARCH_ATTRIBUTES.status, value: 'starting' },
          ]
        : undefined,
      memo: { bisect: info.workflowId, gcsfuseCommit: commit },
    });
    rounds.set(commit, { ids: [...done.ids, benchmarkId], iterations: done.iterations + iterations });
    state.current = undefined;
  };

  /** Benchmarks `commit` until its comparison with the good commit decides, or the cap is reached. */
  const judge = async (commit: string, index: number, kind: BisectStep['kind']): Promise<BisectStep> => {
    if (!rounds.has(commit)) await runRound(commit, input.iterations.initial);
    let j: CommitJudgement;
    for (;;) {
      j = await activities.compareBisectCommits({
        goodBenchmarkIds: rounds.get(path.good)!.ids,
        candidateBenchmarkIds: rounds.get(commit)!.ids,
        maxRegression: input.gate.maxRegression,
        alpha: input.gate.alpha,
      });
      if (j.verdict !== 'inconclusive' || j.failed) break;
      const more = moreIterations(rounds.get(path.good)!.iterations, rounds.get(commit)!.iterations, input.iterations);
      if (!more) {
        j = { ...j, reason: `still inconclusive at ${input.iterations.max} iterations a side: ${j.reason}` };
        break;
      }
      await runRound(more.side === 'good' ? path.good : commit, more.add);
    }
    const step: BisectStep = {
      kind,
      commit,
      index,
      verdict: j.verdict,
      reason: j.reason,
      iterations: j.iterations,
      benchmarkIds: rounds.get(commit)!.ids,
      metrics: j.metrics,
    };
    state.steps.push(step);
    return step;
  };

  let goodIndex = -1;
  let badIndex = path.commits.length - 1;
  const rangeNow = () => ({
    lastGood: goodIndex < 0 ? path.good : path.commits[goodIndex]!,
    firstBad: path.commits[badIndex]!,
    remaining: badIndex - goodIndex - 1,
  });
  state.range = rangeNow();

  const finish = async (outcome: BisectOutcome, reason: string): Promise<BisectRecord> => {
    const range = rangeNow();
    const record: BisectRecord = {
      bisectId: input.bisectId,
      repo: input.repo,
      testId: input.testId,
      good: { ref: input.good, commit: path.good },
      bad: { ref: input.bad, commit: path.bad },
      gate: input.gate,
      iterations: input.iterations,
      commits: path.commits.length,
      outcome,
      firstBad: outcome === 'found' ? range.firstBad : null,
      lastGood: range.lastGood,
      range,
      reason,
      probes: state.steps.filter((s) => s.kind === 'probe').length,
      maxProbes: state.maxProbes!,
      steps: state.steps,
      goodBenchmarkIds: rounds.get(path.good)?.ids ?? [],
    };
    const url = await activities.writeBisectRecord(record);
    state.result = record;
    const headline =
      outcome === 'found'
        ? `**first bad commit: ${record.firstBad}** (last good ${short(range.lastGood)}), after ${record.probes} probe(s)`
        : `**${outcome}**: ${reason}`;
    phase('done', `${headline}\n\n${url}`);
    return record;
  };

  try {
    phase('measuring-good', `**measuring the good commit** ${short(path.good)}`);
    await runRound(path.good, input.iterations.initial);

    phase('verifying-bad', `**checking the bad commit** ${short(path.bad)} against the good one`);
    const bad = await judge(path.bad, badIndex, 'verify-bad');
    if (bad.verdict === 'good')
      return await finish('not-reproduced', `the bad commit is within the thresholds of the good one (${bad.reason}): nothing to bisect`);
    if (bad.verdict === 'inconclusive') return await finish('undecided', `cannot tell whether the bad commit is worse: ${bad.reason}`);

    for (let probe = nextProbe(goodIndex, badIndex); probe !== null; probe = nextProbe(goodIndex, badIndex)) {
      phase('bisecting', `**bisecting**: probing ${short(path.commits[probe]!)}`);
      const step = await judge(path.commits[probe]!, probe, 'probe');
      if (step.verdict === 'inconclusive')
        return await finish('undecided', `commit ${path.commits[probe]} could not be judged: ${step.reason}`);
      if (step.verdict === 'good') goodIndex = probe;
      else badIndex = probe;
      state.range = rangeNow();
    }
    return await finish(
      'found',
      `${path.commits[badIndex]} is the first commit worse than the good one beyond ${input.gate.maxRegression}; its parent on the path is within`,
    );
  } catch (err) {
    if (!isCancellation(err)) phase('failed', `**failed**: ${(err as Error).message}`);
    throw err;
  }
}
