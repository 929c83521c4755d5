import type { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import type { BenchmarkRequest } from '../../src/core/spec';
import { DEFAULT_TIMEOUTS } from '../../src/core/spec';
import { createOrchestratorWorker } from '../../src/workers/orchestrator';
import { createAgentWorker } from '../../vm-agent/src/main';
import type { Mounter } from '../../vm-agent/src/mounter';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** Temporary folders made by tempDir in this test file; removed after its last test. */
const tempDirs = new Set<string>();

/**
 * A fresh folder under the system temp dir, removed after the test file's last test (and its
 * own afterAll hooks, which stop the processes using it), passed or failed, so a run leaves nothing.
 */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `gcsfuse-bench-${prefix}-`));
  tempDirs.add(dir);
  return dir;
}

/** Removes every folder tempDir made so far (also usable sooner, e.g. from afterEach). */
export function removeTempDirs(): void {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

// Registered when a test file imports this module, i.e. on the file's own suite; hooks run in
// reverse order of registration (vitest's default "stack"), so this runs after the file's hooks.
afterAll(removeTempDirs);

/** Workers of one test file: a real orchestrator worker and in-process agents running real fio. */
export class Harness {
  readonly home = tempDir('wf');
  readonly artifacts = path.join(this.home, 'artifacts');
  private readonly running = new Map<string, { worker: Worker; done: Promise<void> }>();

  constructor(readonly env: TestWorkflowEnvironment) {}

  private track(name: string, worker: Worker): void {
    this.running.set(name, { worker, done: worker.run() });
  }

  async startOrchestrator(): Promise<void> {
    const temporal = { address: this.env.address, namespace: 'default' };
    this.track('orchestrator', await createOrchestratorWorker({ temporal, artifacts: this.artifacts }));
  }

  agentWorkDir(vm: string): string {
    return path.join(this.home, 'agents', vm);
  }

  async startAgent(vm: string, mounter?: Mounter): Promise<void> {
    const temporal = { address: this.env.address, namespace: 'default' };
    this.track(
      `agent-${vm}`,
      await createAgentWorker({ vm, temporal, artifacts: this.artifacts, workDir: this.agentWorkDir(vm), mounter }),
    );
  }

  async stopAgent(vm: string): Promise<void> {
    const r = this.running.get(`agent-${vm}`);
    if (!r) return;
    this.running.delete(`agent-${vm}`);
    r.worker.shutdown();
    await r.done;
  }

  async stop(): Promise<void> {
    for (const r of this.running.values()) if (r.worker.getState() === 'RUNNING') r.worker.shutdown();
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
    this.running.clear();
    rmSync(this.home, { recursive: true, force: true });
  }
}

/** A small benchmark request: real fio, ~1 s per iteration. */
export function smallRequest(benchmarkId: string, vms: string[], overrides: Partial<BenchmarkRequest> = {}): BenchmarkRequest {
  return {
    benchmarkId,
    testCases: {
      name: 'test-cases.csv',
      content:
        'test_id,io_type,block_size,file_size,num_jobs\nseq-read,read,64k,4m,1\nrand-write,randwrite,4k,4m,2\nrand-read,randread,4k,4m,1\n',
    },
    jobFile: {
      name: 'jobfile.fio',
      content:
        '[global]\nioengine=psync\ntime_based=1\nruntime=1s\ndirectory=${TEST_DATA_DIR}\n\n[job]\nrw=${IO_TYPE}\nbs=${BLOCK_SIZE}\nsize=${FILE_SIZE}\nnumjobs=${NUM_JOBS}\n',
    },
    iterations: 2,
    fleet: { kind: 'static', vms },
    mount: { kind: 'local-dir' },
    gcsfuseCommit: 'master',
    gcsfuseMountArgs: '',
    timeouts: { ...DEFAULT_TIMEOUTS, agentPickupMs: 60_000, agentHeartbeatMs: 20_000 },
    retryWindowMs: 0,
    rerouteOnAgentLoss: true,
    ...overrides,
  };
}

export function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/** Polls a condition until it holds, failing with what was awaited after the timeout. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
