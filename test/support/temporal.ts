import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { execFileSync } from 'node:child_process';
import { devServerSearchAttributeArgs } from '../../src/shared/names';

/** The installed `temporal` CLI (scripts/setup.sh puts it on PATH); never downloaded. */
export function temporalCliPath(): string {
  try {
    return execFileSync('which', [process.env.TEMPORAL_CLI ?? 'temporal'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('the temporal CLI is not on PATH: run `npm run setup`');
  }
}

/** A real Temporal dev server for the tests of one file. */
export function startLocalTemporal(): Promise<TestWorkflowEnvironment> {
  quietWorkers();
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalCliPath() },
      extraArgs: ['--log-level', 'error', ...devServerSearchAttributeArgs()],
    },
  });
}

let installed = false;
/** Worker state changes at INFO would drown the test output; warnings still show. */
export function quietWorkers(): void {
  if (installed) return;
  installed = true;
  Runtime.install({ logger: new DefaultLogger('WARN') });
}
