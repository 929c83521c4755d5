import { describe, expect, it } from 'vitest';
import { planOf, planText } from '../../src/client/plan';
import { prepareBenchmark } from '../../src/core/spec';
import { smallRequest } from '../support/harness';

describe('plan text', () => {
  it('names each entry by test, config and VM and estimates the duration per VM and in total, saying from what', () => {
    const request = smallRequest('plan-1', ['vm-a', 'vm-b']); // 3 tests, runtime=1s, 2 iterations
    const plan = planOf(request, prepareBenchmark(request));
    const text = planText(plan);
    for (const e of plan.planned) expect(text).toContain(`--- entry ${e.matrixId}: test ${e.testId} x config ${e.config} on ${e.vm} (~2s)`);
    expect(text).toMatch(/^benchmark plan-1: 3 entries x 2 iterations on 2 VMs$/m);
    // Two entries on one VM, one on the other: the busiest VM sets the duration.
    expect(plan.estimatedMsByVm).toEqual({ [plan.planned[0]!.vm]: 4_000, [plan.planned[1]!.vm]: 2_000 });
    expect(text).toMatch(/^estimated duration: about 4s \(the busiest VM, vm-a; VMs run at once\)\.$/m);
    expect(text).toContain('This is an estimate of fio time only');
    expect(text).toContain('runtime=1s in jobfile.fio');
    expect(text).toMatch(/^ {2}vm-a: 2 entries \(1, 3\), ~4s$/m);
    expect(text).toMatch(/^ {2}vm-b: 1 entry \(2\), ~2s$/m);
  });

  it('says when the estimate comes from the bytes a job moves', () => {
    const request = smallRequest('plan-2', ['vm-a'], {
      jobFile: {
        name: 'sized.fio',
        content: '[job]\nrw=${IO_TYPE}\nbs=${BLOCK_SIZE}\nsize=${FILE_SIZE}\nnumjobs=${NUM_JOBS}\ndirectory=${TEST_DATA_DIR}\n',
      },
      testCases: { name: 't.csv', content: 'test_id,io_type,block_size,file_size,num_jobs\nbig,read,1m,100m,1\n' },
    });
    const text = planText(planOf(request, prepareBenchmark(request)));
    expect(text).toMatch(/from each iteration's expected run time: 100 MiB moved at an assumed \d+ MiB\/s\.$/m);
    expect(text).toMatch(/^--- entry 1: test big x config default on vm-a \(~\d+s\)$/m);
  });

  it('gives the basis with each entry when entries differ', () => {
    const request = smallRequest('plan-3', ['vm-a'], {
      testCases: {
        name: 't.csv',
        content: 'test_id,io_type,block_size,file_size,num_jobs,runtime\nshort,read,1m,4m,1,3s\nlong,read,1m,4m,1,5s\n',
      },
    });
    const text = planText(planOf(request, prepareBenchmark(request)));
    expect(text).toContain("from each iteration's expected run time: given with each entry.");
    expect(text).toContain('--- entry 1: test short x config default on vm-a (~6s: 2 iterations, runtime=3s in the test case)');
    expect(text).toContain('--- entry 2: test long x config default on vm-a (~10s: 2 iterations, runtime=5s in the test case)');
    expect(text).toMatch(/^estimated duration: about 16s\.$/m);
  });
});
