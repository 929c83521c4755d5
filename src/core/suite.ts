/**
 * Continuous benchmarking, the pure part: a named suite (inputs stored once by content hash),
 * the gcsfuse ref it resolves at run time, the verdict of a run against the suite's baseline,
 * and where all of it lives in the artifact store. No Node modules: the suite workflow uses it.
 */
import type { Comparison, MetricComparison } from './compare';
import { InputError, type InputLocation } from './errors';
import { checkSafeId } from './ids';
import type { BenchmarkRequest } from './spec';

/** The public gcsfuse repository; a suite may name another (a fork, or a local repo in tests). */
export const DEFAULT_GCSFUSE_REPO = 'https://github.com/GoogleCloudPlatform/gcsfuse.git';
/** A run's benchmark id is `<suite>-<yyyymmdd-hhmmss>-<8 hex>`: the suite name leaves room for it in an id's 100 characters. */
export const MAX_SUITE_NAME_LENGTH = 60;
export const DEFAULT_SUITE_GATE = { maxRegression: 'bw=10%,p99_lat=25%', alpha: 0.05 } as const;

/** Which gcsfuse commit a run benchmarks, resolved when the run starts. */
export type RefSpec = { kind: 'tag'; pattern: string } | { kind: 'branch'; name: string } | { kind: 'commit'; sha: string };

/** Everything a suite's runs need, stored once under its content hash; the schedule carries only the hash. */
export interface SuiteSpec {
  suite: string;
  /** The benchmark's inputs; each run adds its own benchmark id and the resolved commit. */
  request: Omit<BenchmarkRequest, 'benchmarkId' | 'gcsfuseCommit'>;
  gcsfuse: { repo: string; ref: RefSpec };
  /** The regression gate: `compare --max-regression` thresholds and the t-test's alpha. */
  gate: { maxRegression: string; alpha: number };
  /** Name of a webhook the orchestrator worker knows (never its URL: see webhookEnvName). */
  webhook?: string;
}

/** The suite run workflow's input: small and free of secrets, it is what a schedule stores. */
export interface SuiteRunInput {
  suite: string;
  /** sha256 of the stored SuiteSpec. */
  specSha256: string;
  /** Whether our search attributes are registered (the CLI found out when it made the schedule). */
  searchable: boolean;
}

/** pass: no metric beyond its threshold; regression: some are; inconclusive: the gate could not judge. */
export const VERDICTS = ['pass', 'regression', 'inconclusive', 'no-baseline'] as const;
export type SuiteVerdict = (typeof VERDICTS)[number];

export interface VerdictRecord {
  suite: string;
  benchmarkId: string;
  baselineId: string | null;
  ref: string;
  commit: string;
  verdict: SuiteVerdict;
  reason: string;
  /** The metrics beyond their thresholds (regression) with their change. */
  regressions: Pick<
    MetricComparison,
    'testId' | 'baselineConfig' | 'metric' | 'unit' | 'baseline' | 'candidate' | 'deltaPct' | 'p' | 'thresholdPct'
  >[];
  comparison: Comparison | null;
}

/** _suites/<suite>/runs/<id>.json: one line of a suite's history, what `trend` reads. */
export interface SuiteRunRecord {
  suite: string;
  benchmarkId: string;
  ref: string;
  commit: string;
  startedAt: string;
  verdict: SuiteVerdict;
  baselineId: string | null;
}

/** _suites/<suite>/baseline.json */
export interface BaselinePointer {
  benchmarkId: string;
  /** Chosen by a user: passing runs do not move it. */
  pinned: boolean;
}

/**
 * Keys under `_suites/`: a benchmark id starts with a letter or digit, so no benchmark folder
 * can be called that.
 */
export const suiteLayout = {
  spec: (suite: string, sha256: string) => `_suites/${suite}/spec/${sha256}.json`,
  baseline: (suite: string) => `_suites/${suite}/baseline.json`,
  runsPrefix: (suite: string) => `_suites/${suite}/runs/`,
  run: (suite: string, benchmarkId: string) => `_suites/${suite}/runs/${benchmarkId}.json`,
  /** Stored with the run it judges. */
  verdict: (benchmarkId: string) => `${benchmarkId}/verdict.json`,
} as const;

export function checkSuiteName(name: string, loc: InputLocation = { flag: '<suite>' }): string {
  checkSafeId(name, 'suite name', loc);
  if (name.length > MAX_SUITE_NAME_LENGTH)
    throw new InputError(`suite name "${name}" is longer than ${MAX_SUITE_NAME_LENGTH} characters`, loc);
  return name;
}

