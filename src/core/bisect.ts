/**
 * Bisecting a performance regression between two gcsfuse commits, the pure part: the input,
 * how a comparison with the good commit judges a commit, how the range halves, and where the
 * answer is stored. No Node modules and nothing that needs them (csv-parse needs Buffer): the
 * bisect workflow uses it; the CSV part is in bisect-csv.ts.
 */
import type { Comparison } from './compare';
import { InputError, type InputLocation } from './errors';
import { checkSafeId } from './ids';
import type { BenchmarkRequest } from './spec';

/** Bandwidth 10% worse than the good commit's, significantly, makes a commit bad. */
export const DEFAULT_BISECT_GATE = { maxRegression: 'bw=10%', alpha: 0.05 } as const;
/** Iterations of a commit at first, added each time its comparison is inconclusive, and at most. */
export const DEFAULT_BISECT_ITERATIONS = { initial: 3, step: 3, max: 12 } as const;
/** Round benchmark ids are `<bisect id>-<10 hex>-<round>`: the bisect id leaves room for that in 100 characters. */
export const MAX_BISECT_ID_LENGTH = 80;
/** More commits than this between good and bad is a mistake (e.g. good and bad swapped across a merge). */
export const MAX_BISECT_COMMITS = 100_000;
const MAX_ROUNDS_PER_COMMIT = 99;

/** What a bisect varies per round (the commit, the iterations, the id); the rest is the request of every round. */
export type BisectRequestTemplate = Omit<BenchmarkRequest, 'benchmarkId' | 'gcsfuseCommit' | 'iterations'>;

export interface BisectIterations {
  /** Iterations of a commit's first round. */
  initial: number;
  /** Added to a side of an inconclusive comparison, in one more round. */
  step: number;
  /** No side of a comparison gets more iterations than this. */
  max: number;
}

/** The bisect workflow's input. */
export interface BisectInput {
  bisectId: string;
  /** Repository the commits are listed in (`git rev-list --ancestry-path good..bad`). */
  repo: string;
  /** Refs as given: a commit, tag or branch of `repo`. */
  good: string;
  bad: string;
  testId: string;
  /** The request of every round: its test-cases CSV holds the one test. */
  request: BisectRequestTemplate;
  /** Thresholds as for `compare --max-regression`, and the t-test's alpha. */
  gate: { maxRegression: string; alpha: number };
  iterations: BisectIterations;
  /** Whether our search attributes are registered (the CLI found out), and the rounds' Fleet value. */
  searchable: boolean;
  fleetLabel: string;
}

/** good: within the thresholds of the good commit; bad: beyond them, significantly; inconclusive: cannot tell yet. */
export type CommitVerdict = 'good' | 'bad' | 'inconclusive';

/** One commit's judgement against the good commit, as it stood after the commit's last round. */
export interface BisectStep {
  /** What the step was for: the bad end's check, or a probe inside the range. */
  kind: 'verify-bad' | 'probe';
  commit: string;
  /** Position on the ancestry path, oldest first (the bad commit is last). */
  index: number;
  verdict: CommitVerdict;
  reason: string;
  /** Iterations pooled on each side of the deciding comparison. */
  iterations: { good: number; candidate: number };
  /** The benchmarks of this commit (its rounds). */
  benchmarkIds: string[];
  /** The gated metrics' change against the good commit. */
  metrics: {
    metric: string;
    unit: string;
    good: number | null;
    candidate: number | null;
    deltaPct: number | null;
    p: number | null;
    thresholdPct: number | null;
    verdict: string;
  }[];
}

/** The range still suspected: the newest commit known good and the oldest known bad. */
export interface BisectRange {
  lastGood: string;
  firstBad: string;
  /** Commits strictly between the two, not yet judged. */
  remaining: number;
}

export type BisectOutcome =
  /** firstBad is the first commit judged bad whose parent on the path was judged good. */
  | 'found'
  /** The bad commit is not worse than the good one beyond the thresholds: nothing to look for. */
  | 'not-reproduced'
  /** A commit stayed inconclusive at the iteration cap, or its benchmark failed: the range is where it stopped. */
  | 'undecided';

/** `_bisects/<id>/bisect.json`, and the workflow's result. */
export interface BisectRecord {
  bisectId: string;
  repo: string;
  testId: string;
  good: { ref: string; commit: string };
  bad: { ref: string; commit: string };
  gate: { maxRegression: string; alpha: number };
  iterations: BisectIterations;
  /** Commits on the ancestry path good..bad, oldest first. */
  commits: number;
  outcome: BisectOutcome;
  firstBad: string | null;
  /** The newest commit judged good (the good commit itself when none inside the range was). */
  lastGood: string;
  range: BisectRange;
  reason: string;
  /** Probes inside the range (not counting the good and bad commits' own benchmarks). */
  probes: number;
  /** The most probes a range of this size can need: ceil(log2(commits)). */
  maxProbes: number;
  steps: BisectStep[];
  /** The good commit's benchmarks (the baseline of every comparison). */
  goodBenchmarkIds: string[];
}

/** Keys under `_bisects/`: no benchmark id starts with '_', so no benchmark folder is called that. */
export const bisectLayout = {
  record: (bisectId: string) => `_bisects/${bisectId}/bisect.json`,
} as const;

export function checkBisectId(id: string, loc: InputLocation = { flag: '--bisect-id' }): string {
  checkSafeId(id, 'bisect id', loc);
  if (id.length > MAX_BISECT_ID_LENGTH) throw new InputError(`bisect id "${id}" is longer than ${MAX_BISECT_ID_LENGTH} characters`, loc);
  return id;
}

