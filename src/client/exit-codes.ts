import { WorkflowFailedError } from '@temporalio/client';
import { InputError } from '../core/errors';
import { failureMessage, isInputFailure } from './benchmarks';
import type { BenchmarkResult } from '../workflows/types';

/** Exit codes scripts can rely on, for every command (README: exit codes). */
export const EXIT = {
  ok: 0,
  failed: 1,
  badInput: 2,
  entriesFailed: 3,
  regression: 4,
  refused: 5,
  /** compare's gate cannot vouch for the candidate (nothing or only part matched, gated metrics untested or inconclusive). */
  gateIncomplete: 6,
  interrupted: 130,
} as const;

/** commander's codes for --help and --version: they ended the command, but nothing went wrong. */
const COMMANDER_DONE = new Set(['commander.helpDisplayed', 'commander.help', 'commander.version']);

/**
 * The exit code of a command that threw, with its message printed: bad input (ours, commander's or
 * a workflow's input failure) is 2, anything else 1. commander prints its own messages.
 */
export function exitCodeOf(err: unknown, printError: (line: string) => void = (line) => console.error(line)): number {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && COMMANDER_DONE.has(code)) return EXIT.ok;
  if (typeof code === 'string' && code.startsWith('commander.')) return EXIT.badInput;
  if (err instanceof InputError) {
    printError(`error: ${err.message}`);
    return EXIT.badInput;
  }
  printError(`error: ${err instanceof WorkflowFailedError ? failureMessage(err) : (err as Error).message}`);
  return isInputFailure(err) ? EXIT.badInput : EXIT.failed;
}

/** The exit code of a benchmark that ran to its end: 3 when entries failed, 1 when only the export did. */
export function exitCodeOfResult(result: Pick<BenchmarkResult, 'failed' | 'exportError'>): number {
  return result.failed > 0 ? EXIT.entriesFailed : result.exportError ? EXIT.failed : EXIT.ok;
}
