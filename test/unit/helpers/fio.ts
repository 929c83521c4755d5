import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** fio as the tests run it: an argv array, never a shell. */
export const FIO_BIN = process.env.FIO_BIN ?? 'fio';

export interface FioRun {
  output: string;
  exitCode: number;
  stderr: string;
}

/**
 * Runs fio in `cwd` with `--output=<cwd>/<name>` appended and returns what it wrote there.
 * A non-zero exit is returned, not thrown, when allowFailure is set.
 */
export function runFio(cwd: string, name: string, args: readonly string[], allowFailure = false): Promise<FioRun> {
  const outputFile = path.join(cwd, name);
  return new Promise((resolve, reject) => {
    execFile(FIO_BIN, [...args, `--output=${outputFile}`], { cwd, timeout: 60_000 }, (err, _stdout, stderr) => {
      const exitCode = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      if (err && !allowFailure) {
        reject(new Error(`fio ${args.join(' ')} failed (${exitCode}): ${stderr}`));
        return;
      }
      readFile(outputFile, 'utf8').then((output) => resolve({ output, exitCode, stderr }), reject);
    });
  });
}
