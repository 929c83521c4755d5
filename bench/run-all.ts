/**
 * Runs the benchmarks one after another, each in its own process (so one's memory, workers or
 * servers never affect the next), and prints a summary. Every benchmark appends its record to
 * bench/results.jsonl; stdout carries their JSON lines unchanged.
 *
 *   npm run bench                                   all, full sizes
 *   npm run bench -- --quick                        all, small sizes (a smoke run)
 *   npm run bench -- --only dispatch-overhead,fidelity
 *   npm run bench -- --skip fleet-scale
 *   npm run bench -- --list
 *   npm run bench -- --server both                  dispatch-overhead on both servers too (fleet-scale: both by default)
 * Other flags (--keep, --no-record, --memory-db, --server) are passed on to every benchmark.
 * The summary prints each record's headlines: every target's figure with its floor or anchor from
 * the same run, their ratio, and the machine's load at start and end.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { tsxCommand } from '../src/local/processes';
import { BENCH_DIR, flagValue, hasFlag, headlineText, log, RESULTS_FILE, type BenchRecord } from './lib';

/** In the order they run: cheap and pure first, the machine-wide ones last. */
export const BENCHMARKS = [
  'assignment-quality',
  'aggregation',
  'orchestrator-memory',
  'dispatch-overhead',
  'fidelity',
  'monitor-overhead',
  'fleet-scale',
] as const;

/**
 * Benchmarks written elsewhere that take their own flags (bench/monitor-overhead.ts parses its
 * options strictly): what they get instead of the pass-through flags.
 */
const OWN_ARGS: Record<string, (quick: boolean) => string[]> = {
  'monitor-overhead': (quick) => (quick ? ['--seconds', '5'] : []),
};

interface Outcome {
  name: string;
  exitCode: number | null;
  seconds: number;
  met: boolean | null;
  /** The records this run appended (fleet-scale: one per server). */
  records: BenchRecord[];
}

function pick(): string[] {
  const available = BENCHMARKS.filter((b) => existsSync(path.join(BENCH_DIR, `${b}.ts`)));
  const only = flagValue('only')
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const skip = new Set(
    flagValue('skip')
      ?.split(',')
      .map((s) => s.trim()) ?? [],
  );
  for (const name of [...(only ?? []), ...skip]) {
    if (!(BENCHMARKS as readonly string[]).includes(name)) throw new Error(`unknown benchmark "${name}"; known: ${BENCHMARKS.join(', ')}`);
  }
  return available.filter((b) => (!only || only.includes(b)) && !skip.has(b));
}

/** Flags passed through to each benchmark: everything but run-all's own. */
function passThrough(): string[] {
  const out: string[] = [];
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--only' || argv[i] === '--skip') i++;
    else if (!argv[i]!.startsWith('--only=') && !argv[i]!.startsWith('--skip=') && argv[i] !== '--list') out.push(argv[i]!);
  }
  return out;
}

function runOne(name: string, args: string[]): Promise<Outcome> {
  const c = tsxCommand(path.join(BENCH_DIR, `${name}.ts`), args);
  const t0 = Date.now();
  const startedIso = new Date(t0).toISOString();
  return new Promise((resolve) => {
    const child = spawn(c.command, c.args, { stdio: 'inherit' });
    const onSignal = (sig: NodeJS.Signals) => child.kill(sig);
    process.once('SIGINT', onSignal);
    child.once('exit', (code) => {
      process.off('SIGINT', onSignal);
      // The records this run appended (its benchmark, stamped after we started it) say whether its targets were met.
      const records: BenchRecord[] = [];
      if (existsSync(RESULTS_FILE)) {
        for (const l of readFileSync(RESULTS_FILE, 'utf8').split('\n').filter(Boolean)) {
          try {
            const r = JSON.parse(l) as BenchRecord;
            if (r.benchmark === name && (r.timestamp ?? '') >= startedIso && typeof r.met === 'boolean') records.push(r);
          } catch {
            // not a record
          }
        }
      }
      const met = records.length ? records.every((r) => r.met) : null;
      resolve({ name, exitCode: code, seconds: Math.round((Date.now() - t0) / 100) / 10, met, records });
    });
  });
}

async function main(): Promise<void> {
  if (hasFlag('list')) {
    for (const b of BENCHMARKS) console.log(`${b}${existsSync(path.join(BENCH_DIR, `${b}.ts`)) ? '' : ' (not present)'}`);
    return;
  }
  const names = pick();
  const args = passThrough();
  log(`running ${names.join(', ')}${args.length ? ` with ${args.join(' ')}` : ''}; records go to ${RESULTS_FILE}`);
  const outcomes: Outcome[] = [];
  for (const name of names) {
    log(`=== ${name}`);
    outcomes.push(await runOne(name, OWN_ARGS[name]?.(hasFlag('quick')) ?? args));
  }
  log('=== summary');
  for (const o of outcomes) {
    const state =
      o.exitCode !== 0
        ? `FAILED TO RUN (exit ${o.exitCode})`
        : o.met === null
          ? 'ran (no record)'
          : o.met
            ? 'targets met'
            : 'targets MISSED';
    log(`${o.name.padEnd(20)} ${String(o.seconds).padStart(7)} s  ${state}`);
    for (const r of o.records) {
      const server = typeof r.params.serverKind === 'string' ? ` [${r.params.serverKind} server]` : '';
      const load = `load ${r.machine.loadavgAtStart[0]} -> ${r.loadavgAtEnd[0]}`;
      for (const h of r.headlines ?? []) log(`    ${headlineText(h)}${server}; ${load}`);
    }
  }
  process.stdout.write(
    JSON.stringify({
      type: 'summary',
      outcomes: outcomes.map(({ records, ...o }) => ({ ...o, headlines: records.map((r) => r.headlines ?? []) })),
    }) + '\n',
  );
  // A missed target is a result, not an error; a benchmark that could not run is.
  process.exitCode = outcomes.some((o) => o.exitCode !== 0) ? 1 : 0;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
