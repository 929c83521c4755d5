import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { getJson, toJson, type ArtifactStore } from '../../src/artifacts/store';
import { InputError } from '../../src/core/errors';
import { FioOutputError, parseFioOutput, unusableOutputReason } from '../../src/core/fio';
import { checkSafeId } from '../../src/core/ids';
import { renderJob } from '../../src/core/job';
import type { AgentActivities } from '../../src/shared/agent-contract';
import { withFailureMapping } from '../../src/shared/failures';
import { checkJobsWithFio } from '../../src/shared/fio-parse-check';
import { childEnv } from './child-env';
import { checkRealPathsInside, makeDirInside } from './paths';
import { createRedactor, redactError, secretValues, type Redact } from './secrets';
import { layout } from '../../src/core/layout';
import type { JobSpec, Manifest, ManifestEntry } from '../../src/core/spec';
import { stabilityOf, wantsAnotherIteration } from '../../src/core/stability';
import { FAILURE_TYPES } from '../../src/shared/names';
import { entryStartedSignal } from '../../src/workflows/definitions';
import type { EntryOutcome, RunEntryInput } from '../../src/workflows/types';
import { currentBuild } from '../../src/shared/build';
import { storeFioLogs, type FioRunner } from './fio-runner';
import { createMetadataCollector, iterationMetadata, prefetchMetadata, type MetadataCollector } from './metadata';
import { iterationMetadataKey } from '../../src/core/metadata';
import { startMonitor } from './monitor';
import type { Mounter } from './mounter';

export interface AgentDeps {
  vm: string;
  store: ArtifactStore;
  mounter: Mounter;
  runFio: FioRunner;
  /** Local scratch space: rendered jobs and fio outputs before upload. */
  workDir: string;
  /** How often to heartbeat while fio runs. */
  heartbeatIntervalMs?: number;
  /** Versions and machine facts recorded with each entry; collected once per agent. */
  metadata?: MetadataCollector;
  /** Resource sampling interval while fio runs (default 1 s). */
  monitorIntervalMs?: number;
  /** fio options this VM's operator allows past the job policy (the agent's --allow-fio-option); never from a workflow. */
  allowFioOptions?: ReadonlySet<string>;
  /** Removes the agent's secrets from what it stores or reports (default: the secrets in its environment). */
  redact?: Redact;
  /** Have fio's own parser check each entry's job before it runs (default true; tests with a stand-in fio turn it off). */
  fioParseCheck?: boolean;
  /** Refuse an output that moved no bytes in a direction its job asks for (default true; SIMULATION MODE moves none by design). */
  outputCheck?: boolean;
  /** This agent's build label, stamped on each outcome and manifest record (default: this process's, src/shared/build.ts). */
  build?: string;
}

