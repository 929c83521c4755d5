/**
 * Assignment quality (pure, no server): how close the LPT assignment of src/core/assign.ts
 * comes to the best possible makespan, beside the original tool's equal split by count.
 *
 * Suites are heterogeneous (file sizes 128 KiB .. 1 GiB, so estimated durations differ by up
 * to 8192x) and reproducible from fixed seeds. Costs come from the real path:
 * prepareBenchmark() -> estimateIterationMs() (bytes / 100 MiB/s) x iterations, as
 * distribute() computes them. Ratio = makespan / max(total / VMs, longest entry).
 *
 * Estimates are not durations: the second part re-times each assignment with simulated
 * "true" durations (estimate x log-normal noise, plus a fixed per-iteration overhead for
 * mounting, starting fio and uploading) to show what the ratio becomes when the estimate is off.
 *
 *   npx tsx bench/assignment-quality.ts [--quick] [--seeds N] [--vms 8]
 */
import { fileURLToPath } from 'node:url';
import { assignByCost, assignmentQuality } from '../src/core/assign';
import { DEFAULT_TIMEOUTS, prepareBenchmark, type BenchmarkRequest } from '../src/core/spec';
import { BenchRun, log, mean, numberFlag, QUICK, round, seededRandom } from './lib';

const VMS = numberFlag('vms', 8);
const SEEDS = numberFlag('seeds', QUICK ? 5 : 30);
const ITERATIONS = 3;
const KiB = 2 ** 10;

/** The original tool's split (gcsfuse-tools distributed-micro-benchmarking, job_generator.distribute_tests):
 * entries in matrix order, cut into contiguous chunks of len // VMs, the first len % VMs VMs taking one more. */
export function originalSplit(matrixIds: readonly number[], vms: readonly string[]): Map<string, number[]> {
  const per = Math.floor(matrixIds.length / vms.length);
  const remaining = matrixIds.length % vms.length;
  const out = new Map<string, number[]>();
  let start = 0;
  vms.forEach((vm, i) => {
    const count = per + (i < remaining ? 1 : 0);
    out.set(vm, matrixIds.slice(start, start + count));
    start += count;
  });
  return out;
}

function sizeText(bytes: number): string {
  return bytes >= 2 ** 30 ? `${bytes / 2 ** 30}g` : bytes >= 2 ** 20 ? `${bytes / 2 ** 20}m` : `${bytes / KiB}k`;
}

interface Suite {
  family: string;
  seed: number;
  csv: string;
  configsCsv?: string;
}

const RW = ['read', 'randread', 'write', 'randwrite'];
const BS = ['4k', '64k', '1m'];
/** Powers of two from 128 KiB to 1 GiB. */
const SIZES = Array.from({ length: 14 }, (_, i) => 128 * KiB * 2 ** i);

/** Rows in random order, each file size log-uniform over 128 KiB .. 1 GiB. */
export function randomSuite(seed: number): Suite {
  const rnd = seededRandom(seed);
  const n = 16 + Math.floor(rnd() * 185); // 16..200 entries
  const rows = ['test_id,io_type,block_size,file_size,num_jobs'];
  for (let i = 1; i <= n; i++) {
    const size = SIZES[Math.floor(rnd() * SIZES.length)]!;
    rows.push(`t${i},${RW[Math.floor(rnd() * RW.length)]},${BS[Math.floor(rnd() * BS.length)]},${sizeText(size)},1`);
  }
  return { family: 'random-order', seed, csv: rows.join('\n') + '\n' };
}

