/**
 * `gcsfuse-bench schedule ...` and `gcsfuse-bench trend`: continuous benchmarking over Temporal
 * Schedules. A suite's inputs are stored once in the artifact store under their content hash;
 * the schedule starts suiteRunWorkflow with the suite's name and that hash only.
 */
import {
  type Client,
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type ScheduleDescription,
  type ScheduleSpec,
} from '@temporalio/client';
import { type Command, Option } from 'commander';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { checkArtifactsLocation, openArtifactStore, type ArtifactStore } from '../artifacts';
import { getJson } from '../artifacts/store';
import { parseThresholds, parseAlpha } from '../core/compare';
import { InputError } from '../core/errors';
import { checkSafeId } from '../core/ids';
import { MAX_TIMER_MS, parseCount, parseDuration } from '../core/numbers';
import {
  checkSuiteName,
  checkWebhookName,
  DEFAULT_GCSFUSE_REPO,
  DEFAULT_SUITE_GATE,
  parseRefSpec,
  refSpecText,
  suiteLayout,
  type BaselinePointer,
  type SuiteRunInput,
  type SuiteRunRecord,
  type SuiteSpec,
} from '../core/suite';
import { buildTrend, trendHtml, type TrendRun } from '../core/trend';
import { pinBaseline } from '../shared/suite-baseline';
import { cloudEndpointsFromEnv, storageOptions } from '../shared/cloud';
import { ORCHESTRATOR_TASK_QUEUE, SEARCH_ATTRIBUTES, WORKFLOW_TYPES } from '../shared/names';
import { temporalOptionsFromEnv } from '../shared/temporal';
import type { suiteRunWorkflow } from '../workflows';
import { connectClient, ensureSearchAttributes } from './benchmarks';
import { buildRequest, loadConfigFile, type BenchmarkFlags } from './request';
import type { EntryReport } from '../core/report';
import type { VerdictRecord } from '../core/suite';
import { layout } from '../core/layout';
import { checkRepoLocation } from '../core/repo';
import { hasControlChars } from '../core/text';

/** Schedules of suites are named after them, so `schedule list` can tell them from others in the namespace. */
export const SCHEDULE_ID_PREFIX = 'gcsfuse-bench-suite-';
export const scheduleIdOf = (suite: string): string => `${SCHEDULE_ID_PREFIX}${suite}`;
/** How late a missed run (Temporal or the workers were down) may still start; later ones are skipped. */
export const DEFAULT_CATCHUP_WINDOW = '1h';
export const DEFAULT_TREND_RUNS = 30;
const MIN_INTERVAL_MS = 1_000;

export interface SuiteDefinition {
  suite: string;
  /** The benchmark options file (YAML or JSON, the keys of `run --config`). */
  configFile: string;
  gcsfuseRef: string;
  gcsfuseRepo?: string;
  maxRegression?: string;
  alpha?: string;
  webhook?: string;
  allowFioOptions?: string[];
  fioCheck?: boolean;
}

/** Keys of a run's config file that a suite sets per run itself. */
const PER_RUN_KEYS: Partial<Record<keyof BenchmarkFlags, string>> = {
  benchmarkId: 'benchmark-id: each run of a suite gets its own id (<suite>-<time>-<hash>)',
  gcsfuseCommit: 'gcsfuse-commit: a suite resolves its commit when each run starts (--gcsfuse-ref)',
};

