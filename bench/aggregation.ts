/**
 * Aggregation at scale: 10,000 json+ fio outputs produced by real fio, laid out as a
 * LocalArtifactStore benchmark (jobs/<vm>.json + results/<vm>/test-<n>/iteration-<i>.fio.json),
 * then the orchestrator's aggregate activity function (src/activities/aggregate.ts) and report
 * writing (src/activities/report.ts) are timed in a child process, so its peak memory
 * (VmHWM, the RSS high-water mark) belongs to that work alone.
 *
 * fio runs 8 small, different jobs (read/write, random/sequential, 1-4 jobs, 4k-1m blocks) a
 * few times each; their outputs are copied (not linked) into the layout, round robin. The run
 * is timed twice: right after the copy (outputs in the page cache, as when agents just wrote
 * them to a local store) and after evicting them from the page cache (dd iflag=nocache,
 * per file, so nothing else on the machine is disturbed).
 *
 *   npx tsx bench/aggregation.ts [--quick] [--outputs 10000] [--iterations 4] [--vms 10] [--no-cold]
 */
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { EntryOwner } from '../src/activities/aggregate';
import { defaultMountConfig } from '../src/core/configs';
import type { JobSpec } from '../src/core/spec';
import { tsxCommand } from '../src/local/processes';
import { BenchRun, hasFlag, log, numberFlag, procStatusKiB, QUICK, removeDir, round2, scratchDir } from './lib';

const SELF = fileURLToPath(import.meta.url);
const OUTPUTS = numberFlag('outputs', QUICK ? 1_000 : 10_000);
const ITERATIONS = numberFlag('iterations', 4);
const VMS = numberFlag('vms', 10);
const FIO_REPEATS = numberFlag('fio-repeats', QUICK ? 1 : 3);
const BENCHMARK_ID = 'agg-bench';

/** Small real fio jobs whose outputs differ in shape: directions, job counts, latency spreads. */
const FIO_JOBS: { name: string; params: Record<string, string>; job: string }[] = [
  { name: 'seqread-1m', params: { io_type: 'read', block_size: '1m', num_jobs: '1', file_size: '16m' }, job: 'rw=read\nbs=1m\nnumjobs=1\nsize=16m' },
  { name: 'randread-4k', params: { io_type: 'randread', block_size: '4k', num_jobs: '2', file_size: '8m' }, job: 'rw=randread\nbs=4k\nnumjobs=2\nsize=8m' },
  { name: 'seqwrite-64k', params: { io_type: 'write', block_size: '64k', num_jobs: '1', file_size: '16m' }, job: 'rw=write\nbs=64k\nnumjobs=1\nsize=16m' },
  { name: 'randwrite-4k', params: { io_type: 'randwrite', block_size: '4k', num_jobs: '4', file_size: '4m' }, job: 'rw=randwrite\nbs=4k\nnumjobs=4\nsize=4m' },
  { name: 'randrw-16k', params: { io_type: 'randrw', block_size: '16k', num_jobs: '2', file_size: '8m' }, job: 'rw=randrw\nbs=16k\nnumjobs=2\nsize=8m' },
  { name: 'rw-128k', params: { io_type: 'rw', block_size: '128k', num_jobs: '1', file_size: '16m' }, job: 'rw=rw\nbs=128k\nnumjobs=1\nsize=16m' },
  { name: 'randread-64k', params: { io_type: 'randread', block_size: '64k', num_jobs: '1', file_size: '16m' }, job: 'rw=randread\nbs=64k\nnumjobs=1\nsize=16m' },
  { name: 'seqread-4k', params: { io_type: 'read', block_size: '4k', num_jobs: '3', file_size: '4m' }, job: 'rw=read\nbs=4k\nnumjobs=3\nsize=4m' },
];

