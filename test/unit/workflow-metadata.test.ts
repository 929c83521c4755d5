import { describe, expect, it } from 'vitest';
import { benchmarkStartMetadata, defaultConfigLabel } from '../../src/client/workflow-metadata';
import { prepareBenchmark } from '../../src/core/spec';
import { benchmarkDetails, formatSeconds, timedOutReason, vmDetails, vmRunDetails, vmRunSummary } from '../../src/workflows/details';
import type { BenchmarkProgress } from '../../src/workflows/types';
import { smallRequest } from '../support/harness';

const progress = (over: Partial<BenchmarkProgress> = {}): BenchmarkProgress => ({
  benchmarkId: 'b1',
  phase: 'running',
  totalEntries: 10,
  passed: 3,
  failed: 1,
  runs: [],
  lostVms: [],
  ...over,
});

describe('Web UI metadata of a benchmark', () => {
  it('names the default config without a stray space when there are no mount args', () => {
    expect(defaultConfigLabel(smallRequest('b', ['vm-1']))).toBe('default (master)');
    expect(defaultConfigLabel(smallRequest('b', ['vm-1'], { gcsfuseMountArgs: ' --implicit-dirs ' }))).toBe(
      'default (master --implicit-dirs)',
    );
  });

  it('summarises the run in one line and details it in markdown', () => {
    const req = smallRequest('nightly-1', ['vm-1', 'vm-2'], { runName: 'nightly read', runTimeoutMs: 14_400_000 });
    const m = benchmarkStartMetadata(req, prepareBenchmark(req), { artifacts: 'gs://arts/p' });
    expect(m.staticSummary).toBe('Benchmark nightly-1 (nightly read): 3 entries × 2 iterations on 2 VMs (vm-1, vm-2), gcsfuse master');
    expect(m.staticSummary).not.toContain('\n');
    expect(m.staticDetails).toContain('- **benchmark**: `nightly-1`, run name `nightly read`');
    expect(m.staticDetails).toContain('- **matrix**: 3 tests (`test-cases.csv`) × 1 configs = 3 entries, 2 iterations each');
    expect(m.staticDetails).toContain('- **VMs**: 2 (`vm-1`, `vm-2`)');
    expect(m.staticDetails).toContain('  - `default`: `master`');
    expect(m.staticDetails).toContain('- **whole-run deadline**: 14400 s (4 h)');
    expect(m.staticDetails).toContain('- **artifacts**: `gs://arts/p`');
    expect(m.staticDetails).toMatch(/- \*\*started by\*\*: `[^`@]+@[^`]+`/);
  });

  it('counts the configs and names their refs', () => {
    const req = smallRequest('cfg', ['vm-1'], {
      configs: { name: 'configs.csv', content: 'commit,mount_args,label\nv3.0.0,--implicit-dirs,a\nmaster,,b\n' },
    });
    const m = benchmarkStartMetadata(req, prepareBenchmark(req));
    expect(m.staticSummary).toContain('6 entries × 2 iterations on 1 VMs (vm-1), gcsfuse v3.0.0, master');
    expect(m.staticDetails).toContain('  - `a`: `v3.0.0` `--implicit-dirs`');
    expect(m.staticDetails).toContain('- **whole-run deadline**: none');
    expect(m.staticDetails).not.toContain('artifacts');
  });
});

describe("a benchmark's current details", () => {
  it('shows phase and counts first, then lost agents, the deadline and the last retry request', () => {
    const text = benchmarkDetails(
      progress({
        lostVms: ['vm-x'],
        deadline: '2030-01-01T00:00:00.000Z',
        lastRetry: {
          via: 'signal',
          at: '2030-01-01T00:00:00.000Z',
          vm: 'nope',
          accepted: false,
          reason: 'VM "nope" has no run in this benchmark (VMs: a, b)',
        },
      }),
      2,
    );
    expect(text.split('\n')).toEqual([
      '**running**: 3 passed, 1 failed of 10 entries on 2 VMs',
      '- lost agents: vm-x',
      '- whole-run deadline: 2030-01-01T00:00:00.000Z',
      '- retryVm signal refused (2030-01-01T00:00:00.000Z): VM "nope" has no run in this benchmark (VMs: a, b)',
    ]);
  });

  it('at the end names why it is incomplete and where the report is', () => {
    const text = benchmarkDetails(
      progress({
        phase: 'timed-out',
        deadline: 'x',
        incompleteReason: timedOutReason(60_000),
        report: { keys: ['b1/report/summary.json'], urls: ['/a/b1/report/summary.json'], complete: false },
      }),
      1,
    );
    expect(text).toContain('- incomplete: timed out after 60 s (1 min) (6 entries not run)');
    expect(text).toContain('- partial report (finished entries only): `/a/b1/report/summary.json`');
    expect(text).not.toContain('deadline');
    const accepted = benchmarkDetails(
      progress({ lastRetry: { via: 'update', at: 't', vm: 'a', onto: 'b', accepted: true, retried: 2 } }),
      2,
    );
    expect(accepted).toContain('- retryVm update (t): 2 failed entries of a onto b queued again');
  });

  it('formats seconds with a round unit beside them', () => {
    expect(formatSeconds(14_400_000)).toBe('14400 s (4 h)');
    expect(formatSeconds(90_000)).toBe('90 s');
    expect(formatSeconds(1_500)).toBe('2 s');
  });

  it("describes a VM's run", () => {
    expect(vmRunSummary('b1', 'vm-a', 0, 5)).toBe('VM vm-a of benchmark b1: 5 entries');
    expect(vmRunSummary('b1', 'vm-a', 1, 2)).toBe('VM vm-a of benchmark b1: 2 entries (run 2: retried or re-routed)');
    expect(vmRunDetails(Array.from({ length: 45 }, (_, i) => i + 1))).toMatch(/^Matrix entries: 1, 2, .*, 40 and 5 more$/);
    expect(vmDetails({ total: 3, passed: 1, failed: 0, runningMatrixId: 7 })).toBe('**running** entry 7: 1 passed, 0 failed of 3 entries');
    expect(vmDetails({ total: 3, passed: 2, failed: 1, runningMatrixId: null })).toBe('**done**: 2 passed, 1 failed of 3 entries');
  });
});
