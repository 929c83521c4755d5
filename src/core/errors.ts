/** Where a bad input was found, so the message can point a user at it. */
export interface InputLocation {
  file?: string;
  /** 1-based data row (the header is row 0), as a spreadsheet user counts them after the header. */
  row?: number;
  column?: string;
  line?: number;
  flag?: string;
}

/**
 * An error in what the user gave us (files, flags, ids). It is never retried:
 * activities turn it into a non-retryable ApplicationFailure of type INPUT_ERROR_TYPE.
 */
export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(
    readonly detail: string,
    readonly location: InputLocation = {},
  ) {
    super(escapeControl(formatLocation(location) + detail));
  }
}

/** Control characters a user's input brings into a message (e.g. terminal escapes) are shown escaped, never sent to the terminal. */
export function escapeControl(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export const INPUT_ERROR_TYPE = 'InputError';

/** A write-once artifact that exists with other content: the store never replaces it, and no retry can change that. */
export class WriteConflictError extends Error {
  override readonly name = 'WriteConflictError';
  constructor(
    readonly key: string,
    readonly location: string,
  ) {
    super(`${location} already exists with different content; it is written once and never replaced`);
  }
}

export function formatLocation(loc: InputLocation): string {
  const parts: string[] = [];
  if (loc.flag) parts.push(loc.flag);
  if (loc.file) parts.push(loc.file);
  if (loc.row !== undefined && loc.line !== undefined) parts.push(`row ${loc.row} (line ${loc.line})`);
  else if (loc.row !== undefined) parts.push(`row ${loc.row}`);
  else if (loc.line !== undefined) parts.push(`line ${loc.line}`);
  if (loc.column) parts.push(`column "${loc.column}"`);
  return parts.length ? parts.join(', ') + ': ' : '';
}