export function createAgentActivities(deps: AgentDeps) {
  const agentBuild = deps.build ?? currentBuild().label;
  const specs = new Map<string, JobSpec>();
  const metadata = deps.metadata ?? createMetadataCollector();
  const redact = deps.redact ?? createRedactor(secretValues());
  const allow = deps.allowFioOptions ?? new Set<string>();
  /** Rendered jobs fio's parser accepted already (the text names the mount point, so it is the same each iteration). */
  const parsedByFio = new Set<string>();
  const loadSpec = async (benchmarkId: string, specVm: string): Promise<JobSpec> => {
    const key = layout.jobSpec(benchmarkId, specVm);
    let spec = specs.get(key);
    if (!spec) {
      spec = await getJson<JobSpec>(deps.store, key);
      if (!spec) throw new InputError(`job spec ${deps.store.urlOf(key)} does not exist`);
      specs.set(key, spec); // written once, so it never goes stale
    }
    return spec;
  };

  const manifestKey = (benchmarkId: string) => layout.manifest(benchmarkId, deps.vm);
  const saveEntry = async (benchmarkId: string, entry: ManifestEntry): Promise<void> => {
    // One entry at a time per agent, so read-modify-write of our own manifest is safe.
    const manifest = (await getJson<Manifest>(deps.store, manifestKey(benchmarkId))) ?? {
      benchmarkId,
      vm: deps.vm,
      updatedAt: '',
      entries: {},
    };
    manifest.entries[String(entry.matrixId)] = entry;
    manifest.updatedAt = new Date().toISOString();
    await deps.store.put(manifestKey(benchmarkId), toJson(manifest));
  };

  interface IterationInput {
    benchmarkId: string;
    spec: JobSpec;
    entry: JobSpec['entries'][number];
    iteration: number;
    template: string;
    localDir: string;
    signal: AbortSignal;
    /** Record the entry's metadata.json (once per entry, from its first iteration that runs). */
    withMetadata: boolean;
  }

  /**
   * One fio run on a fresh mount: render the job, run fio while sampling resources, keep fio's
   * stderr and the mount's logs whatever happens, and return fio's output once it proved usable.
   */
  async function runIteration(it: IterationInput): Promise<string> {
    const { benchmarkId, spec, entry, iteration, localDir } = it;
    const matrixId = entry.matrixId;
    const handle = await deps.mounter.mount(entry.config, spec.mount, localDir);
    try {
      // The job policy again: the template and job spec may have been written to the store without the CLI.
      const job = renderJob(
        it.template,
        spec.jobTemplatePath,
        { testId: entry.testId, params: entry.params, mountPoint: handle.mountPoint, vm: deps.vm },
        allow,
      );
      const dataDir = job.testDataDir;
      await makeDirInside(handle.mountPoint, dataDir);
      await checkRealPathsInside(job.vmDataDir, job.options, dataDir, allow);
      if (deps.fioParseCheck !== false && !parsedByFio.has(job.text)) {
        await checkJobsWithFio([{ label: `entry ${matrixId} (test "${entry.testId}")`, file: spec.jobTemplatePath, job }], {
          env: childEnv('fio'),
          allow,
          concurrency: 1,
        });
        parsedByFio.add(job.text);
      }
      await handle.prepareDir?.(dataDir);
      // Metadata prefetch (the original's timed `ls -R` of the test folder), recorded per iteration.
      const prefetch = await prefetchMetadata(dataDir);
      await deps.store.put(iterationMetadataKey(benchmarkId, deps.vm, matrixId, iteration), toJson(iterationMetadata(iteration, prefetch)));
      const rendered = job.text;
      await deps.store.putOnce(layout.renderedJob(benchmarkId, deps.vm, matrixId), rendered);
      if (it.withMetadata) {
        const meta = await metadata.forEntry({
          benchmarkId,
          vm: deps.vm,
          matrixId,
          testId: entry.testId,
          config: entry.config,
          mountSpec: spec.mount,
          handle,
          renderedJob: rendered,
        });
        await deps.store.put(layout.entryMetadata(benchmarkId, deps.vm, matrixId), toJson(meta));
      }
      const jobFile = path.join(localDir, 'job.fio');
      const outputFile = path.join(localDir, `iteration-${iteration}.fio.json`);
      await fs.writeFile(jobFile, rendered);
      await fs.rm(outputFile, { force: true });
      const monitor = startMonitor({ pid: handle.pid === undefined ? undefined : () => handle.pid, intervalMs: deps.monitorIntervalMs });
      let result: Awaited<ReturnType<FioRunner>>;
      try {
        // fio's bandwidth/IOPS/latency logs go to the agent's own folder (core/timeseries.ts).
        const logDir = path.join(localDir, `iteration-${iteration}.logs`);
        result = await deps.runFio({
          jobFile,
          outputFile,
          timeoutMs: spec.fioIterationMs,
          signal: it.signal,
          pidFile: path.join(deps.workDir, 'fio.pid'),
          cwd: dataDir,
          logDir,
        });
      } finally {
        // Stored even when fio failed, and before its output: a stored output always has its samples.
        await deps.store.put(layout.resources(benchmarkId, deps.vm, matrixId, iteration), toJson(await monitor.stop()));
      }
      await storeFioLogs(deps.store, { benchmarkId, vm: deps.vm, matrixId, iteration }, result);
      const stderr = redact(result.stderr);
      if (stderr) await deps.store.put(layout.fioLog(benchmarkId, deps.vm, matrixId, iteration), stderr);
      if (result.aborted) throw it.signal.reason ?? new Error('cancelled');
      if (result.timedOut) {
        throw ApplicationFailure.nonRetryable(
          `fio iteration ${iteration} exceeded its timeout of ${spec.fioIterationMs} ms and was killed`,
          FAILURE_TYPES.fio,
        );
      }
      if (result.exitCode !== 0) {
        const why = stderr.trim().split('\n').slice(-5).join(' | ') || `signal ${result.signal}`;
        throw ApplicationFailure.nonRetryable(
          `fio iteration ${iteration} exited with ${result.exitCode ?? result.signal}: ${why}`,
          FAILURE_TYPES.fio,
        );
      }
      const output = await fs.readFile(outputFile, 'utf8');
      try {
        const rw = job.options.filter((o) => o.name === 'rw' || o.name === 'readwrite').map((o) => o.value);
        const parsed = parseFioOutput(output);
        const reasons =
          deps.outputCheck === false
            ? []
            : (rw.length ? rw : [undefined]).map((mode) => unusableOutputReason(parsed, mode)).filter(Boolean);
        if (reasons.length > 0) throw new FioOutputError(reasons[0]!);
      } catch (err) {
        throw ApplicationFailure.nonRetryable(
          `fio iteration ${iteration} produced no usable result: ${(err as Error).message}`,
          FAILURE_TYPES.fio,
        );
      }
      return output;
    } finally {
      await handle.unmount();
      // Mount logs go with the results, also (above all) when the iteration failed.
      for (const file of handle.logFiles ?? []) {
        const log = await fs.readFile(file, 'utf8').then(redact, () => undefined);
        if (log?.length) await deps.store.put(layout.mountLog(benchmarkId, deps.vm, matrixId, iteration, path.basename(file)), log);
      }
    }
  }

  async function runEntry(input: RunEntryInput): Promise<EntryOutcome> {
    const ctx = Context.current();
    const { benchmarkId, matrixId } = input;
    // Ids become paths and object keys: checked here too, since a workflow can be started without the CLI.
    checkSafeId(benchmarkId, 'benchmark id');
    checkSafeId(input.specVm, 'VM name');
    if (!Number.isSafeInteger(matrixId) || matrixId < 1)
      throw new InputError(`matrix id ${JSON.stringify(matrixId)} is not a whole number of 1 or more`);
    // Tell the VM's workflow at once, so it queues the next entry while this one runs (not awaited: off the critical path).
    if (input.startedSignal) {
      const { workflowId, token } = input.startedSignal;
      ctx.client.workflow
        .getHandle(workflowId)
        .signal(entryStartedSignal, token)
        .catch((err: Error) => ctx.log.warn('could not signal the entry start', { error: err.message }));
    }
    const started = Date.now();
    const spec = await loadSpec(benchmarkId, input.specVm);
    const entry = spec.entries.find((e) => e.matrixId === matrixId);
    if (!entry) throw new InputError(`matrix entry ${matrixId} is not in the job spec of ${input.specVm}`);
    checkSafeId(entry.testId, 'test id');

    const outputKey = (i: number) => layout.fioOutput(benchmarkId, deps.vm, matrixId, i);
    const manifest = await getJson<Manifest>(deps.store, manifestKey(benchmarkId));
    const previous = manifest?.entries[String(matrixId)];
    if (previous?.status === 'passed' && previous.iterationsDone >= spec.iterations) {
      // The build that ran it, when the record names one (not this agent's: it ran nothing now).
      const ranBy = previous.agentBuild ? { agentBuild: previous.agentBuild } : {};
      return { matrixId, vm: deps.vm, status: 'passed', iterationsDone: previous.iterationsDone, durationMs: 0, reused: true, ...ranBy };
    }

    const record: ManifestEntry = {
      matrixId,
      specVm: input.specVm,
      status: 'running',
      iterations: spec.iterations,
      iterationsDone: 0,
      startedAt: new Date(started).toISOString(),
      agentBuild,
    };
    await saveEntry(benchmarkId, record);

    const template = await deps.store.get(`${benchmarkId}/${spec.jobTemplatePath}`);
    if (!template) throw new InputError(`job template ${deps.store.urlOf(`${benchmarkId}/${spec.jobTemplatePath}`)} does not exist`);
    const localDir = path.join(deps.workDir, benchmarkId, `test-${matrixId}`);
    await fs.mkdir(localDir, { recursive: true });

    let iteration = 0;
    let metadataWritten = false;
    /** Bandwidth (read + write) of each iteration so far, for the stability gate. */
    const bws: number[] = [];
    const bwOf = (output: string) => {
      const r = parseFioOutput(output);
      return r.read.bwBytesPerSec + r.write.bwBytesPerSec + r.trim.bwBytesPerSec;
    };
    const beat = setInterval(() => ctx.heartbeat({ iteration }), deps.heartbeatIntervalMs ?? 2_000);
    try {
      for (iteration = 1; wantsAnotherIteration(bws, spec.iterations, spec.stability); iteration++) {
        ctx.heartbeat({ iteration });
        // An iteration whose output was stored by an earlier attempt is never run again.
        const stored = await deps.store.get(outputKey(iteration));
        if (stored) {
          bws.push(bwOf(stored.toString('utf8')));
          record.iterationsDone = iteration;
          continue;
        }
        const output = await runIteration({
          benchmarkId,
          spec,
          entry,
          iteration,
          template: template.toString('utf8'),
          localDir,
          signal: ctx.cancellationSignal,
          withMetadata: !metadataWritten,
        });
        metadataWritten = true;
        await deps.store.putOnce(outputKey(iteration), output);
        bws.push(bwOf(output));
        record.iterationsDone = iteration;
        await saveEntry(benchmarkId, record);
      }
    } catch (err) {
      clearInterval(beat);
      const finishedAt = Date.now();
      await saveEntry(benchmarkId, {
        ...record,
        status: 'failed',
        finishedAt: new Date(finishedAt).toISOString(),
        durationMs: finishedAt - started,
        error: ctx.cancellationSignal.aborted ? 'cancelled' : redact((err as Error).message),
      });
      throw err;
    }
    clearInterval(beat);
    const finishedAt = Date.now();
    await saveEntry(benchmarkId, {
      ...record,
      iterationsDone: bws.length,
      status: 'passed',
      finishedAt: new Date(finishedAt).toISOString(),
      durationMs: finishedAt - started,
      ...(spec.stability ? stabilityOf(bws, spec.stability) : {}),
    });
    return {
      matrixId,
      vm: deps.vm,
      status: 'passed',
      iterationsDone: bws.length,
      durationMs: finishedAt - started,
      reused: false,
      agentBuild,
    };
  }

  return withFailureMapping({
    // Whatever leaves the agent as an error lands in a workflow history: redacted first.
    runEntry: async (input: RunEntryInput) => {
      try {
        return await runEntry(input);
      } catch (err) {
        throw redactError(err, redact);
      }
    },
  }) satisfies AgentActivities;
}

// The contract lives in src/shared/agent-contract.ts; re-exported until src/workflows/vm.ts imports it from there.