// ---------------------------------------------------------------- refs

const HEX_SHA = /^[0-9a-f]{40}$/;
// Tag and branch names as git allows them, minus anything a shell or an option parser would see.
const REF_NAME = /^[A-Za-z0-9][A-Za-z0-9._/+-]{0,199}$/;
const TAG_PATTERN = /^[A-Za-z0-9*?][A-Za-z0-9._/+*?-]{0,199}$/;

/**
 * `--gcsfuse-ref`: `tag:v3.*` (the newest tag matching a pattern of `*` and `?`), `branch:master`,
 * `commit:<40 hex>`; without a prefix, a 40-hex commit, a pattern with `*`/`?`, or else a branch.
 */
export function parseRefSpec(text: string, loc: InputLocation = { flag: '--gcsfuse-ref' }): RefSpec {
  const m = /^(tag|branch|commit):(.*)$/.exec(text.trim());
  const [kind, value] = m ? [m[1]!, m[2]!] : [HEX_SHA.test(text.trim()) ? 'commit' : /[*?]/.test(text) ? 'tag' : 'branch', text.trim()];
  if (kind === 'commit') {
    if (!HEX_SHA.test(value)) throw new InputError(`"${value}" is not a full commit sha (40 lower-case hex digits)`, loc);
    return { kind, sha: value };
  }
  if (kind === 'tag') {
    if (!TAG_PATTERN.test(value) || value.includes('..'))
      throw new InputError(`"${value}" is not a tag pattern (letters, digits, . _ / + -, and * or ? as wildcards)`, loc);
    return { kind, pattern: value };
  }
  if (!REF_NAME.test(value) || value.includes('..')) throw new InputError(`"${value}" is not a branch name`, loc);
  return { kind: 'branch', name: value };
}

export function refSpecText(r: RefSpec): string {
  return r.kind === 'tag' ? `tag:${r.pattern}` : r.kind === 'branch' ? `branch:${r.name}` : `commit:${r.sha}`;
}

