/**
 * Which errors no retry can fix, for the orchestrator's activities and the agent's alike: they
 * become non-retryable Temporal failures (type FAILURE_TYPES.*), so Temporal stops at once.
 */
import { ApplicationFailure } from '@temporalio/common';
import { InputError, WriteConflictError } from '../core/errors';
import { FAILURE_TYPES } from './names';

/** Turns errors that no retry can fix into non-retryable failures. */
export function toFailure(err: unknown): unknown {
  if (err instanceof InputError) return ApplicationFailure.nonRetryable(err.message, FAILURE_TYPES.input);
  if (err instanceof WriteConflictError) return ApplicationFailure.nonRetryable(err.message, FAILURE_TYPES.conflict);
  return err;
}

/** Wraps each activity so its non-retryable errors are marked as such. */
export function withFailureMapping<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T): T {
  return Object.fromEntries(
    Object.entries(activities).map(([name, fn]) => [
      name,
      async (...args: never[]) => {
        try {
          return await fn(...args);
        } catch (err) {
          throw toFailure(err);
        }
      },
    ]),
  ) as T;
}
