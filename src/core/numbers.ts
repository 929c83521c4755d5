import { InputError, type InputLocation } from './errors';
import { parseDurationMs } from './params';

/**
 * Numbers from flags and config files: plain decimal only (no 0x10, 1e2, Infinity), within
 * bounds a user could mean, so a typo never becomes a 25-day timer that Node overflows into
 * zero, or an iteration count that never ends.
 */

/** setTimeout and Temporal timers hold at most 2^31-1 ms (about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export function parseCount(text: string, loc: InputLocation, bounds: { min: number; max: number }): number {
  const t = text.trim();
  if (!/^[0-9]+$/.test(t)) throw new InputError(`${JSON.stringify(text)} is not a whole number (plain decimal digits)`, loc);
  const n = Number(t);
  if (!Number.isSafeInteger(n) || n < bounds.min || n > bounds.max) {
    throw new InputError(`${t} is out of range: give a whole number from ${bounds.min} to ${bounds.max}`, loc);
  }
  return n;
}

export function parseDuration(text: string, loc: InputLocation, bounds: { minMs: number; maxMs: number; allowZero?: boolean }): number {
  const t = text.trim();
  if (bounds.allowZero && /^0+(us|ms|s|m|h|d)?$/.test(t)) return 0;
  const ms = parseDurationMs(t);
  if (ms === undefined)
    throw new InputError(`${JSON.stringify(text)} is not a duration (a whole number with a unit us, ms, s, m, h, d: 90s, 30m, 2h)`, loc);
  if (ms < bounds.minMs || ms > bounds.maxMs) {
    throw new InputError(`${t} is out of range: give a duration from ${formatMs(bounds.minMs)} to ${formatMs(bounds.maxMs)}`, loc);
  }
  return ms;
}

/** A percentage such as 5, 2.5 or 5%: plain decimal, within (0, max]. */
export function parsePercent(text: string, loc: InputLocation, max = 1000): number {
  const t = text.trim().replace(/%$/, '');
  if (!/^[0-9]+(\.[0-9]+)?$/.test(t)) throw new InputError(`${JSON.stringify(text)} is not a percentage (e.g. 5 or 2.5%)`, loc);
  const n = Number(t);
  if (!(n > 0) || n > max) throw new InputError(`${t} is out of range: give a percentage above 0 and at most ${max}`, loc);
  return n;
}

export function formatMs(ms: number): string {
  if (ms >= 86_400_000) return ms % 86_400_000 === 0 ? `${ms / 86_400_000}d` : `${Math.floor(ms / 8_640_000) / 10}d`;
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