/** Checks a suite's inputs as `run` would, and returns what will be stored. */
export async function buildSuiteSpec(d: SuiteDefinition): Promise<SuiteSpec> {
  checkSuiteName(d.suite);
  const flags = await loadConfigFile(d.configFile);
  for (const [key, why] of Object.entries(PER_RUN_KEYS)) {
    if (flags[key as keyof BenchmarkFlags] !== undefined)
      throw new InputError(`a suite's config file cannot set ${why}`, { flag: '--config', file: d.configFile });
  }
  const ref = parseRefSpec(d.gcsfuseRef);
  const repo = d.gcsfuseRepo ?? DEFAULT_GCSFUSE_REPO;
  checkRepoLocation(repo, '--gcsfuse-repo');
  const maxRegression = d.maxRegression ?? DEFAULT_SUITE_GATE.maxRegression;
  parseThresholds(maxRegression);
  const alpha = parseAlpha(d.alpha);
  if (d.webhook !== undefined) checkWebhookName(d.webhook);
  // A stand-in id and commit: every other input is checked exactly as `run` checks it.
  const { request } = await buildRequest(
    { ...flags, benchmarkId: `${d.suite}-check`, gcsfuseCommit: 'master' },
    { allowFioOptions: d.allowFioOptions, fioCheck: d.fioCheck },
  );
  const { benchmarkId: _id, gcsfuseCommit: _commit, ...template } = request;
  return {
    suite: d.suite,
    request: template,
    gcsfuse: { repo, ref },
    gate: { maxRegression, alpha },
    ...(d.webhook ? { webhook: d.webhook } : {}),
  };
}

/** Stores a suite's inputs once, under the sha256 of their bytes; the same inputs give the same key. */
export async function storeSuiteSpec(store: ArtifactStore, spec: SuiteSpec): Promise<string> {
  const json = JSON.stringify(spec, null, 2) + '\n';
  const sha256 = createHash('sha256').update(json).digest('hex');
  await store.putOnce(suiteLayout.spec(spec.suite, sha256), json);
  return sha256;
}

export interface ScheduleTiming {
  /** Exactly one of the two. */
  everyMs?: number;
  cron?: string;
  catchupWindowMs: number;
}

export function parseTiming(o: { every?: string; cron?: string; catchupWindow?: string }): ScheduleTiming {
  if ((o.every === undefined) === (o.cron === undefined))
    throw new InputError('give exactly one of --every <duration> or --cron "<expression>"', {
      flag: o.every === undefined ? '--every' : '--cron',
    });
  const catchupWindowMs = parseDuration(
    o.catchupWindow ?? DEFAULT_CATCHUP_WINDOW,
    { flag: '--catchup-window' },
    { minMs: 10_000, maxMs: 365 * 86_400_000 },
  );
  if (o.every !== undefined)
    return { everyMs: parseDuration(o.every, { flag: '--every' }, { minMs: MIN_INTERVAL_MS, maxMs: MAX_TIMER_MS }), catchupWindowMs };
  const fields = o.cron!.trim().split(/\s+/);
  // Temporal takes 5 fields (minute hour day month weekday), or @daily-style names.
  if (!(fields.length === 5 || (fields.length === 1 && fields[0]!.startsWith('@'))) || hasControlChars(o.cron!)) {
    throw new InputError(
      `"${o.cron}" is not a cron expression of 5 fields (minute hour day-of-month month day-of-week), e.g. "0 3 * * *"`,
      { flag: '--cron' },
    );
  }
  return { cron: fields.join(' '), catchupWindowMs };
}

function specOf(t: ScheduleTiming): ScheduleSpec {
  return t.everyMs !== undefined ? { intervals: [{ every: t.everyMs }] } : { cronExpressions: [t.cron!] };
}

export interface CreateScheduleOptions {
  suite: string;
  specSha256: string;
  timing: ScheduleTiming;
  paused?: boolean;
  /** Update an existing schedule of the suite instead of refusing. */
  replace?: boolean;
  note?: string;
}

function actionOf(suite: string, specSha256: string, searchable: boolean, timing: ScheduleTiming) {
  const input: SuiteRunInput = { suite, specSha256, searchable };
  return {
    type: 'startWorkflow' as const,
    workflowType: WORKFLOW_TYPES.suiteRun,
    taskQueue: ORCHESTRATOR_TASK_QUEUE,
    // Temporal appends the scheduled time: suite-nightly-2025-01-01T03:00:00Z.
    workflowId: `suite-${suite}`,
    args: [input] as [SuiteRunInput],
    typedSearchAttributes: searchable ? [{ key: SEARCH_ATTRIBUTES.suite, value: suite }] : undefined,
    // Temporal keeps a cron expression as calendars only: the memo keeps it as written, for describe and list.
    memo: { suite, inputs: suiteLayout.spec(suite, specSha256), ...(timing.cron ? { cron: timing.cron } : {}) },
  };
}