interface ChildResult {
  outputs: number;
  entries: number;
  aggregateMs: number;
  reportMs: number;
  rssBeforeKiB: number;
  hwmKiB: number;
  /** VmHWM right after aggregate (its own peak), and the peak of writeReport alone (HWM reset in between). */
  aggregateHwmKiB: number;
  reportHwmKiB: number | null;
  /** Reading and parsing every output alone (parseIteration), the floor under aggregate's time. */
  readOnlyMs: number;
  parseOnlyMs: number;
  maxRssKiB: number;
  resultsJsonBytes: number;
  csvBytes: number;
  summary: unknown;
}

/** The measured part, in its own process: import, note RSS, aggregate + report, report VmHWM. */
async function child(root: string, ownersFile: string): Promise<void> {
  const { LocalArtifactStore } = await import('../src/artifacts/local');
  const { aggregate } = await import('../src/activities/aggregate');
  const { writeReport } = await import('../src/activities/report');
  const owners = JSON.parse(readFileSync(ownersFile, 'utf8')) as EntryOwner[];
  const store = new LocalArtifactStore(root);
  const rssBeforeKiB = procStatusKiB('self')?.VmRSS ?? NaN;
  const t0 = performance.now();
  const summary = await aggregate(store, { benchmarkId: BENCHMARK_ID, owners });
  const t1 = performance.now();
  const aggregateHwmKiB = procStatusKiB('self')?.VmHWM ?? NaN;
  // aggregate and report are two activities run back to back by the same worker process; to see
  // which one peaks, writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0). No GC
  // is forced in between (the worker does not force one either), so the report's peak includes
  // whatever garbage aggregate left uncollected.
  let reportHwmKiB: number | null = null;
  let hwmReset = false;
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    hwmReset = true;
  } catch {
    // not permitted: the overall HWM still holds
  }
  const t1b = performance.now();
  const report = await writeReport(store, BENCHMARK_ID);
  const t2 = performance.now();
  const status = procStatusKiB('self');
  if (hwmReset) reportHwmKiB = status?.VmHWM ?? null;
  // The floor: read every output, then parse each, without building reports.
  const keys = owners.flatMap((o) => Array.from({ length: ITERATIONS }, (_, i) => `${BENCHMARK_ID}/results/${o.vm}/test-${o.matrixId}/iteration-${i + 1}.fio.json`));
  const r0 = performance.now();
  let parseMs = 0;
  const { parseIteration } = await import('../src/core/report');
  for (const k of keys) {
    const buf = await store.get(k);
    const p0 = performance.now();
    parseIteration(buf!.toString('utf8'));
    parseMs += performance.now() - p0;
  }
  const readAndParseMs = performance.now() - r0;
  const res: ChildResult = {
    outputs: owners.length * ITERATIONS,
    entries: owners.length,
    aggregateMs: t1 - t0,
    reportMs: t2 - t1b,
    rssBeforeKiB,
    hwmKiB: Math.max(aggregateHwmKiB, status?.VmHWM ?? NaN),
    aggregateHwmKiB,
    reportHwmKiB,
    readOnlyMs: readAndParseMs - parseMs,
    parseOnlyMs: parseMs,
    maxRssKiB: process.resourceUsage().maxRSS,
    resultsJsonBytes: statSync(path.join(root, BENCHMARK_ID, 'report', 'results.json')).size,
    csvBytes: statSync(path.join(root, BENCHMARK_ID, 'report', 'combined_report.csv')).size,
    summary: { ...summary, reportKeys: report.keys },
  };
  process.stdout.write(JSON.stringify(res) + '\n');
}

function runFioOutputs(dir: string): string[] {
  const outputs: string[] = [];
  const data = path.join(dir, 'data');
  mkdirSync(data, { recursive: true });
  for (let r = 0; r < FIO_REPEATS; r++) {
    for (const j of FIO_JOBS) {
      const jobFile = path.join(dir, `${j.name}.fio`);
      writeFileSync(jobFile, `[global]\nioengine=psync\ndirectory=${data}\ngroup_reporting=0\n\n[${j.name}]\n${j.job}\n`);
      const out = path.join(dir, `${j.name}-${r}.json`);
      execFileSync('fio', ['--output-format=json+', `--output=${out}`, jobFile], { stdio: ['ignore', 'ignore', 'pipe'] });
      outputs.push(out);
    }
  }
  return outputs;
}

