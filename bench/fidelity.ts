/**
 * Fidelity: does running fio through the agent change what fio measures, and what does the
 * agent itself cost while fio runs?
 *
 * The same fio job runs bare (fio directly, from this process) and through the agent (a real
 * agent process, `npm run agent`'s entrypoint, with real fio; a one-entry benchmark each time),
 * on the same folder and the same data file, interleaved. The bare run uses the very job file
 * the agent rendered (from the artifacts).
 *
 * Two jobs, both sequential 1 MiB psync reads of a 256 MiB file kept in the page cache
 * (invalidate=0; laid out and read once before measuring), time based, on a real folder:
 *  - "rate-limited": rate=1g, so fio issues I/O at 1 GiB/s whatever else runs, needing a fraction
 *    of a core: it shows the agent runs the same job the same way and does not delay fio enough to
 *    miss the rate; it cannot show CPU stolen from a CPU-bound fio. Pairs, order alternated.
 *  - "cpu-bound" (the same without a rate): bound by CPU and memory bandwidth, the most sensitive to
 *    an agent that steals CPU, and the noisiest on a shared machine. Run in blocks of three (two
 *    bare, one agent; the agent's place rotates), so every block gives the agent/bare ratio (agent /
 *    mean of its block's two bare runs) and a bare/bare ratio (the noise floor). Reported: the
 *    geometric mean ratio with its 95% confidence interval (t over blocks, on log ratios), the same
 *    for bare/bare, and whether the interval is narrow enough to resolve 2% (half-width < 2%).
 *
 * Agent CPU: utime+stime of the agent process itself (/proc/<pid>/stat, its threads, not fio,
 * which is its child) between fio appearing as its child and fio exiting, as % of one core.
 *
 *   npx tsx bench/fidelity.ts [--quick] [--pairs 5] [--blocks 15] [--runtime-s 10] [--cpu-runtime-s 5]
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseFioOutput } from '../src/core/fio';
import { DEFAULT_TIMEOUTS, type BenchmarkRequest } from '../src/core/spec';
import { AGENT_ENTRY } from '../src/local/embedded';
import { startProcess, tsxCommand, type ManagedProcess } from '../src/local/processes';
import {
  BenchRun,
  childPids,
  log,
  mean,
  meanCi95,
  numberFlag,
  procCpuSeconds,
  QUICK,
  removeDir,
  round,
  round2,
  scratchDir,
  sleep,
  stddev,
} from './lib';
import { serverKind, startBenchmark, startStack } from './temporal-support';

const PAIRS = numberFlag('pairs', QUICK ? 2 : 5);
const RUNTIME_S = numberFlag('runtime-s', QUICK ? 3 : 10);
/** Blocks of (bare, bare, agent) for the CPU-bound job (a multiple of 3: the agent takes each place equally often), and its runtime: many short runs resolve better than a few long ones under drifting load. */
const BLOCKS = numberFlag('blocks', QUICK ? 3 : 15);
const CPU_RUNTIME_S = numberFlag('cpu-runtime-s', QUICK ? 2 : 5);
/** The difference the CPU-bound comparison must be able to resolve, and the band the ratio must stay in. */
const RESOLVE_PCT = 2;
const VM = 'fidelity-vm';
const IDLE_S = numberFlag('idle-s', QUICK ? 3 : 10);

const JOB_CACHED = [
  '[global]',
  'ioengine=psync',
  'direct=0',
  // Keep the file in the page cache between runs (fio invalidates it by default).
  'invalidate=0',
  'time_based=1',
  'runtime=${RUNTIME}',
  'directory=${TEST_DATA_DIR}',
  '',
  '[seqread]',
  'rw=${IO_TYPE}',
  'bs=${BLOCK_SIZE}',
  'size=${FILE_SIZE}',
  '',
].join('\n');

/** The same job, throttled by fio to 1 GiB/s. */
const JOB_RATE = JOB_CACHED.replace('bs=${BLOCK_SIZE}', 'bs=${BLOCK_SIZE}\nrate=1g');

