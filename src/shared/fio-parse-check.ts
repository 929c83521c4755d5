import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../core/errors';
import { checkFioOptions, optionsFromFioDebug } from '../core/fio-policy';
import type { RenderedJob } from '../core/job';

export interface FioParseCheckOptions {
  fioBin?: string;
  /** fio's environment: never the caller's secrets (fio expands ${VAR} in job files). */
  env: NodeJS.ProcessEnv;
  allow?: ReadonlySet<string>;
  /** Jobs checked at once. */
  concurrency?: number;
}

export type FioParseCheck = { checked: number } | { skipped: string };

/**
 * Has fio's own parser read each rendered job (`fio --debug=parse --parse-only`): fio must
 * accept it, and every option fio says it handled, under fio's own name, must pass the job
 * policy again. This catches what our reading of the job file could miss (aliases, syntax).
 * Runs only after the policy check of our own parser, which refuses what could run code while
 * fio merely parses (an external ioengine is loaded when its job is added).
 */
export async function checkJobsWithFio(
  jobs: readonly { label: string; job: RenderedJob; file: string }[],
  o: FioParseCheckOptions,
): Promise<FioParseCheck> {
  const distinct = new Map<string, (typeof jobs)[number]>();
  for (const j of jobs) if (!distinct.has(j.job.text)) distinct.set(j.job.text, j);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gcsfuse-bench-fio-check-'));
  try {
    const queue = [...distinct.values()].map((j, i) => ({ ...j, path: path.join(dir, `job-${i}.fio`) }));
    let missing: string | undefined;
    const worker = async (): Promise<void> => {
      for (let j = queue.shift(); j && !missing; j = queue.shift()) {
        await writeFile(j.path, j.job.text);
        const r = await run(o.fioBin ?? 'fio', ['--debug=parse', '--parse-only', j.path], o.env);
        if (r.notFound) {
          missing = r.notFound;
          return;
        }
        const output = r.stdout + r.stderr;
        if (r.code !== 0) {
          const why = output
            .split('\n')
            .filter((l) => l.trim() && !/^parse\s/.test(l) && !/set debug option/.test(l))
            .slice(0, 3)
            .join(' | ');
          throw new InputError(`fio rejects the rendered job of ${j.label}: ${why || `exit ${r.code}`}`, { file: j.file });
        }
        const parsed = optionsFromFioDebug(output);
        if (parsed.filesParsed > 1)
          throw new InputError(`the rendered job of ${j.label} makes fio read another file (include)`, { file: j.file });
        try {
          checkFioOptions(parsed.options, { file: j.file, allowedRoot: j.job.vmDataDir, cwd: j.job.testDataDir, allow: o.allow });
        } catch (err) {
          throw new InputError(`${j.label}, as fio parses it: ${(err as InputError).detail}`, { file: j.file });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, o.concurrency ?? os.availableParallelism()) }, worker));
    return missing ? { skipped: missing } : { checked: distinct.size };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string; notFound?: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: 60_000, maxBuffer: 16 * 2 ** 20 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
      if (e && e.code === 'ENOENT') return resolve({ code: -1, stdout: '', stderr: '', notFound: `${cmd} is not installed` });
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout, stderr });
    });
  });
}
