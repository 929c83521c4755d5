import { parse } from 'csv-parse/sync';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { JobSpec, Manifest } from '../../src/core/spec';
import { REPO, tempDir } from '../support/harness';
import { processesMentioning, run, type OnStderr, type RunResult } from '../support/procs';

const DEMO = path.join(REPO, 'src/client/demo.ts');
const homes: string[] = [];
afterAll(() => homes.forEach((h) => rmSync(h, { recursive: true, force: true })));

function demo(home: string, args: string[], onStderr?: OnStderr, onStdout?: OnStderr) {
  return run(process.execPath, ['--import', 'tsx', DEMO, '--home', home, ...args], { cwd: REPO, onStderr, onStdout, timeoutMs: 240_000 });
}

/** fio's own numbers, read straight from its JSON: sum over jobs of bw_bytes, in bytes/s. */
function fioBwBytesPerSec(file: string, dir: 'read' | 'write'): number {
  const json = JSON.parse(readFileSync(file, 'utf8')) as { jobs: Record<string, { bw_bytes: number }>[] };
  return json.jobs.reduce((s, j) => s + j[dir]!.bw_bytes, 0);
}

describe('npm run demo: real processes, real Temporal, real fio', () => {
  it('runs the sample suite on three local agents and reports what fio measured', async () => {
    const home = tempDir('demo');
    homes.push(home);
    const r = await demo(home, ['--benchmark-id', 'e2e-demo']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Temporal Web UI: http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/e2e-demo/);
    expect(r.stdout).toContain('combined_report.csv');

    const root = path.join(home, 'artifacts', 'e2e-demo');
    const vms = ['local-vm-1', 'local-vm-2', 'local-vm-3'];
    const specs = vms.map((vm) => JSON.parse(readFileSync(path.join(root, 'jobs', `${vm}.json`), 'utf8')) as JobSpec);
    expect(specs.flatMap((s) => s.entries.map((e) => e.matrixId)).sort()).toEqual([1, 2, 3, 4]);

    const rows = parse(readFileSync(path.join(root, 'report', 'combined_report.csv'), 'utf8'), { columns: true }) as Record<
      string,
      string
    >[];
    expect(rows.map((row) => row.matrix_id)).toEqual(['1', '2', '3', '4']);
    for (const spec of specs) {
      const manifest = JSON.parse(readFileSync(path.join(root, 'results', spec.vm, 'manifest.json'), 'utf8')) as Manifest;
      for (const entry of spec.entries) {
        expect(manifest.entries[String(entry.matrixId)]).toMatchObject({ status: 'passed', iterationsDone: 2 });
        const dir = path.join(root, 'results', spec.vm, `test-${entry.matrixId}`);
        expect(
          readdirSync(dir)
            .filter((f) => f.endsWith('.fio.json'))
            .sort(),
        ).toEqual(['iteration-1.fio.json', 'iteration-2.fio.json']);
        const direction = entry.params.io_type!.includes('read') ? 'read' : 'write';
        const meanMiBps =
          [1, 2].map((i) => fioBwBytesPerSec(path.join(dir, `iteration-${i}.fio.json`), direction)).reduce((a, b) => a + b) / 2 / 2 ** 20;
        const row = rows.find((x) => x.matrix_id === String(entry.matrixId))!;
        expect(row.vm).toBe(spec.vm);
        expect(row.status).toBe('passed');
        expect(Number(row[`${direction}_bw_MiBps_mean`])).toBeCloseTo(meanMiBps, 1);
        expect(Number(row[`${direction}_lat_p99_ms`])).toBeGreaterThan(0);
      }
    }
    // Everything the demo started is gone.
    expect(processesMentioning(home)).toEqual([]);
  });

  it('Ctrl-C while the services are still starting leaves nothing running', async () => {
    const home = tempDir('demo-early');
    homes.push(home);
    let sent = false;
    const r = await demo(home, ['--benchmark-id', 'e2e-early'], (stderr, child) => {
      if (!sent && stderr.includes('starting Temporal dev server')) {
        sent = true;
        setTimeout(() => child.kill('SIGINT'), 300);
      }
    });
    expect(sent).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    await new Promise((res) => setTimeout(res, 500));
    expect(processesMentioning(home)).toEqual([]);
  });

  it('Ctrl-C stops the benchmark, the agents, the worker and the server', async () => {
    const home = tempDir('demo-int');
    homes.push(home);
    let sent = false;
    const r = await demo(home, ['--benchmark-id', 'e2e-interrupt', '--iterations', '50'], (stderr, child) => {
      if (!sent && /\d+\/4 entries done/.test(stderr) && /running: /.test(stderr)) {
        sent = true;
        // Give fio a moment to be mid-iteration, then interrupt as a terminal would.
        setTimeout(() => child.kill('SIGINT'), 1_500);
      }
    });
    expect(sent).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain('interrupted');
    expect(processesMentioning(home)).toEqual([]);
    // The benchmark was cancelled, so agents recorded it rather than leaving entries "running".
    const results = path.join(home, 'artifacts', 'e2e-interrupt', 'results');
    const statuses = readdirSync(results).flatMap((vm) =>
      Object.values((JSON.parse(readFileSync(path.join(results, vm, 'manifest.json'), 'utf8')) as Manifest).entries).map((e) => e.status),
    );
    expect(statuses).not.toContain('running');
    // What finished before the cancel is reported, marked partial.
    const summary = JSON.parse(readFileSync(path.join(home, 'artifacts', 'e2e-interrupt', 'report', 'summary.json'), 'utf8')) as {
      complete: boolean;
      incompleteReason?: string;
    };
    expect(summary).toMatchObject({ complete: false, incompleteReason: 'cancelled' });
  });
});