interface JobKind {
  name: 'rate-limited' | 'cpu-bound';
  template: string;
  runtimeS: number;
}
const RATE_LIMITED: JobKind = { name: 'rate-limited', template: JOB_RATE, runtimeS: RUNTIME_S };
const CPU_BOUND: JobKind = { name: 'cpu-bound', template: JOB_CACHED, runtimeS: CPU_RUNTIME_S };

function request(benchmarkId: string, job: JobKind): BenchmarkRequest {
  return {
    benchmarkId,
    testCases: {
      name: 'test-cases.csv',
      content: `test_id,io_type,block_size,file_size,runtime\n${job.name},read,1m,256m,${job.runtimeS}s\n`,
    },
    jobFile: { name: 'jobfile.fio', content: job.template },
    iterations: 1,
    fleet: { kind: 'static', vms: [VM] },
    mount: { kind: 'local-dir' },
    gcsfuseCommit: 'master',
    gcsfuseMountArgs: '',
    timeouts: { ...DEFAULT_TIMEOUTS },
    retryWindowMs: 0,
    rerouteOnAgentLoss: false,
  };
}

interface CpuWindow {
  /** Agent CPU seconds and wall seconds while fio was its child. */
  agentCpuS: number;
  wallS: number;
  fioPid: number;
}

/** Watches the agent's children every 10 ms; resolves with the agent's CPU over fio's lifetime. */
function watchFio(agentPid: number, signal: { stop: boolean }): Promise<CpuWindow | undefined> {
  return new Promise((resolve) => {
    let fioPid: number | undefined;
    let cpu0 = 0;
    let t0 = 0;
    const tick = (): void => {
      if (signal.stop && fioPid === undefined) return resolve(undefined);
      if (fioPid === undefined) {
        for (const pid of childPids(agentPid)) {
          let comm: string;
          try {
            comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
          } catch {
            continue;
          }
          // setpriv execs fio in place: the agent's child becomes fio.
          if (comm === 'fio') {
            fioPid = pid;
            cpu0 = procCpuSeconds(agentPid) ?? NaN;
            t0 = performance.now();
            break;
          }
        }
      } else if (!existsSync(`/proc/${fioPid}`) || !childPids(agentPid).includes(fioPid)) {
        return resolve({ agentCpuS: (procCpuSeconds(agentPid) ?? NaN) - cpu0, wallS: (performance.now() - t0) / 1000, fioPid });
      }
      setTimeout(tick, 10);
    };
    tick();
  });
}

function bareFio(jobFile: string, output: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('fio', ['--output-format=json+', `--output=${output}`, jobFile], (err, _stdout, stderr) =>
      err ? reject(new Error(`fio failed: ${stderr}`)) : resolve(),
    );
  });
}

function readBw(file: string): number {
  return parseFioOutput(readFileSync(file, 'utf8')).read.bwBytesPerSec;
}