/** A tag pattern as a regular expression over the whole name: `*` any run of characters, `?` one. */
export function tagPatternRegExp(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

// Numeric collation orders v3.10.0 after v3.9.1.
const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/** Version order of tags: numbers compare as numbers, and a pre-release (v3.1.0-rc1) comes before its release (v3.1.0). */
export function compareTagVersions(a: string, b: string): number {
  const split = (t: string) => {
    const m = /^(.*?\d)-(.+)$/.exec(t);
    return m ? { base: m[1]!, pre: m[2]! } : { base: t, pre: null };
  };
  const [x, y] = [split(a), split(b)];
  const byBase = collator.compare(x.base, y.base);
  if (byBase !== 0) return byBase;
  if (x.pre === null || y.pre === null) return x.pre === y.pre ? 0 : x.pre === null ? 1 : -1;
  return collator.compare(x.pre, y.pre);
}

export interface ResolvedRef {
  /** What the run benchmarks, as people name it: the tag, the branch, or the commit. */
  ref: string;
  commit: string;
}

/**
 * Picks the ref from `git ls-remote --tags --heads <repo>` output ("<sha>\t<refname>" lines).
 * An annotated tag's peeled line (`refs/tags/v1^{}`) names the commit it points at.
 */
export function resolveRefFromLsRemote(output: string, spec: RefSpec, repo: string): ResolvedRef {
  if (spec.kind === 'commit') return { ref: spec.sha, commit: spec.sha };
  const tags = new Map<string, string>();
  const peeled = new Map<string, string>();
  const heads = new Map<string, string>();
  for (const line of output.split('\n')) {
    const [sha, name] = line.trim().split(/\s+/);
    if (!sha || !name || !HEX_SHA.test(sha)) continue;
    if (name.startsWith('refs/tags/')) {
      const tag = name.slice('refs/tags/'.length);
      if (tag.endsWith('^{}')) peeled.set(tag.slice(0, -3), sha);
      else tags.set(tag, sha);
    } else if (name.startsWith('refs/heads/')) heads.set(name.slice('refs/heads/'.length), sha);
  }
  if (spec.kind === 'branch') {
    const sha = heads.get(spec.name);
    if (!sha) throw new InputError(`${repo} has no branch "${spec.name}"`, { flag: '--gcsfuse-ref' });
    return { ref: spec.name, commit: sha };
  }
  const re = tagPatternRegExp(spec.pattern);
  const matching = [...tags.keys()].filter((t) => re.test(t)).sort(compareTagVersions);
  const newest = matching[matching.length - 1];
  if (newest === undefined) throw new InputError(`${repo} has no tag matching "${spec.pattern}"`, { flag: '--gcsfuse-ref' });
  return { ref: newest, commit: peeled.get(newest) ?? tags.get(newest)! };
}

// ---------------------------------------------------------------- verdicts

/**
 * The verdict of a comparison with the gate's thresholds: regression when a metric is worse
 * beyond its threshold and significantly so; inconclusive when the gate could not judge
 * (nothing matched, a gated metric untested for want of iterations, entries that failed);
 * pass otherwise.
 */
export function suiteVerdictOf(c: Comparison, candidateFailedEntries: number): { verdict: SuiteVerdict; reason: string } {
  if (c.regressions > 0) {
    const worst = c.rows
      .filter((r) => r.verdict === 'regression')
      .map((r) => `${r.testId} ${r.metric} ${r.deltaPct! > 0 ? '+' : ''}${r.deltaPct!.toFixed(1)}%`);
    return {
      verdict: 'regression',
      reason: `${c.regressions} metric(s) beyond their thresholds: ${worst.slice(0, 5).join(', ')}${worst.length > 5 ? ', ...' : ''}`,
    };
  }
  if (c.rows.length === 0) return { verdict: 'inconclusive', reason: 'no test and metric matched between the baseline and this run' };
  // What compare itself says keeps the gate from vouching for the run (newer compare versions say so).
  const own = c as Comparison & { gateIncomplete?: string[]; inconclusiveGated?: number };
  if (own.gateIncomplete?.length) return { verdict: 'inconclusive', reason: own.gateIncomplete.join('; ') };
  if (own.inconclusiveGated)
    return {
      verdict: 'inconclusive',
      reason: `${own.inconclusiveGated} gated metric(s) are inconclusive: too few iterations to tell a change of the threshold's size from noise`,
    };
  if (c.untestedGated > 0)
    return {
      verdict: 'inconclusive',
      reason: `${c.untestedGated} gated metric(s) could not be tested (fewer than 2 iterations on a side)`,
    };
  if (candidateFailedEntries > 0)
    return { verdict: 'inconclusive', reason: `${candidateFailedEntries} entries of this run failed and were not compared` };
  if (c.skipped.length > 0)
    return { verdict: 'inconclusive', reason: `${c.skipped.length} entries were not compared (${c.skipped[0]!.reason})` };
  return { verdict: 'pass', reason: `no gated metric worse than its threshold (alpha ${c.alpha})` };
}

/** Benchmark id of a suite's run: readable, sortable by time, unique per run. */
export function suiteBenchmarkId(suite: string, startedAt: Date, runId: string): string {
  const stamp = startedAt.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${suite}-${stamp}-${runId.replace(/-/g, '').slice(0, 8)}`;
}

// ---------------------------------------------------------------- webhooks

const WEBHOOK_NAME = /^[a-z][a-z0-9-]{0,39}$/;

export function checkWebhookName(name: string, loc: InputLocation = { flag: '--webhook' }): string {
  if (!WEBHOOK_NAME.test(name))
    throw new InputError(`webhook name "${name}" is not allowed: 1-40 lower-case letters, digits or '-', starting with a letter`, loc);
  return name;
}

/**
 * The orchestrator worker's environment variable that holds a webhook's URL: the workflow and
 * the schedule carry only the name, so the URL (often a bearer secret, as Slack's are) is never
 * in a history, and a namespace user cannot point the worker at an address of their choice.
 */
export function webhookEnvName(name: string): string {
  return `GCSFUSE_BENCH_WEBHOOK_${checkWebhookName(name).toUpperCase().replace(/-/g, '_')}`;
}

/** The JSON a webhook receives on a regression; `text` makes it readable as is by Slack and Chat incoming webhooks. */
export interface RegressionAlert {
  event: 'regression';
  suite: string;
  benchmarkId: string;
  baselineId: string | null;
  ref: string;
  commit: string;
  reason: string;
  regressions: VerdictRecord['regressions'];
  text: string;
}

export function regressionAlert(v: VerdictRecord): RegressionAlert {
  return {
    event: 'regression',
    suite: v.suite,
    benchmarkId: v.benchmarkId,
    baselineId: v.baselineId,
    ref: v.ref,
    commit: v.commit,
    reason: v.reason,
    regressions: v.regressions,
    text: `gcsfuse-bench: suite ${v.suite} regressed at ${v.ref} (${v.commit.slice(0, 12)}), run ${v.benchmarkId} vs baseline ${v.baselineId}: ${v.reason}`,
  };
}
