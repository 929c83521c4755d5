import { defineQuery } from '@temporalio/workflow';
import type { SuiteVerdict } from '../core/suite';

export type SuiteRunPhase = 'resolving-ref' | 'benchmarking' | 'judging' | 'alerting' | 'done' | 'failed';

/** Where a suite run is, for `schedule describe` and tests. */
export interface SuiteRunState {
  suite: string;
  benchmarkId: string;
  phase: SuiteRunPhase;
  ref?: string;
  commit?: string;
  verdict?: SuiteVerdict;
  alert?: 'none' | 'sent' | { failed: string };
}

export const suiteRunQuery = defineQuery<SuiteRunState>('suiteRun');