/** The way people write CSVs: nested loops (size outermost, ascending), 2 mount configs, config-major matrix. */
export function structuredSuite(seed: number): Suite {
  const rnd = seededRandom(seed * 7919);
  const pick = <T>(xs: readonly T[], k: number): T[] => [...xs].sort(() => rnd() - 0.5).slice(0, k);
  const sizes = pick(SIZES, 3 + Math.floor(rnd() * 4)).sort((a, b) => a - b);
  const rws = pick(RW, 2 + Math.floor(rnd() * 3));
  const bss = pick(BS, 1 + Math.floor(rnd() * 3));
  const rows = ['test_id,io_type,block_size,file_size,num_jobs'];
  let i = 0;
  for (const size of sizes) for (const rw of rws) for (const bs of bss) rows.push(`t${++i},${rw},${bs},${sizeText(size)},1`);
  const configsCsv = 'commit,mount_args,label\nmaster,--implicit-dirs,a\nmaster,--implicit-dirs --stat-cache-max-size-mb=-1,b\n';
  return { family: 'structured', seed, csv: rows.join('\n') + '\n', configsCsv };
}

export function requestOf(s: Suite): BenchmarkRequest {
  return {
    benchmarkId: `assign-${s.family}-${s.seed}`,
    testCases: { name: 'test-cases.csv', content: s.csv },
    configs: s.configsCsv ? { name: 'configs.csv', content: s.configsCsv } : undefined,
    // Not time based: the estimate is the bytes the job moves (the case the brief asks about).
    jobFile: {
      name: 'jobfile.fio',
      content:
        '[global]\nioengine=psync\ndirectory=${TEST_DATA_DIR}\n\n[job]\nrw=${IO_TYPE}\nbs=${BLOCK_SIZE}\nsize=${FILE_SIZE}\nnumjobs=${NUM_JOBS}\n',
    },
    iterations: ITERATIONS,
    fleet: { kind: 'static', vms: Array.from({ length: VMS }, (_, i) => `vm-${i + 1}`) },
    mount: { kind: 'local-dir' },
    gcsfuseCommit: 'master',
    gcsfuseMountArgs: '',
    timeouts: DEFAULT_TIMEOUTS,
    retryWindowMs: 0,
    rerouteOnAgentLoss: true,
  };
}

function ratio(costs: ReadonlyMap<number, number>, assignment: ReadonlyMap<string, number[]>): number {
  const q = assignmentQuality(costs, assignment);
  return q.makespanMs / q.lowerBoundMs;
}

/**
 * A tighter lower bound on the optimal makespan: among the k*m+1 longest entries some VM gets
 * k+1 of them, so the optimum is at least the sum of the k+1 shortest of those (k >= 1), and
 * at least total / m and the longest entry.
 */
export function strongLowerBound(costs: readonly number[], m: number): number {
  const sorted = [...costs].sort((a, b) => b - a);
  let lb = Math.max(sorted.reduce((s, c) => s + c, 0) / m, sorted[0] ?? 0);
  for (let k = 1; k * m + 1 <= sorted.length; k++) {
    let sum = 0;
    for (let i = k * m - k; i <= k * m; i++) sum += sorted[i]!;
    lb = Math.max(lb, sum);
  }
  return lb;
}

/**
 * The best makespan we can find cheaply: LPT improved by local search (move one entry off a
 * most-loaded VM, or swap one pair with another VM, while that lowers the pair's maximum).
 * A reference for how far LPT is from what is achievable, not an optimum.
 */
export function improvedMakespan(costs: ReadonlyMap<number, number>, assignment: ReadonlyMap<string, number[]>): number {
  const bins = [...assignment.values()].map((ids) => ids.map((id) => costs.get(id)!));
  const load = bins.map((b) => b.reduce((s, c) => s + c, 0));
  for (let guard = 0; guard < 10_000; guard++) {
    const top = load.indexOf(Math.max(...load));
    let improved = false;
    outer: for (let o = 0; o < bins.length; o++) {
      if (o === top) continue;
      const before = Math.max(load[top]!, load[o]!);
      for (let i = 0; i < bins[top]!.length; i++) {
        const a = bins[top]![i]!;
        if (Math.max(load[top]! - a, load[o]! + a) < before - 1e-9) {
          bins[top]!.splice(i, 1);
          bins[o]!.push(a);
          load[top]! -= a;
          load[o]! += a;
          improved = true;
          break outer;
        }
        for (let j = 0; j < bins[o]!.length; j++) {
          const b = bins[o]![j]!;
          if (b < a && Math.max(load[top]! - a + b, load[o]! + a - b) < before - 1e-9) {
            bins[top]![i] = b;
            bins[o]![j] = a;
            load[top]! += b - a;
            load[o]! += a - b;
            improved = true;
            break outer;
          }
        }
      }
    }
    if (!improved) break;
  }
  return Math.max(...load);
}

