import { defineQuery } from '@temporalio/workflow';
import type { BisectRange, BisectRecord, BisectStep } from '../core/bisect';

export type BisectPhase = 'listing-commits' | 'measuring-good' | 'verifying-bad' | 'bisecting' | 'done' | 'failed';

/** Where a bisect is, for the CLI, tests and anyone querying it. */
export interface BisectState {
  bisectId: string;
  phase: BisectPhase;
  testId: string;
  good?: string;
  bad?: string;
  /** Commits on the path good..bad (the bad one last). */
  commits?: number;
  range?: BisectRange;
  /** The commit being benchmarked now, with its iterations so far. */
  current?: { commit: string; round: number; benchmarkId: string };
  steps: BisectStep[];
  maxProbes?: number;
  result?: BisectRecord;
}

export const bisectQuery = defineQuery<BisectState>('bisect');
