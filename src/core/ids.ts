import { InputError, type InputLocation } from './errors';

/**
 * Benchmark ids, VM names, test ids and config labels become folder names in the
 * artifact store and parts of Temporal ids, so they are limited to a safe set:
 * no slash, no dot-dot, nothing a shell or a URL would treat specially.
 */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

export function isSafeId(value: string): boolean {
  return SAFE_ID.test(value) && !value.includes('..');
}

export function checkSafeId(value: string, what: string, loc: InputLocation = {}): string {
  if (!isSafeId(value)) {
    throw new InputError(
      `${what} ${JSON.stringify(value)} is not allowed: use 1-100 letters, digits, '_', '-' or '.', starting with a letter or digit`,
      loc,
    );
  }
  return value;
}