/**
 * The optimal makespan by branch and bound (entries longest first, each tried on every VM of
 * distinct load; an entry equal to the previous one never goes to an earlier VM), or undefined
 * when the search exceeds its node budget. Starts from an upper bound (LPT's makespan), so
 * proving LPT optimal is a search that finds nothing better.
 */
export function optimalMakespan(costs: readonly number[], m: number, upper: number, budget = 2_000_000): number | undefined {
  const items = [...costs].sort((a, b) => b - a);
  const suffix = new Array<number>(items.length + 1).fill(0);
  for (let i = items.length - 1; i >= 0; i--) suffix[i] = suffix[i + 1]! + items[i]!;
  const load = new Array<number>(m).fill(0);
  let best = upper;
  let nodes = 0;
  const eps = 1e-6;
  const lb = strongLowerBound(items, m);
  const dfs = (i: number, minVm: number): boolean => {
    if (++nodes > budget) return false;
    if (i === items.length) {
      best = Math.max(...load);
      return best <= lb + eps; // nothing can beat the lower bound: stop
    }
    const used = load.reduce((s, l) => s + l, 0);
    if ((used + suffix[i]!) / m >= best - eps) return false;
    const tried = new Set<number>();
    const start = i > 0 && items[i] === items[i - 1] ? minVm : 0;
    for (let v = start; v < m; v++) {
      if (tried.has(load[v]!)) continue;
      tried.add(load[v]!);
      if (load[v]! + items[i]! >= best - eps) continue;
      load[v]! += items[i]!;
      const done = dfs(i + 1, v);
      load[v]! -= items[i]!;
      if (done || nodes > budget) return done;
    }
    return false;
  };
  dfs(0, 0);
  return nodes > budget ? undefined : best;
}

/** Standard normal from two uniforms (Box-Muller). */
function gaussian(rnd: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
}

interface Row {
  family: string;
  seed: number;
  entries: number;
  spread: number;
  lpt: number;
  original: number;
  /** LPT's makespan over the tighter lower bound, and the local-search reference over the brief's bound. */
  lptStrong: number;
  improved: number;
  /** LPT's makespan over the optimum, when the search proved it (else null). */
  lptVsOptimum: number | null;
  /** The optimum over the brief's bound: how much of the ratio no assignment can avoid. */
  optimumVsBound: number | null;
  /** Under simulated true durations. */
  lptNoisy: number;
  lptNoisyOracle: number;
  originalNoisy: number;
  lptOverhead: number;
  lptOverheadOracle: number;
  /** LPT on estimate + the fixed overhead (the proposed fix), timed with the same true durations. */
  lptOverheadAware: number;
  originalOverhead: number;
  /** Entries whose estimated cost is under 1% of the largest: they weigh nothing for LPT. */
  tinyEntries: number;
}

/** Log-normal noise sigma of true / estimated duration, and a fixed per-iteration overhead. */
const NOISE_SIGMA = 0.5;
const OVERHEAD_MS = 2_000;