async function layOut(root: string, fioOutputs: string[]): Promise<{ owners: EntryOwner[]; bytes: number }> {
  const entries = Math.ceil(OUTPUTS / ITERATIONS);
  const vms = Array.from({ length: VMS }, (_, i) => `vm-${i + 1}`);
  const config = defaultMountConfig('master', '');
  const specs = new Map<string, JobSpec>(
    vms.map((vm) => [vm, { benchmarkId: BENCHMARK_ID, vm, iterations: ITERATIONS, mount: { kind: 'local-dir' }, fioIterationMs: 1_800_000, jobTemplatePath: 'jobfile.fio', entries: [] }]),
  );
  const owners: EntryOwner[] = [];
  let bytes = 0;
  let n = 0;
  for (let m = 1; m <= entries; m++) {
    const vm = vms[(m - 1) % VMS]!;
    const kind = FIO_JOBS[(m - 1) % FIO_JOBS.length]!;
    specs.get(vm)!.entries.push({ matrixId: m, testId: `t${m}`, testRow: m, config, params: { test_id: `t${m}`, ...kind.params }, estimatedIterationMs: 1000 });
    owners.push({ matrixId: m, vm, status: 'passed' });
    const dir = path.join(root, BENCHMARK_ID, 'results', vm, `test-${m}`);
    mkdirSync(dir, { recursive: true });
    for (let i = 1; i <= ITERATIONS; i++) {
      // Outputs of the same kind of job, from different fio runs.
      const src = fioOutputs[((m - 1) % FIO_JOBS.length) + FIO_JOBS.length * ((m + i) % FIO_REPEATS)]!;
      const dst = path.join(dir, `iteration-${i}.fio.json`);
      copyFileSync(src, dst);
      bytes += statSync(dst).size;
      n++;
    }
  }
  mkdirSync(path.join(root, BENCHMARK_ID, 'jobs'), { recursive: true });
  for (const [vm, spec] of specs) writeFileSync(path.join(root, BENCHMARK_ID, 'jobs', `${vm}.json`), JSON.stringify(spec, null, 2) + '\n');
  log(`laid out ${n} fio outputs (${round2(bytes / 2 ** 20)} MiB) for ${entries} entries on ${VMS} VMs`);
  return { owners, bytes };
}

