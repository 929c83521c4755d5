import type { ActivityOptions } from '@temporalio/workflow';
import { FAILURE_TYPES } from '../shared/names';

/**
 * How the workflows call the orchestrator's activities: they heartbeat while they work, so a killed
 * worker is noticed in seconds; transient failures are retried with backoff; bad input and write
 * conflicts are not (no retry fixes them).
 */
export function orchestratorActivityOptions(startToCloseTimeout: ActivityOptions['startToCloseTimeout']): ActivityOptions {
  return {
    startToCloseTimeout,
    heartbeatTimeout: '30 seconds',
    retry: {
      initialInterval: '1s',
      maximumInterval: '30s',
      maximumAttempts: 10,
      nonRetryableErrorTypes: [FAILURE_TYPES.input, FAILURE_TYPES.conflict],
    },
  };
}