describe('npm run demo: stopping and reaching it', () => {
  it('--keep prints the Temporal address and commands that work, and SIGTERM stops everything like Ctrl-C', async () => {
    const home = tempDir('demo-keep');
    homes.push(home);
    let status: Promise<RunResult> | undefined;
    const r = await demo(home, ['--benchmark-id', 'e2e-keep', '--agents', '2', '--keep'], undefined, (stdout, child) => {
      if (status || !stdout.includes('To stop everything')) return;
      // The printed command, as a user would paste it (the CLI started from the repo root).
      const command = /(bin\/gcsfuse-bench status e2e-keep --temporal-address \S+)$/m.exec(stdout)![1]!.split(' ');
      status = run(path.join(REPO, command[0]!), command.slice(1), { cwd: REPO }).finally(() => child.kill('SIGTERM'));
    });
    expect(status).toBeDefined();
    const s = await status!;
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/e2e-keep: COMPLETED.*4 passed, 0 failed of 4/);
    expect(r.stdout).toMatch(/--keep: the Temporal server \(127\.0\.0\.1:\d+, namespace default\)/);
    expect(r.stdout).toMatch(/^ {2}export TEMPORAL_ADDRESS=127\.0\.0\.1:\d+ TEMPORAL_NAMESPACE=default GCSFUSE_BENCH_ARTIFACTS=\S+$/m);
    expect(r.stdout).toMatch(/`kill \d+`/);
    expect(r.stderr).toContain('SIGTERM: stopping the server, worker and agents');
    expect(r.code, r.stderr).toBe(0); // the benchmark passed; stopping a kept demo is no failure
    expect(processesMentioning(home)).toEqual([]);
  }, 240_000);

  it("a closed terminal (SIGHUP) mid-run cancels and stops everything, and removes the agents' scratch folders", async () => {
    const home = tempDir('demo-hup');
    homes.push(home);
    let sent = false;
    const r = await demo(home, ['--benchmark-id', 'e2e-hup', '--iterations', '50'], (stderr, child) => {
      if (!sent && /running entry \d+( \(iteration \d+\/\d+\))? on local-vm/.test(stderr)) {
        sent = true;
        child.kill('SIGHUP');
      }
    });
    expect(sent).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain('interrupted (SIGHUP): cancelling the benchmark and stopping the server, worker and agents');
    expect(processesMentioning(home)).toEqual([]);
    expect(existsSync(path.join(home, 'agents'))).toBe(false);
    expect(existsSync(path.join(home, 'artifacts', 'e2e-hup', 'report', 'summary.json'))).toBe(true);
  });
});