async function main(): Promise<void> {
  const run = new BenchRun('fidelity');
  run.params = {
    pairs: PAIRS,
    blocks: BLOCKS,
    runtimeS: { 'rate-limited': RUNTIME_S, 'cpu-bound': CPU_RUNTIME_S },
    jobs: {
      'rate-limited': 'seq read 1m psync rate=1g, 256 MiB file in page cache (invalidate=0), time based',
      'cpu-bound': 'the same without rate=',
    },
    agent: 'separate process (tsxCommand(AGENT_ENTRY)), real fio',
    orchestrator: 'in the bench process',
    server: serverKind(),
  };
  const home = scratchDir('fidelity');
  const stack = await startStack(home, { inProcessOrchestrator: true });
  let agent: ManagedProcess | undefined;
  try {
    const workDir = path.join(home, 'agent');
    const c = tsxCommand(AGENT_ENTRY, ['--vm', VM, '--work-dir', workDir]);
    agent = startProcess({
      name: 'agent',
      ...c,
      env: { TEMPORAL_ADDRESS: stack.server.address, GCSFUSE_BENCH_ARTIFACTS: stack.artifacts },
      logDir: path.join(home, 'logs'),
    });
    const agentPid = agent.child.pid!;
    const t0 = Date.now();
    while (!(existsSync(agent.logFile) && readFileSync(agent.logFile, 'utf8').includes('polling'))) {
      if (agent.child.exitCode !== null || Date.now() - t0 > 60_000) throw new Error(`the agent did not start; see ${agent.logFile}`);
      await sleep(100);
    }
    log(`agent up (pid ${agentPid})`);

    // The agent's own idle cost (Node + the Temporal worker polling), for comparison.
    const idle0 = procCpuSeconds(agentPid) ?? NaN;
    const idleWall0 = performance.now();
    await sleep(IDLE_S * 1000);
    const idlePct = (((procCpuSeconds(agentPid) ?? NaN) - idle0) / ((performance.now() - idleWall0) / 1000)) * 100;
    log(`agent idle CPU: ${round(idlePct, 3)}% of a core over ${IDLE_S} s`);

    let n = 0;
    const viaAgent = async (
      job: JobKind,
    ): Promise<{ id: string; bw: number; cpu: CpuWindow | undefined; wholeCpuS: number; wholeWallS: number }> => {
      const id = `fidelity-${Date.now()}-${++n}`;
      const stop = { stop: false };
      const watcher = watchFio(agentPid, stop);
      const cpuStart = procCpuSeconds(agentPid) ?? NaN;
      const w0 = performance.now();
      const handle = await startBenchmark(stack.client, request(id, job), stack.artifacts);
      const result = await handle.result();
      const wholeWallS = (performance.now() - w0) / 1000;
      const wholeCpuS = (procCpuSeconds(agentPid) ?? NaN) - cpuStart;
      stop.stop = true;
      const cpu = await watcher;
      if (result.passed !== 1) throw new Error(`the agent's entry did not pass: ${JSON.stringify(result)}`);
      const out = path.join(stack.artifacts, id, 'results', VM, 'test-1', 'iteration-1.fio.json');
      return { id, bw: readBw(out), cpu, wholeCpuS, wholeWallS };
    };

    /** Warm-up: the agent lays out the file and renders the job the bare runs reuse; a bare run reads it once. */
    const warmUp = async (job: JobKind): Promise<string> => {
      const first = await viaAgent(job);
      const jobFile = path.join(stack.artifacts, first.id, 'results', VM, 'test-1', 'job.fio');
      log(`${job.name}: bare runs use the agent's rendered ${jobFile}`);
      await bareFio(jobFile, path.join(home, `${job.name}-bare-warmup.json`));
      return jobFile;
    };
    let bareN = 0;
    const doBare = async (job: JobKind, jobFile: string): Promise<number> => {
      const out = path.join(home, `${job.name}-bare-${++bareN}.json`);
      await bareFio(jobFile, out);
      return readBw(out);
    };
    const mib = (x: number) => round2(x / 2 ** 20);
    const figures: Record<string, number | number[] | boolean | null> = {
      pairs: PAIRS,
      blocks: BLOCKS,
      agent_cpu_pct_of_core_idle: round(idlePct, 3),
    };
    const allCpu: number[] = [];
    const agentCpu = (a: Awaited<ReturnType<typeof viaAgent>>) => {
      const pct = a.cpu ? (a.cpu.agentCpuS / a.cpu.wallS) * 100 : NaN;
      if (a.cpu) allCpu.push(pct);
      return { pct, wholePct: (a.wholeCpuS / a.wholeWallS) * 100 };
    };

    // Rate-limited: pairs, the order alternated so a drift in the machine's load favours neither side.
    {
      const job = RATE_LIMITED;
      const jobFile = await warmUp(job);
      const bare: number[] = [];
      const agentBw: number[] = [];
      const ratios: number[] = [];
      const cpuPct: number[] = [];
      const wholePct: number[] = [];
      for (let i = 0; i < PAIRS; i++) {
        let b: number;
        let a: Awaited<ReturnType<typeof viaAgent>>;
        if (i % 2 === 0) {
          b = await doBare(job, jobFile);
          a = await viaAgent(job);
        } else {
          a = await viaAgent(job);
          b = await doBare(job, jobFile);
        }
        const c = agentCpu(a);
        bare.push(b);
        agentBw.push(a.bw);
        ratios.push(a.bw / b);
        cpuPct.push(c.pct);
        wholePct.push(c.wholePct);
        log(
          `${job.name} pair ${i + 1}: bare ${mib(b)} MiB/s, agent ${mib(a.bw)} MiB/s (ratio ${round(a.bw / b, 4)}); agent CPU while fio ran ${round(c.pct, 3)}% of a core; load ${os.loadavg()[0]!.toFixed(2)}`,
        );
      }
      const sorted = [...ratios].sort((x, y) => x - y);
      figures.rate_limited_bw_ratio = round(mean(agentBw) / mean(bare), 4);
      figures.rate_limited_bw_ratio_pair_min = round(sorted[0]!, 4);
      figures.rate_limited_bw_ratio_pair_max = round(sorted.at(-1)!, 4);
      figures.rate_limited_bare_bw_mean_mibps = mib(mean(bare));
      figures.rate_limited_agent_bw_mean_mibps = mib(mean(agentBw));
      figures.rate_limited_bare_bw_cv_pct = round2((stddev(bare) / mean(bare)) * 100);
      figures.rate_limited_agent_cpu_pct_during_fio_mean = round(mean(cpuPct.filter(Number.isFinite)), 3);
      figures.rate_limited_agent_cpu_pct_whole_entry_mean = round(mean(wholePct), 3);
    }

    // CPU-bound: blocks of three (two bare, one agent), the agent's place rotating.
    {
      const job = CPU_BOUND;
      const jobFile = await warmUp(job);
      const logAgent: number[] = [];
      const logBare: number[] = [];
      const bareAll: number[] = [];
      const agentAll: number[] = [];
      const cpuPct: number[] = [];
      for (let i = 0; i < BLOCKS; i++) {
        const agentAt = i % 3;
        const bares: number[] = [];
        let a: Awaited<ReturnType<typeof viaAgent>> | undefined;
        for (let k = 0; k < 3; k++) {
          if (k === agentAt) a = await viaAgent(job);
          else bares.push(await doBare(job, jobFile));
        }
        const c = agentCpu(a!);
        cpuPct.push(c.pct);
        bareAll.push(...bares);
        agentAll.push(a!.bw);
        // Agent over its block's bare runs; the later bare run over the earlier one (the noise floor).
        logAgent.push(Math.log(a!.bw / mean(bares)));
        logBare.push(Math.log(bares[1]! / bares[0]!));
        log(
          `${job.name} block ${i + 1}: bare ${bares.map(mib).join(', ')} MiB/s, agent ${mib(a!.bw)} MiB/s (agent/bare ${round(a!.bw / mean(bares), 4)}, bare/bare ${round(bares[1]! / bares[0]!, 4)}); load ${os.loadavg()[0]!.toFixed(2)}`,
        );
      }
      const ag = meanCi95(logAgent);
      const bb = meanCi95(logBare);
      const halfPct = (ci: { mean: number; halfWidth: number }) => round2((Math.exp(ci.mean + ci.halfWidth) / Math.exp(ci.mean) - 1) * 100);
      figures.cpu_bound_bw_ratio = round(Math.exp(ag.mean), 4);
      figures.cpu_bound_bw_ratio_ci95 = [round(Math.exp(ag.mean - ag.halfWidth), 4), round(Math.exp(ag.mean + ag.halfWidth), 4)];
      figures.cpu_bound_ci95_halfwidth_pct = halfPct(ag);
      figures.cpu_bound_bare_bare_ratio = round(Math.exp(bb.mean), 4);
      figures.cpu_bound_bare_bare_ratio_ci95 = [round(Math.exp(bb.mean - bb.halfWidth), 4), round(Math.exp(bb.mean + bb.halfWidth), 4)];
      figures.cpu_bound_bare_bare_ci95_halfwidth_pct = halfPct(bb);
      // A single bare run's spread against the next: the noise one comparison carries.
      figures.cpu_bound_bare_bare_sd_pct = round2(stddev(logBare) * 100);
      figures.cpu_bound_bare_bw_cv_pct = round2((stddev(bareAll) / mean(bareAll)) * 100);
      figures.cpu_bound_bare_bw_mean_mibps = mib(mean(bareAll));
      figures.cpu_bound_agent_bw_mean_mibps = mib(mean(agentAll));
      figures.cpu_bound_resolves_2pct = figures.cpu_bound_ci95_halfwidth_pct < RESOLVE_PCT;
      figures.cpu_bound_ratio_ci_within_2pct =
        Math.exp(ag.mean - ag.halfWidth) >= 1 - RESOLVE_PCT / 100 && Math.exp(ag.mean + ag.halfWidth) <= 1 + RESOLVE_PCT / 100;
      figures.cpu_bound_agent_cpu_pct_during_fio_mean = round(mean(cpuPct.filter(Number.isFinite)), 3);
      // Blocks a 2% difference needs at this noise: half-width ~ t * sd / sqrt(n) < 2%.
      figures.cpu_bound_blocks_needed_for_2pct = Math.ceil(((1.96 * stddev(logAgent) * 100) / RESOLVE_PCT) ** 2);
    }
    figures.agent_cpu_pct_during_fio_max = round(Math.max(...allCpu), 3);
    figures.agent_cpu_pct_during_fio_mean = round(mean(allCpu), 3);
    run.note('bw from fio json+ read.bw_bytes; rate-limited ratio = mean(agent)/mean(bare) over pairs with alternating order');
    run.note(
      `cpu-bound: ${BLOCKS} blocks of (bare, bare, agent) with the agent's place rotating; ratio = geometric mean of agent / mean(block's bare), 95% CI by t over blocks on log ratios; bare/bare = later / earlier bare run in a block (the noise floor); resolves ${RESOLVE_PCT}% when the CI half-width < ${RESOLVE_PCT}%`,
    );
    run.note(
      'agent CPU = utime+stime of the agent process (all its threads, not fio) while fio was its child; whole_entry includes rendering, manifest and upload work around fio',
    );
    run.finish(
      figures,
      `bandwidth ratio agent/bare within ${1 - RESOLVE_PCT / 100}-${1 + RESOLVE_PCT / 100} (rate-limited; CPU-bound with a 95% CI narrower than ${RESOLVE_PCT}%); agent CPU while fio runs < 1% of a core (every run)`,
      [
        { metric: 'rate_limited_bw_ratio', op: 'between', value: [1 - RESOLVE_PCT / 100, 1 + RESOLVE_PCT / 100] },
        { metric: 'cpu_bound_bw_ratio', op: 'between', value: [1 - RESOLVE_PCT / 100, 1 + RESOLVE_PCT / 100] },
        { metric: 'cpu_bound_ci95_halfwidth_pct', op: '<', value: RESOLVE_PCT },
        { metric: 'agent_cpu_pct_during_fio_max', op: '<', value: 1 },
      ],
      {
        rate_limited_agent_bw_mean_mibps: { metric: 'rate_limited_bare_bw_mean_mibps', what: 'bare fio in the same pairs' },
        cpu_bound_agent_bw_mean_mibps: { metric: 'cpu_bound_bare_bw_mean_mibps', what: 'bare fio in the same blocks' },
        cpu_bound_bw_ratio: { metric: 'cpu_bound_bare_bare_ratio', what: 'bare/bare in the same blocks: the noise floor' },
        cpu_bound_ci95_halfwidth_pct: { metric: 'cpu_bound_bare_bare_ci95_halfwidth_pct', what: "bare/bare's own CI half-width, %" },
        agent_cpu_pct_during_fio_max: { metric: 'agent_cpu_pct_of_core_idle', what: 'the agent idle, % of a core' },
      },
    );
  } finally {
    await agent?.stop();
    await stack.stop();
    removeDir(home);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