function runChild(root: string, ownersFile: string): Promise<ChildResult> {
  const c = tsxCommand(SELF, ['--child', root, ownersFile, '--iterations', String(ITERATIONS)]);
  return new Promise((resolve, reject) => {
    execFile(c.command, c.args, { maxBuffer: 16 * 2 ** 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`child failed: ${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as ChildResult);
    });
  });
}

/** Drops our files (only) from the page cache: GNU dd with iflag=nocache and count=0 advises DONTNEED on the whole file. */
async function evictFromPageCache(root: string): Promise<number> {
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else files.push(p);
    }
  };
  walk(path.join(root, BENCHMARK_ID));
  // Flush dirty pages first, or DONTNEED leaves them cached.
  execFileSync('sync');
  const exec = promisify(execFile);
  for (let i = 0; i < files.length; i += 200) {
    await Promise.all(files.slice(i, i + 200).map((f) => exec('dd', [`if=${f}`, 'iflag=nocache', 'count=0', 'status=none'])));
  }
  return files.length;
}

async function main(): Promise<void> {
  const run = new BenchRun('aggregation');
  run.params = { outputs: OUTPUTS, iterations: ITERATIONS, vms: VMS, fioJobs: FIO_JOBS.map((j) => j.name), fioRepeats: FIO_REPEATS, store: 'LocalArtifactStore' };
  const home = scratchDir('aggregation');
  try {
    const t0 = Date.now();
    const fioOutputs = runFioOutputs(path.join(home, 'fio'));
    const sizes = fioOutputs.map((f) => statSync(f).size);
    log(`fio produced ${fioOutputs.length} json+ outputs in ${Date.now() - t0} ms (${Math.min(...sizes)}..${Math.max(...sizes)} bytes)`);
    const root = path.join(home, 'artifacts');
    const { owners, bytes } = await layOut(root, fioOutputs);
    const ownersFile = path.join(home, 'owners.json');
    writeFileSync(ownersFile, JSON.stringify(owners));

    const warm = await runChild(root, ownersFile);
    log(
      `warm page cache: aggregate ${round2(warm.aggregateMs)} ms (peak ${round2(warm.aggregateHwmKiB / 1024)} MiB), report ${round2(warm.reportMs)} ms (peak ${round2((warm.reportHwmKiB ?? NaN) / 1024)} MiB), ` +
        `RSS before ${round2(warm.rssBeforeKiB / 1024)} MiB; read alone ${round2(warm.readOnlyMs)} ms, parse alone ${round2(warm.parseOnlyMs)} ms`,
    );
    let cold: ChildResult | undefined;
    if (!hasFlag('no-cold')) {
      const evicted = await evictFromPageCache(root);
      log(`evicted ${evicted} files from the page cache`);
      cold = await runChild(root, ownersFile);
      log(`cold page cache: aggregate ${round2(cold.aggregateMs)} ms, report ${round2(cold.reportMs)} ms, VmHWM ${round2(cold.hwmKiB / 1024)} MiB`);
    }
    const mib = (kib: number) => round2(kib / 1024);
    const mb = (kib: number) => round2((kib * 1024) / 1e6);
    const figures = {
      fio_outputs: warm.outputs,
      entries: warm.entries,
      input_mib: round2(bytes / 2 ** 20),
      fio_output_bytes_min: Math.min(...sizes),
      fio_output_bytes_max: Math.max(...sizes),
      aggregate_s: round2(warm.aggregateMs / 1000),
      report_s: round2(warm.reportMs / 1000),
      total_s: round2((warm.aggregateMs + warm.reportMs) / 1000),
      peak_rss_mb: mb(warm.hwmKiB),
      peak_rss_mib: mib(warm.hwmKiB),
      rss_before_mib: mib(warm.rssBeforeKiB),
      peak_rss_growth_mib: mib(warm.hwmKiB - warm.rssBeforeKiB),
      aggregate_peak_rss_mb: mb(warm.aggregateHwmKiB),
      report_peak_rss_mb: warm.reportHwmKiB === null ? null : mb(warm.reportHwmKiB),
      read_only_s: round2(warm.readOnlyMs / 1000),
      parse_only_s: round2(warm.parseOnlyMs / 1000),
      cold_total_s: cold ? round2((cold.aggregateMs + cold.reportMs) / 1000) : null,
      cold_peak_rss_mb: cold ? mb(cold.hwmKiB) : null,
      cold_aggregate_s: cold ? round2(cold.aggregateMs / 1000) : null,
      cold_report_s: cold ? round2(cold.reportMs / 1000) : null,
      results_json_mib: round2(warm.resultsJsonBytes / 2 ** 20),
      report_csv_mib: round2(warm.csvBytes / 2 ** 20),
      summary: warm.summary as Record<string, unknown>,
    };
    run.note('peak_rss = VmHWM of a child process that only imports the modules and runs aggregate + writeReport; it includes Node + tsx (rss_before_mib)');
    run.note('warm = outputs in the page cache right after being copied; cold = after dd iflag=nocache on each file');
    const checks = [
      { metric: 'total_s', op: '<' as const, value: 10 },
      { metric: 'peak_rss_mb', op: '<' as const, value: 300 },
      ...(cold ? [{ metric: 'cold_total_s', op: '<' as const, value: 10 }, { metric: 'cold_peak_rss_mb', op: '<' as const, value: 300 }] : []),
    ];
    run.finish(figures, `aggregate + report of ${OUTPUTS} outputs < 10 s and peak RSS < 300 MB (warm and cold page cache)`, checks);
  } finally {
    removeDir(home);
  }
}

if (process.argv.includes('--child')) {
  const i = process.argv.indexOf('--child');
  child(process.argv[i + 1]!, process.argv[i + 2]!).catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