function evaluate(s: Suite): Row {
  const req = requestOf(s);
  const vms = req.fleet.kind === 'static' ? req.fleet.vms : [];
  const prepared = prepareBenchmark(req);
  const est = new Map(prepared.matrix.map((e) => [e.matrixId, prepared.iterationMs.get(e.matrixId)! * ITERATIONS]));
  const ids = prepared.matrix.map((e) => e.matrixId);
  const lpt = assignByCost(
    [...est].map(([matrixId, costMs]) => ({ matrixId, costMs })),
    vms,
  );
  const orig = originalSplit(ids, vms);

  const rnd = seededRandom(s.seed * 104729 + s.family.length);
  // "True" durations: the estimate times log-normal noise (per entry), then plus a fixed overhead per iteration.
  const noisy = new Map([...est].map(([id, c]) => [id, c * Math.exp(NOISE_SIGMA * gaussian(rnd) - NOISE_SIGMA ** 2 / 2)]));
  const withOverhead = new Map([...noisy].map(([id, c]) => [id, c + OVERHEAD_MS * ITERATIONS]));
  const oracle = (truth: Map<number, number>) =>
    assignByCost(
      [...truth].map(([matrixId, costMs]) => ({ matrixId, costMs })),
      vms,
    );

  const values = [...est.values()];
  return {
    family: s.family,
    seed: s.seed,
    entries: ids.length,
    spread: Math.max(...values) / Math.min(...values),
    lpt: ratio(est, lpt),
    original: ratio(est, orig),
    lptStrong: assignmentQuality(est, lpt).makespanMs / strongLowerBound(values, vms.length),
    improved: improvedMakespan(est, lpt) / assignmentQuality(est, lpt).lowerBoundMs,
    ...(() => {
      const q = assignmentQuality(est, lpt);
      const opt = optimalMakespan(values, vms.length, q.makespanMs + 1e-3);
      return {
        lptVsOptimum: opt === undefined ? null : q.makespanMs / opt,
        optimumVsBound: opt === undefined ? null : opt / q.lowerBoundMs,
      };
    })(),
    lptNoisy: ratio(noisy, lpt),
    lptNoisyOracle: ratio(noisy, oracle(noisy)),
    originalNoisy: ratio(noisy, orig),
    lptOverhead: ratio(withOverhead, lpt),
    lptOverheadOracle: ratio(withOverhead, oracle(withOverhead)),
    lptOverheadAware: ratio(withOverhead, oracle(new Map([...est].map(([id, c]) => [id, c + OVERHEAD_MS * ITERATIONS])))),
    originalOverhead: ratio(withOverhead, orig),
    tinyEntries: values.filter((v) => v < Math.max(...values) / 100).length,
  };
}

function summarize(rows: Row[], key: keyof Row): { worst: number; mean: number } {
  const xs = rows.map((r) => r[key]).filter((x): x is number => typeof x === 'number');
  return { worst: round(Math.max(...xs), 4), mean: round(mean(xs), 4) };
}

