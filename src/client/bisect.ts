/**
 * `gcsfuse-bench bisect`: find the first gcsfuse commit between a good and a bad one at which a
 * test got slower. Starts bisectWorkflow on the orchestrator's task queue and follows it.
 */
import type { Client } from '@temporalio/client';
import { type Command, Option } from 'commander';
import {
  checkBisectId,
  checkBisectIterations,
  checkBisectRef,
  DEFAULT_BISECT_GATE,
  DEFAULT_BISECT_ITERATIONS,
  type BisectInput,
  type BisectRecord,
} from '../core/bisect';
import { oneTestCsv } from '../core/bisect-csv';
import { parseThresholds, parseAlpha } from '../core/compare';
import { InputError } from '../core/errors';
import { checkSafeId } from '../core/ids';
import { parseCount } from '../core/numbers';
import { DEFAULT_GCSFUSE_REPO } from '../core/suite';
import { ORCHESTRATOR_TASK_QUEUE, WORKFLOW_TYPES } from '../shared/names';
import { temporalOptionsFromEnv } from '../shared/temporal';
import type { bisectWorkflow } from '../workflows';
import { connectClient, ensureSearchAttributes, fleetLabel } from './benchmarks';
import { EXIT } from './exit-codes';
import { buildRequest, loadConfigFile, type BenchmarkFlags } from './request';
import { checkRepoLocation } from '../core/repo';

/** Exit code when the bisect ends without naming a commit (not reproduced, or undecided): compare's "cannot judge". */
export const BISECT_EXIT_UNDECIDED = EXIT.gateIncomplete;

export interface BisectDefinition {
  /** The benchmark options file (YAML or JSON, the keys of `run --config`). */
  configFile: string;
  good: string;
  bad: string;
  testId: string;
  repo?: string;
  bisectId?: string;
  maxRegression?: string;
  alpha?: string;
  iterations?: string;
  addIterations?: string;
  maxIterations?: string;
  allowFioOptions?: string[];
  fioCheck?: boolean;
}

/** Keys of the options file a bisect sets itself, per round. */
const PER_ROUND_KEYS: Partial<Record<keyof BenchmarkFlags, string>> = {
  benchmarkId: 'benchmark-id: each round gets its own id (<bisect-id>-<commit>-<round>)',
  gcsfuseCommit: "gcsfuse-commit: a bisect sets each round's commit itself",
  iterations: 'iterations: give them with --iterations, --add-iterations and --max-iterations',
  configsCsv: 'configs-csv: a bisect varies the commit of one mount config; give its mount args as gcsfuse-mount-args',
};

const defaultBisectId = (now = new Date()) => `bisect-${now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`;

/** Checks the inputs as `run` would, and builds the workflow's input (without `searchable`). */
export async function buildBisectInput(d: BisectDefinition): Promise<Omit<BisectInput, 'searchable'>> {
  const bisectId = checkBisectId(d.bisectId ?? defaultBisectId());
  const good = checkBisectRef(d.good, { flag: '--good' });
  const bad = checkBisectRef(d.bad, { flag: '--bad' });
  checkSafeId(d.testId, 'test id', { flag: '--test-id' });
  const repo = d.repo ?? DEFAULT_GCSFUSE_REPO;
  checkRepoLocation(repo, '--repo');
  const maxRegression = d.maxRegression ?? DEFAULT_BISECT_GATE.maxRegression;
  parseThresholds(maxRegression);
  const alpha = parseAlpha(d.alpha);
  const iterations = checkBisectIterations({
    initial: parseCount(d.iterations ?? String(DEFAULT_BISECT_ITERATIONS.initial), { flag: '--iterations' }, { min: 1, max: 1000 }),
    step: parseCount(d.addIterations ?? String(DEFAULT_BISECT_ITERATIONS.step), { flag: '--add-iterations' }, { min: 1, max: 1000 }),
    max: parseCount(d.maxIterations ?? String(DEFAULT_BISECT_ITERATIONS.max), { flag: '--max-iterations' }, { min: 1, max: 1000 }),
  });
  const flags = await loadConfigFile(d.configFile);
  for (const [key, why] of Object.entries(PER_ROUND_KEYS)) {
    if (flags[key as keyof BenchmarkFlags] !== undefined)
      throw new InputError(`a bisect's config file cannot set ${why}`, { flag: '--config', file: d.configFile });
  }
  // A stand-in id, commit and iterations: every other input is checked exactly as `run` checks it.
  const { request } = await buildRequest(
    { ...flags, benchmarkId: `${bisectId}-check`, gcsfuseCommit: 'master', iterations: String(iterations.initial) } as BenchmarkFlags,
    { allowFioOptions: d.allowFioOptions, fioCheck: d.fioCheck },
  );
  const { benchmarkId: _id, gcsfuseCommit: _commit, iterations: _n, runName: _name, ...template } = request;
  const testCases = { ...template.testCases, content: oneTestCsv(template.testCases.content, template.testCases.name, d.testId) };
  return {
    bisectId,
    repo,
    good,
    bad,
    testId: d.testId,
    request: { ...template, testCases },
    gate: { maxRegression, alpha },
    iterations,
    fleetLabel: fleetLabel(request.fleet),
  };
}