/** Creates (or with `replace`, updates) the suite's schedule: overlap SKIP, so a run never starts while the previous one runs. */
export async function createSuiteSchedule(client: Client, o: CreateScheduleOptions): Promise<{ scheduleId: string; replaced: boolean }> {
  const scheduleId = scheduleIdOf(o.suite);
  const searchable = await ensureSearchAttributes(client);
  const action = actionOf(o.suite, o.specSha256, searchable, o.timing);
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: o.timing.catchupWindowMs, pauseOnFailure: false };
  try {
    await client.schedule.create<typeof suiteRunWorkflow>({
      scheduleId,
      spec: specOf(o.timing),
      action,
      policies,
      state: { paused: o.paused === true, note: o.note ?? `suite ${o.suite}, inputs ${o.specSha256.slice(0, 12)}` },
      memo: { suite: o.suite },
    });
    return { scheduleId, replaced: false };
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    if (!o.replace)
      throw new InputError(`suite "${o.suite}" already has a schedule (${scheduleId}): give --replace to change it, or delete it first`, {
        flag: '<suite>',
      });
  }
  await client.schedule.getHandle(scheduleId).update((prev) => ({
    ...prev,
    spec: specOf(o.timing),
    action,
    policies,
    state: { paused: o.paused ?? prev.state.paused, note: o.note ?? `suite ${o.suite}, inputs ${o.specSha256.slice(0, 12)}` },
  }));
  return { scheduleId, replaced: true };
}

async function withSchedule<T>(
  client: Client,
  suite: string,
  fn: (h: ReturnType<Client['schedule']['getHandle']>) => Promise<T>,
): Promise<T> {
  checkSuiteName(suite);
  try {
    return await fn(client.schedule.getHandle(scheduleIdOf(suite)));
  } catch (err) {
    if (err instanceof ScheduleNotFoundError)
      throw new InputError(`suite "${suite}" has no schedule (${scheduleIdOf(suite)}): see \`gcsfuse-bench schedule list\``, {
        flag: '<suite>',
      });
    throw err;
  }
}

export interface SuiteScheduleSummary {
  suite: string;
  scheduleId: string;
  paused: boolean;
  note?: string;
  every?: string;
  cron?: string;
  nextRuns: string[];
  recentRuns: { workflowId: string; startedAt: string }[];
}

