import { sampleStats } from './stats';

/**
 * The opt-in stability gate (as pbench-fio does): after the planned iterations, keep
 * running more while the bandwidth's coefficient of variation is above a threshold, up to a
 * limit; an entry that never settles is marked unstable rather than published as if it were.
 */
export interface StabilityGate {
  /** Highest acceptable coefficient of variation of bandwidth across iterations, in percent. */
  maxCvPercent: number;
  /** Iterations never exceed this, planned ones included. */
  maxIterations: number;
}

export interface StabilityVerdict {
  stable: boolean;
  bwCvPercent: number;
}

export function stabilityOf(bwBytesPerSec: readonly number[], gate: StabilityGate): StabilityVerdict {
  const cv = bwBytesPerSec.length > 1 ? sampleStats(bwBytesPerSec).cv * 100 : 0;
  return { stable: cv <= gate.maxCvPercent, bwCvPercent: cv };
}

/** Whether to run another iteration after `done` of them, `planned` being the requested count. */
export function wantsAnotherIteration(bwBytesPerSec: readonly number[], planned: number, gate: StabilityGate | undefined): boolean {
  const done = bwBytesPerSec.length;
  if (done < planned) return true;
  if (!gate || done >= gate.maxIterations) return false;
  return !stabilityOf(bwBytesPerSec, gate).stable;
}