/** A round's benchmark id: which bisect, which commit, which round of that commit. */
export function bisectRoundId(bisectId: string, commit: string, round: number): string {
  if (!(Number.isInteger(round) && round >= 1 && round <= MAX_ROUNDS_PER_COMMIT)) throw new Error(`round ${round} out of range`);
  return `${bisectId}-${commit.slice(0, 10)}-${round}`;
}

// Refs as git allows them, minus anything an option parser or a revision range would read specially.
const GIT_REF = /^[A-Za-z0-9][A-Za-z0-9._/+-]{0,199}$/;

/** `--good`/`--bad`: a commit (full or abbreviated sha), tag or branch name. */
export function checkBisectRef(ref: string, loc: InputLocation): string {
  if (!GIT_REF.test(ref) || ref.includes('..') || ref.endsWith('.lock') || ref.endsWith('/')) {
    throw new InputError(`"${ref}" is not a commit, tag or branch name (letters, digits, . _ / + -, no "..")`, loc);
  }
  return ref;
}

export function checkBisectIterations(it: BisectIterations): BisectIterations {
  // Welch's test needs 2 iterations a side; fewer than 3 gives no interval (compare says so).
  if (it.initial < 2)
    throw new InputError(`must be at least 2 (Welch's t-test needs 2 iterations a side), got ${it.initial}`, { flag: '--iterations' });
  if (it.step < 1) throw new InputError(`must be at least 1, got ${it.step}`, { flag: '--add-iterations' });
  if (it.max < it.initial)
    throw new InputError(`must be at least --iterations (${it.initial}), got ${it.max}`, { flag: '--max-iterations' });
  if (Math.ceil((it.max - it.initial) / it.step) + 1 > MAX_ROUNDS_PER_COMMIT) {
    throw new InputError(
      `--max-iterations ${it.max} with --add-iterations ${it.step} needs more than ${MAX_ROUNDS_PER_COMMIT} rounds of a commit`,
      { flag: '--max-iterations' },
    );
  }
  return it;
}

/**
 * How a comparison with the good commit judges a candidate: bad when a gated metric regressed
 * (worse beyond its threshold and significant at alpha); inconclusive when the gate cannot vouch
 * (a gated metric untested, or its interval still reaching past the threshold, or nothing
 * matched); good otherwise.
 */
export function commitVerdictOf(c: Comparison): { verdict: CommitVerdict; reason: string } {
  const gated = c.rows.filter((r) => r.thresholdPct !== null);
  const describe = (r: (typeof gated)[number]) =>
    `${r.metric} ${r.deltaPct === null ? '?' : `${r.deltaPct > 0 ? '+' : ''}${r.deltaPct.toFixed(1)}%`} (p ${r.p === null ? '-' : r.p.toPrecision(2)}, threshold ${r.thresholdPct}%)`;
  if (c.regressions > 0)
    return {
      verdict: 'bad',
      reason: `regressed: ${gated
        .filter((r) => r.verdict === 'regression')
        .map(describe)
        .join(', ')}`,
    };
  if (c.gateIncomplete?.length) return { verdict: 'inconclusive', reason: c.gateIncomplete.join('; ') };
  if (gated.length === 0)
    return { verdict: 'inconclusive', reason: 'no gated metric was compared: the test has no I/O in the gated metrics' };
  if (c.untestedGated > 0 || (c.inconclusiveGated ?? 0) > 0)
    return {
      verdict: 'inconclusive',
      reason: `gated metrics not decided: ${gated
        .filter((r) => r.p === null || r.verdict === 'inconclusive')
        .map(describe)
        .join(', ')}`,
    };
  return { verdict: 'good', reason: `within thresholds: ${gated.map(describe).join(', ')}` };
}

/** The commit to probe next in a range of path indices (-1 is the good commit), or null when the range is one step. */
export function nextProbe(goodIndex: number, badIndex: number): number | null {
  return badIndex - goodIndex <= 1 ? null : Math.floor((goodIndex + badIndex) / 2);
}

/** The most probes a path of `commits` commits (the bad one last) can need. */
export function maxProbesFor(commits: number): number {
  return commits <= 1 ? 0 : Math.ceil(Math.log2(commits));
}

/**
 * Which side of an inconclusive comparison gets more iterations: the one with fewer (the
 * candidate on a tie), or none when both are at the cap. Returns how many to add.
 */
export function moreIterations(good: number, candidate: number, it: BisectIterations): { side: 'good' | 'candidate'; add: number } | null {
  const order: ('good' | 'candidate')[] = good < candidate ? ['good', 'candidate'] : ['candidate', 'good'];
  for (const side of order) {
    const have = side === 'good' ? good : candidate;
    if (have < it.max) return { side, add: Math.min(it.step, it.max - have) };
  }
  return null;
}

/** Parses `git rev-list` output (one sha a line) into the ancestry path, oldest first. */
export function parseRevList(output: string, goodRef: string, badRef: string): string[] {
  const commits = output
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  for (const c of commits) if (!/^[0-9a-f]{40}$/.test(c)) throw new Error(`git rev-list printed ${JSON.stringify(c)}, not a commit`);
  if (commits.length === 0) {
    throw new InputError(`no commit leads from ${goodRef} to ${badRef}: the bad commit must be a descendant of the good one`, {
      flag: '--bad',
    });
  }
  if (commits.length > MAX_BISECT_COMMITS)
    throw new InputError(`${commits.length} commits between ${goodRef} and ${badRef}: more than ${MAX_BISECT_COMMITS}`, { flag: '--good' });
  return commits;
}