/** Starts the bisect (workflow id = bisect id); refuses an id in use. */
export async function startBisect(client: Client, input: Omit<BisectInput, 'searchable'>) {
  const searchable = await ensureSearchAttributes(client);
  return client.workflow.start<typeof bisectWorkflow>(WORKFLOW_TYPES.bisect, {
    workflowId: input.bisectId,
    taskQueue: ORCHESTRATOR_TASK_QUEUE,
    args: [{ ...input, searchable }],
    memo: { bisect: { good: input.good, bad: input.bad, testId: input.testId } },
  });
}

export function bisectSummary(r: BisectRecord): string {
  const lines = [
    r.outcome === 'found' ? `first bad commit: ${r.firstBad}` : `${r.outcome}: ${r.reason}`,
    `  test ${r.testId}, good ${r.good.ref} (${r.good.commit.slice(0, 12)}), bad ${r.bad.ref} (${r.bad.commit.slice(0, 12)}), ${r.commits} commits, gate ${r.gate.maxRegression} (alpha ${r.gate.alpha})`,
    `  last good ${r.lastGood}; ${r.probes} probe(s) of at most ${r.maxProbes}`,
  ];
  for (const s of r.steps) {
    lines.push(
      `  ${s.kind === 'probe' ? 'probe ' : 'bad?  '} ${s.commit.slice(0, 12)}  ${s.verdict.padEnd(12)} ${s.iterations.good}/${s.iterations.candidate} it.  ${s.metrics.map((m) => `${m.metric} ${m.deltaPct === null ? '-' : `${m.deltaPct.toFixed(1)}%`}`).join(', ')}`,
    );
  }
  return lines.join('\n');
}

interface GlobalFlags {
  temporalAddress?: string;
  namespace?: string;
  json?: boolean;
}

/** Registers `bisect` on the CLI. */
export function registerBisectCommand(program: Command): void {
  program
    .command('bisect')
    .description(
      'find the first gcsfuse commit between --good and --bad at which one test got slower: halves the range, each probe an ordinary benchmark judged against the good commit',
    )
    .requiredOption('--good <ref>', 'a commit, tag or branch known good')
    .requiredOption('--bad <ref>', 'a later commit, tag or branch known bad (a descendant of --good)')
    .requiredOption('--test-id <id>', 'the test of the test-cases CSV to run')
    .requiredOption(
      '--config <file>',
      'benchmark options file (YAML/JSON, the keys of `run --config`, without benchmark-id, gcsfuse-commit, iterations, configs-csv)',
    )
    .option('--repo <url>', 'repository the commits are listed in (git rev-list --ancestry-path good..bad)', DEFAULT_GCSFUSE_REPO)
    .option('--bisect-id <id>', 'workflow id of the bisect, prefix of its benchmarks (default bisect-<time>)')
    .option('--max-regression <list>', 'what makes a commit bad against the good one, as for compare', DEFAULT_BISECT_GATE.maxRegression)
    .option('--alpha <p>', "significance level of Welch's t-test", String(DEFAULT_BISECT_GATE.alpha))
    .option('--iterations <n>', 'iterations of each commit at first', String(DEFAULT_BISECT_ITERATIONS.initial))
    .option('--add-iterations <n>', 'iterations added to a side of an inconclusive comparison', String(DEFAULT_BISECT_ITERATIONS.step))
    .option(
      '--max-iterations <n>',
      'most iterations of a side; a commit still inconclusive there ends the bisect',
      String(DEFAULT_BISECT_ITERATIONS.max),
    )
    .option('--no-wait', 'print the bisect id and return')
    .option('--allow-fio-option <names...>', "skip this CLI's job-policy check for these fio options")
    .option('--no-fio-check', 'skip `fio --parse-only` of the rendered job here')
    .addOption(
      new Option('--artifacts <dir-or-gs-url>', 'artifact store of the orchestrator worker (only to print where bisect.json is)').env(
        'GCSFUSE_BENCH_ARTIFACTS',
      ),
    )
    .action(
      async (
        o: {
          good: string;
          bad: string;
          testId: string;
          config: string;
          repo: string;
          bisectId?: string;
          maxRegression: string;
          alpha: string;
          iterations: string;
          addIterations: string;
          maxIterations: string;
          wait: boolean;
          allowFioOption?: string[];
          fioCheck?: boolean;
        },
        cmd: Command,
      ) => {
        const input = await buildBisectInput({ ...o, configFile: o.config, allowFioOptions: o.allowFioOption });
        const g = cmd.optsWithGlobals<GlobalFlags>();
        const client = await connectClient(temporalOptionsFromEnv(process.env, { address: g.temporalAddress, namespace: g.namespace }));
        const handle = await startBisect(client, input);
        if (!o.wait) {
          console.log(g.json ? JSON.stringify({ bisectId: input.bisectId }) : input.bisectId);
          return;
        }
        if (!g.json)
          console.error(
            `bisect ${input.bisectId} started: ${input.good}..${input.bad}, test ${input.testId} (progress: temporal workflow query --workflow-id ${input.bisectId} --name bisect, or the Web UI)`,
          );
        const record = await handle.result();
        console.log(g.json ? JSON.stringify(record, null, 2) : bisectSummary(record));
        if (record.outcome !== 'found') process.exitCode = BISECT_EXIT_UNDECIDED;
      },
    );
}