const everyText = (ms: number) => (ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`);

function summaryOf(suite: string, scheduleId: string, d: ScheduleDescription): SuiteScheduleSummary {
  const cron = d.action.memo?.cron;
  const interval = d.spec.intervals?.[0]?.every;
  return {
    suite,
    scheduleId,
    paused: d.state.paused,
    ...(d.state.note ? { note: d.state.note } : {}),
    ...(interval !== undefined ? { every: everyText(Number(interval)) } : {}),
    ...(typeof cron === 'string' ? { cron } : {}),
    nextRuns: d.info.nextActionTimes.map((t) => t.toISOString()),
    recentRuns: d.info.recentActions.map((a) => ({ workflowId: a.action.workflow.workflowId, startedAt: a.takenAt.toISOString() })),
  };
}

export async function listSuiteSchedules(client: Client): Promise<SuiteScheduleSummary[]> {
  const out: SuiteScheduleSummary[] = [];
  for await (const s of client.schedule.list()) {
    if (!s.scheduleId.startsWith(SCHEDULE_ID_PREFIX)) continue;
    // A summary lacks the action (and its memo): describe each of ours.
    try {
      out.push(
        summaryOf(s.scheduleId.slice(SCHEDULE_ID_PREFIX.length), s.scheduleId, await client.schedule.getHandle(s.scheduleId).describe()),
      );
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err; // deleted meanwhile
    }
  }
  return out.sort((a, b) => a.suite.localeCompare(b.suite));
}

export interface SuiteDescription extends SuiteScheduleSummary {
  overlap: string;
  catchupWindowSeconds: number;
  skippedOverlapping: number;
  running: string[];
  inputs: string | null;
  baseline?: BaselinePointer | null;
  /** The suite's latest runs with their verdicts, newest last (with --artifacts). */
  history?: SuiteRunRecord[];
}

export async function describeSuite(client: Client, suite: string, store?: ArtifactStore): Promise<SuiteDescription> {
  const d = await withSchedule(client, suite, (h) => h.describe());
  const input = d.action.args?.[0] as SuiteRunInput | undefined;
  const out: SuiteDescription = {
    ...summaryOf(suite, d.scheduleId, d),
    overlap: d.policies.overlap ?? 'unspecified',
    catchupWindowSeconds: d.policies.catchupWindow / 1000,
    skippedOverlapping: d.info.numActionsSkippedOverlap,
    running: d.info.runningActions.map((a) => a.workflow.workflowId),
    inputs: input ? suiteLayout.spec(suite, input.specSha256) : null,
  };
  if (store) {
    out.baseline = (await getJson<BaselinePointer>(store, suiteLayout.baseline(suite))) ?? null;
    out.history = (await readSuiteRuns(store, suite)).slice(-10);
  }
  return out;
}

/** The suite's run records, oldest first. */
export async function readSuiteRuns(store: ArtifactStore, suite: string): Promise<SuiteRunRecord[]> {
  const keys = (await store.list(suiteLayout.runsPrefix(suite))).filter((k) => k.endsWith('.json'));
  const records = await Promise.all(keys.map((k) => getJson<SuiteRunRecord>(store, k)));
  return records
    .filter((r): r is SuiteRunRecord => r !== undefined)
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.benchmarkId.localeCompare(b.benchmarkId));
}

export interface TrendOptions {
  lastRuns: number;
  /** Runs made before the suite existed (or by hand): their ref comes from their config.json. */
  extraBenchmarkIds?: string[];
}

/** What `trend` needs of each run, read from the artifact store only. */
export async function readTrendRuns(store: ArtifactStore, suite: string, o: TrendOptions): Promise<TrendRun[]> {
  const records = await readSuiteRuns(store, suite);
  const known = new Set(records.map((r) => r.benchmarkId));
  const extra: SuiteRunRecord[] = [];
  for (const id of o.extraBenchmarkIds ?? []) {
    if (known.has(id)) continue;
    const config = await getJson<{ gcsfuseCommit?: string }>(store, layout.config(id));
    if (!config) throw new InputError(`benchmark "${id}" is not in ${store.urlOf(id)} (no config.json)`, { flag: '--benchmark-ids' });
    const verdict = await getJson<VerdictRecord>(store, suiteLayout.verdict(id));
    extra.push({
      suite,
      benchmarkId: id,
      ref: verdict?.ref ?? config.gcsfuseCommit ?? '?',
      commit: verdict?.commit ?? config.gcsfuseCommit ?? '?',
      startedAt: '',
      verdict: verdict?.verdict ?? 'no-baseline',
      baselineId: verdict?.baselineId ?? null,
    });
  }
  // Runs given by id come first, in the order given: they predate the suite's own records.
  const all = [...extra, ...records].slice(-o.lastRuns);
  const runs: TrendRun[] = [];
  for (const r of all) {
    const reports = await getJson<EntryReport[]>(store, layout.report(r.benchmarkId, 'results.json'));
    if (!reports) continue; // a run that never reported has no point to draw
    runs.push({ record: r, reports, verdict: (await getJson<VerdictRecord>(store, suiteLayout.verdict(r.benchmarkId))) ?? null });
  }
  return runs;
}

/** Writes trend.html (one offline page, static SVG) and trend.json into `outDir`. */
export async function writeTrend(
  store: ArtifactStore,
  suite: string,
  outDir: string,
  o: TrendOptions,
): Promise<{ html: string; json: string; runs: number; series: number }> {
  checkSuiteName(suite);
  const runs = await readTrendRuns(store, suite, o);
  if (runs.length === 0)
    throw new InputError(
      `suite "${suite}" has no finished runs in ${store.urlOf('_suites')}${o.extraBenchmarkIds?.length ? '' : ' (older runs can be added with --benchmark-ids)'}`,
      { flag: '<suite>' },
    );
  const trend = buildTrend(suite, runs);
  await fs.mkdir(outDir, { recursive: true });
  const html = path.join(outDir, 'trend.html');
  const json = path.join(outDir, 'trend.json');
  // Temporary names then renames: an interrupted run leaves the previous pages whole.
  await fs.writeFile(`${json}.tmp`, JSON.stringify(trend, null, 2) + '\n');
  await fs.writeFile(`${html}.tmp`, trendHtml(trend));
  await fs.rename(`${json}.tmp`, json);
  await fs.rename(`${html}.tmp`, html);
  return { html, json, runs: trend.runs.length, series: trend.series.length };
}

// ---------------------------------------------------------------- commands

interface GlobalFlags {
  temporalAddress?: string;
  namespace?: string;
  json?: boolean;
}

function artifactsStoreOf(cmd: Command, required: boolean): ArtifactStore | undefined {
  const a = cmd.opts<{ artifacts?: string }>().artifacts;
  if (a === undefined) {
    if (required)
      throw new InputError('the artifact store is required (or set GCSFUSE_BENCH_ARTIFACTS); use the one the orchestrator worker uses', {
        flag: '--artifacts',
      });
    return undefined;
  }
  return openArtifactStore(checkArtifactsLocation(a), storageOptions(cloudEndpointsFromEnv()));
}

const artifactsOption = () =>
  new Option('--artifacts <dir-or-gs-url>', 'artifact store, the one the orchestrator worker uses').env('GCSFUSE_BENCH_ARTIFACTS');

async function clientOf(cmd: Command): Promise<Client> {
  const g = cmd.optsWithGlobals<GlobalFlags>();
  return connectClient(temporalOptionsFromEnv(process.env, { address: g.temporalAddress, namespace: g.namespace }));
}

function print(cmd: Command, value: unknown, text: () => string): void {
  console.log(cmd.optsWithGlobals<GlobalFlags>().json ? JSON.stringify(value, null, 2) : text());
}

function describeText(d: SuiteDescription): string {
  const lines = [
    `suite ${d.suite} (schedule ${d.scheduleId}): ${d.paused ? 'PAUSED' : 'active'}${d.note ? ` - ${d.note}` : ''}`,
    `  runs: ${d.every ? `every ${d.every}` : d.cron ? `cron ${d.cron}` : '?'}, overlap ${d.overlap}, catch-up window ${d.catchupWindowSeconds} s, ${d.skippedOverlapping} skipped while one ran`,
    `  inputs: ${d.inputs ?? '?'}`,
    `  next: ${d.nextRuns.slice(0, 3).join(', ') || '-'}`,
    `  running: ${d.running.join(', ') || '-'}`,
  ];
  if (d.baseline !== undefined)
    lines.push(
      `  baseline: ${d.baseline ? `${d.baseline.benchmarkId}${d.baseline.pinned ? ' (pinned)' : ''}` : 'none yet (the first complete run becomes it)'}`,
    );
  for (const r of d.history ?? []) lines.push(`  ${r.startedAt}  ${r.benchmarkId}  ${r.ref}  ${r.verdict}`);
  return lines.join('\n');
}

/** Registers `schedule create|list|describe|pause|unpause|trigger|delete|baseline` and `trend` on the CLI. */
export function registerScheduleCommands(program: Command): void {
  const schedule = program
    .command('schedule')
    .description('continuous benchmarking: run a named suite on a schedule against a gcsfuse ref resolved at each run');

  schedule
    .command('create <suite>')
    .description("store the suite's inputs (by content hash) and create its Temporal Schedule (overlap: skip while a run is running)")
    .requiredOption(
      '--config <file>',
      'benchmark options file (YAML/JSON, the keys of `run --config`, without benchmark-id and gcsfuse-commit)',
    )
    .option('--every <duration>', 'run at this interval, e.g. 24h')
    .option('--cron <expression>', 'run at these times (5 fields, UTC), e.g. "0 3 * * *"')
    .option(
      '--gcsfuse-ref <ref>',
      'gcsfuse to benchmark, resolved at each run: tag:v3.* (newest matching tag), branch:master, commit:<sha>',
      'branch:master',
    )
    .option('--gcsfuse-repo <url>', 'repository the ref is resolved in (git ls-remote)', DEFAULT_GCSFUSE_REPO)
    .option('--max-regression <list>', 'regression gate against the baseline, as for compare', DEFAULT_SUITE_GATE.maxRegression)
    .option('--alpha <p>', "significance level of Welch's t-test", String(DEFAULT_SUITE_GATE.alpha))
    .option('--webhook <name>', 'on a regression, POST JSON to the URL the orchestrator worker has in GCSFUSE_BENCH_WEBHOOK_<NAME>')
    .option('--catchup-window <duration>', 'a run missed while Temporal was down still starts if this late at most', DEFAULT_CATCHUP_WINDOW)
    .option('--paused', 'create it paused')
    .option('--replace', "update the suite's schedule if it exists")
    .option('--allow-fio-option <names...>', "skip this CLI's job-policy check for these fio options")
    .option('--no-fio-check', 'skip `fio --parse-only` of each rendered job here')
    .addOption(artifactsOption())
    .action(
      async (
        suite: string,
        o: {
          config: string;
          every?: string;
          cron?: string;
          gcsfuseRef: string;
          gcsfuseRepo: string;
          maxRegression: string;
          alpha: string;
          webhook?: string;
          catchupWindow: string;
          paused?: boolean;
          replace?: boolean;
          allowFioOption?: string[];
          fioCheck?: boolean;
        },
        cmd: Command,
      ) => {
        checkSuiteName(suite);
        const timing = parseTiming(o);
        const store = artifactsStoreOf(cmd, true)!;
        const spec = await buildSuiteSpec({
          suite,
          configFile: o.config,
          gcsfuseRef: o.gcsfuseRef,
          gcsfuseRepo: o.gcsfuseRepo,
          maxRegression: o.maxRegression,
          alpha: o.alpha,
          webhook: o.webhook,
          allowFioOptions: o.allowFioOption,
          fioCheck: o.fioCheck,
        });
        const client = await clientOf(cmd);
        const sha = await storeSuiteSpec(store, spec);
        const r = await createSuiteSchedule(client, { suite, specSha256: sha, timing, paused: o.paused, replace: o.replace });
        print(
          cmd,
          { ...r, suite, inputs: store.urlOf(suiteLayout.spec(suite, sha)), ref: refSpecText(spec.gcsfuse.ref) },
          () =>
            `${r.replaced ? 'updated' : 'created'} schedule ${r.scheduleId}: suite ${suite}, gcsfuse ${refSpecText(spec.gcsfuse.ref)}, ${timing.everyMs !== undefined ? `every ${everyText(timing.everyMs)}` : `cron "${timing.cron}"`}${o.paused ? ' (paused)' : ''}; inputs ${store.urlOf(suiteLayout.spec(suite, sha))}`,
        );
      },
    );

  schedule
    .command('list')
    .description("the suites' schedules")
    .action(async (_o, cmd: Command) => {
      const all = await listSuiteSchedules(await clientOf(cmd));
      print(cmd, all, () =>
        all.length
          ? all
              .map(
                (s) =>
                  `${s.suite}\t${s.paused ? 'paused' : 'active'}\t${s.every ? `every ${s.every}` : (s.cron ?? '')}\tnext ${s.nextRuns[0] ?? '-'}`,
              )
              .join('\n')
          : 'no suite schedules',
      );
    });

  schedule
    .command('describe <suite>')
    .description("a suite's schedule, baseline and latest verdicts (with --artifacts)")
    .addOption(artifactsOption())
    .action(async (suite: string, _o, cmd: Command) => {
      const store = artifactsStoreOf(cmd, false);
      const d = await describeSuite(await clientOf(cmd), suite, store);
      print(cmd, d, () => describeText(d));
    });

  for (const [name, description] of [
    ['pause', 'stop starting runs (a running one finishes)'],
    ['unpause', 'start runs again'],
  ] as const) {
    schedule
      .command(`${name} <suite>`)
      .description(description)
      .option('--note <text>', 'why, shown by describe')
      .action(async (suite: string, o: { note?: string }, cmd: Command) => {
        await withSchedule(await clientOf(cmd), suite, (h) => (name === 'pause' ? h.pause(o.note) : h.unpause(o.note)));
        print(cmd, { suite, paused: name === 'pause' }, () => `suite ${suite} ${name}d`);
      });
  }

  schedule
    .command('trigger <suite>')
    .description('start a run now (skipped if one is running)')
    .action(async (suite: string, _o, cmd: Command) => {
      await withSchedule(await clientOf(cmd), suite, (h) => h.trigger(ScheduleOverlapPolicy.SKIP));
      print(cmd, { suite, triggered: true }, () => `suite ${suite}: run requested (skipped if one is running)`);
    });

  schedule
    .command('delete <suite>')
    .description("delete the schedule (runs, verdicts and the suite's stored inputs stay)")
    .action(async (suite: string, _o, cmd: Command) => {
      await withSchedule(await clientOf(cmd), suite, (h) => h.delete());
      print(cmd, { suite, deleted: true }, () => `schedule of suite ${suite} deleted`);
    });

  schedule
    .command('baseline <suite> [benchmark-id]')
    .description("pin the suite's baseline to a finished run (passing runs then do not move it); --unpin lets them again")
    .option('--unpin', 'let the next passing run become the baseline')
    .addOption(artifactsOption())
    .action(async (suite: string, id: string | undefined, o: { unpin?: boolean }, cmd: Command) => {
      checkSuiteName(suite);
      if ((id === undefined) === (o.unpin !== true))
        throw new InputError('give a benchmark id to pin, or --unpin', { flag: '<benchmark-id>' });
      if (id !== undefined) checkSafeId(id, 'benchmark id', { flag: '<benchmark-id>' });
      const store = artifactsStoreOf(cmd, true)!;
      const p = await pinBaseline(store, suite, id ?? null);
      print(cmd, { suite, baseline: p ?? null }, () =>
        p
          ? `suite ${suite}: baseline ${p.benchmarkId}${p.pinned ? ' (pinned)' : ' (moves with passing runs)'}`
          : `suite ${suite} has no baseline yet`,
      );
    });

  program
    .command('trend <suite>')
    .description(
      "write an offline HTML page (static SVG) and JSON of each test's bandwidth and p99 latency over the suite's last runs, from the artifact store",
    )
    .addOption(artifactsOption())
    .option('--last <n>', 'how many of the latest runs', String(DEFAULT_TREND_RUNS))
    .option('--benchmark-ids <ids>', 'also these earlier runs (comma-separated), e.g. made before the suite was scheduled')
    .option('--out <dir>', 'folder for trend.html and trend.json (default ./trend-<suite>)')
    .action(async (suite: string, o: { last: string; benchmarkIds?: string; out?: string }, cmd: Command) => {
      checkSuiteName(suite);
      const lastRuns = parseCount(o.last, { flag: '--last' }, { min: 1, max: 10_000 });
      const extra = o.benchmarkIds
        ?.split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .map((id) => checkSafeId(id, 'benchmark id', { flag: '--benchmark-ids' }));
      const store = artifactsStoreOf(cmd, true)!;
      const r = await writeTrend(store, suite, o.out ?? `trend-${suite}`, { lastRuns, extraBenchmarkIds: extra });
      print(cmd, r, () => `${r.runs} runs, ${r.series} series: ${r.html} (and ${path.basename(r.json)})`);
    });
}
