import { promises as fs } from 'node:fs';
import { parseDurationMs } from '../../src/core/params';
import type { FioRunner } from './fio-runner';

/** fio version reported by the simulation, so no report can mistake it for a measurement. */
export const SIMULATED_FIO_VERSION = 'simulated (no fio ran, no I/O was measured)';

/**
 * SIMULATION MODE, for measuring the orchestration itself (dispatch overhead, fleet
 * scale): instead of running fio it sleeps for the job's `runtime=` and writes an fio-shaped
 * result with zero I/O, clearly labelled as simulated.
 */
export const simulatedFio: FioRunner = async (req) => {
  const started = Date.now();
  const job = await fs.readFile(req.jobFile, 'utf8');
  const runtime = /^\s*runtime\s*=\s*(\S+)\s*$/m.exec(job)?.[1];
  const sleepMs = (runtime && parseDurationMs(runtime)) || 0;
  const aborted = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), Math.min(sleepMs, req.timeoutMs));
    req.signal?.addEventListener('abort', () => (clearTimeout(timer), resolve(true)), { once: true });
  });
  const durationMs = Date.now() - started;
  const zero = { io_bytes: 0, bw_bytes: 0, iops: 0, runtime: durationMs, total_ios: 0, clat_ns: { N: 0 } };
  await fs.writeFile(
    req.outputFile,
    JSON.stringify({
      'fio version': SIMULATED_FIO_VERSION,
      jobs: [{ jobname: 'simulated', error: 0, read: zero, write: zero, trim: zero }],
    }),
  );
  return { exitCode: aborted ? null : 0, signal: null, timedOut: sleepMs > req.timeoutMs, aborted, durationMs, stderr: '' };
};
