import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { WORKFLOWS_PATH } from '../../src/workers/orchestrator';
import { quietWorkers } from '../support/temporal';

/**
 * Histories recorded from real runs of an earlier version of the workflows (commit efaae67, before
 * the retryVm signal, the user metadata and the whole-run deadline) must replay on today's code:
 * a benchmark that is running when the orchestrator worker is upgraded continues instead of
 * failing with a nondeterminism error. Recorded on a dev server with real fio: a VM that failed
 * and was retried through the update, and a benchmark cancelled while fio ran. The `replay-groups-*`
 * histories are of the fan-out through group workflows (commit after 5862ccd: a benchmark, a
 * group, a VM run that continued as new and its last run), recorded by test/workflow/fanout.test.ts
 * with GCSFUSE_BENCH_RECORD_HISTORIES=1.
 */
const FIXTURES = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'fixtures', 'histories');
// Binary protobuf (History.encode of fetchHistory()): the SDK's JSON reader fails here, since npm installed two
// copies of protobufjs 8 (under @temporalio/common and @temporalio/proto) and it checks instanceof across them.
const { History } = proto.temporal.api.history.v1;

describe('workflow histories of the previous version', () => {
  const files = readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.binpb'))
    .sort();

  it('are there to replay (a benchmark, its VM runs and a retry run; a cancelled benchmark)', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'replay-retry.binpb',
        'replay-retry-vm-vm-b-retry-1.binpb',
        'replay-cancel.binpb',
        'replay-cancel-vm-vm-a.binpb',
        'replay-groups-benchmark.binpb',
        'replay-groups-group-0.binpb',
        'replay-groups-vm-1-continued.binpb',
      ]),
    );
  });

  it('replay on the current workflow code without a nondeterminism error', async () => {
    quietWorkers();
    const histories = files.map((f) => ({
      workflowId: f.replace(/\.binpb$/, ''),
      history: History.decode(readFileSync(path.join(FIXTURES, f))),
    }));
    const failures: string[] = [];
    for await (const r of Worker.runReplayHistories({ workflowsPath: WORKFLOWS_PATH }, histories)) {
      if (r.error) failures.push(`${r.workflowId}: ${r.error.message}`);
    }
    expect(failures).toEqual([]);
  });
});
