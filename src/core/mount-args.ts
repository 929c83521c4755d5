import { parse } from 'shell-quote';
import { InputError, type InputLocation } from './errors';

/**
 * Splits gcsfuse mount args the way a shell would split words, but never runs a
 * shell: operators, globs, comments and variable expansions are refused.
 */
export function splitMountArgs(text: string, loc: InputLocation = {}): string[] {
  if (/[\n\r\0]/.test(text)) throw new InputError('mount args must be on one line', loc);
  if (text.includes('$') || text.includes('`')) {
    throw new InputError(`mount args ${JSON.stringify(text)} contain '$' or '\`': no shell expansion is done, write values literally`, loc);
  }
  const words = parse(text);
  return words.map((w) => {
    if (typeof w !== 'string') {
      // shell-quote returns a glob as { op: 'glob', pattern }, so test for it before other operators.
      const what = 'comment' in w ? 'a comment' : w.op === 'glob' ? `a glob ${JSON.stringify(w.pattern)}` : `shell operator ${JSON.stringify(w.op)}`;
      throw new InputError(`mount args ${JSON.stringify(text)} contain ${what}: only plain flags and values are allowed`, loc);
    }
    return w;
  });
}

/** A git commit, tag or branch name, as gcsfuse is built from. */
export function checkGitRef(ref: string, loc: InputLocation = {}): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$/.test(ref) || ref.includes('..')) {
    throw new InputError(`${JSON.stringify(ref)} is not a git commit, tag or branch name`, loc);
  }
  return ref;
}