async function main(): Promise<void> {
  const run = new BenchRun('assignment-quality');
  run.params = {
    vms: VMS,
    seeds: SEEDS,
    iterations: ITERATIONS,
    families: ['random-order', 'structured'],
    noiseSigma: NOISE_SIGMA,
    overheadMsPerIteration: OVERHEAD_MS,
    estimate: 'bytes / 100 MiB/s (estimateIterationMs)',
  };
  const suites: Suite[] = [];
  for (let seed = 1; seed <= SEEDS; seed++) suites.push(randomSuite(seed), structuredSuite(seed));
  const rows = suites.map(evaluate);
  for (const r of rows) {
    log(
      `${r.family.padEnd(12)} seed ${String(r.seed).padStart(2)}: ${String(r.entries).padStart(3)} entries, spread ${Math.round(r.spread)}x; ` +
        `estimate LPT ${r.lpt.toFixed(3)} (optimum ${r.optimumVsBound?.toFixed(3) ?? 'unproven'}) orig ${r.original.toFixed(3)} | noisy LPT ${r.lptNoisy.toFixed(3)} (oracle ${r.lptNoisyOracle.toFixed(3)}) orig ${r.originalNoisy.toFixed(3)} | ` +
        `+overhead LPT ${r.lptOverhead.toFixed(3)} (aware ${r.lptOverheadAware.toFixed(3)}, oracle ${r.lptOverheadOracle.toFixed(3)}) orig ${r.originalOverhead.toFixed(3)}`,
    );
  }
  const byFamily: Record<string, unknown>[] = [];
  for (const family of ['random-order', 'structured']) {
    const fr = rows.filter((r) => r.family === family);
    byFamily.push({
      family,
      suites: fr.length,
      entries: [Math.min(...fr.map((r) => r.entries)), Math.max(...fr.map((r) => r.entries))],
      lpt: summarize(fr, 'lpt'),
      original: summarize(fr, 'original'),
      lptVsOptimum: summarize(fr, 'lptVsOptimum'),
      optimumVsBound: summarize(fr, 'optimumVsBound'),
      localSearch: summarize(fr, 'improved'),
      lptNoisy: summarize(fr, 'lptNoisy'),
      lptNoisyOracle: summarize(fr, 'lptNoisyOracle'),
      originalNoisy: summarize(fr, 'originalNoisy'),
      lptOverhead: summarize(fr, 'lptOverhead'),
      lptOverheadOracle: summarize(fr, 'lptOverheadOracle'),
      lptOverheadAware: summarize(fr, 'lptOverheadAware'),
      originalOverhead: summarize(fr, 'originalOverhead'),
    });
  }
  const all = (k: keyof Row) => summarize(rows, k);
  const figures = {
    suites: rows.length,
    estimate_spread_max_x: Math.round(Math.max(...rows.map((r) => r.spread))),
    lpt_ratio_worst: all('lpt').worst,
    lpt_ratio_mean: all('lpt').mean,
    lpt_suites_over_1_10: rows.filter((r) => r.lpt > 1.1).length,
    lpt_suites_over_1_10_proven_optimal: rows.filter((r) => r.lpt > 1.1 && r.lptVsOptimum !== null && r.lptVsOptimum <= 1 + 1e-9).length,
    optimum_proven_suites: rows.filter((r) => r.lptVsOptimum !== null).length,
    lpt_ratio_vs_optimum_worst: all('lptVsOptimum').worst,
    optimum_ratio_vs_bound_worst: all('optimumVsBound').worst,
    local_search_ratio_worst: all('improved').worst,
    original_ratio_worst: all('original').worst,
    original_ratio_mean: all('original').mean,
    noisy_lpt_ratio_worst: all('lptNoisy').worst,
    noisy_lpt_ratio_mean: all('lptNoisy').mean,
    noisy_lpt_oracle_ratio_worst: all('lptNoisyOracle').worst,
    noisy_original_ratio_worst: all('originalNoisy').worst,
    noisy_original_ratio_mean: all('originalNoisy').mean,
    overhead_lpt_ratio_worst: all('lptOverhead').worst,
    overhead_lpt_ratio_mean: all('lptOverhead').mean,
    overhead_lpt_oracle_ratio_worst: all('lptOverheadOracle').worst,
    overhead_lpt_aware_ratio_worst: all('lptOverheadAware').worst,
    overhead_lpt_aware_ratio_mean: all('lptOverheadAware').mean,
    overhead_original_ratio_worst: all('originalOverhead').worst,
    overhead_original_ratio_mean: all('originalOverhead').mean,
    by_family: byFamily,
  };
  run.note(
    `the estimate is bytes / 100 MiB/s; "noisy" re-times each assignment with true = estimate x lognormal(sigma ${NOISE_SIGMA}), ` +
      `"overhead" adds ${OVERHEAD_MS} ms per iteration (mount, fio start, upload) that the estimate ignores; "oracle" = LPT given the true durations; ` +
      `"aware" = LPT on estimate + the same fixed overhead (a proposed change to estimateIterationMs), timed with the true durations`,
  );
  run.finish(figures, 'LPT makespan / lower bound <= 1.10 on estimated durations (worst suite)', [
    { metric: 'lpt_ratio_worst', op: '<=', value: 1.1 },
  ]);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
