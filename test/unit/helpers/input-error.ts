import { expect } from 'vitest';
import { InputError, type InputLocation } from '../../../src/core/errors';

/** Runs fn, which must throw an InputError, and returns it. */
export function catchInputError(fn: () => unknown): InputError {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  if (thrown === undefined) throw new Error('expected an InputError, but nothing was thrown');
  expect(thrown).toBeInstanceOf(InputError);
  return thrown as InputError;
}

/**
 * Expects fn to throw an InputError at exactly `location`, whose message starts with
 * `prefix` (the location as the user reads it) and contains every fragment.
 */
export function expectInputError(
  fn: () => unknown,
  location: InputLocation,
  prefix: string,
  ...fragments: (string | RegExp)[]
): InputError {
  const err = catchInputError(fn);
  expect(err.location).toEqual(location);
  expect(err.message.startsWith(prefix), `message ${JSON.stringify(err.message)} should start with ${JSON.stringify(prefix)}`).toBe(true);
  for (const f of fragments) expect(err.message).toMatch(f);
  return err;
}
