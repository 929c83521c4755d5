import { Context } from '@temporalio/activity';

const BEAT_MS = 5_000;

/**
 * Heartbeats every few seconds while each activity runs, so Temporal notices a killed
 * worker after the heartbeat timeout rather than after the whole start-to-close timeout.
 */
export function withHeartbeats<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T): T {
  return Object.fromEntries(
    Object.entries(activities).map(([name, fn]) => [
      name,
      async (...args: never[]) => {
        const ctx = Context.current();
        const timer = setInterval(() => ctx.heartbeat(), BEAT_MS);
        try {
          return await fn(...args);
        } finally {
          clearInterval(timer);
        }
      },
    ]),
  ) as T;
}
