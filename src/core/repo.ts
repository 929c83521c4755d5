import { InputError } from './errors';
import { hasSpaceOrControlChars } from './text';

/**
 * A git repository given by a flag (a URL or a path): not empty, not an option git would parse
 * (`--upload-pack=...`), no white space or control characters. git's protocol allow-list does the rest.
 */
export function checkRepoLocation(repo: string, flag: string): string {
  if (repo.trim() === '' || repo.startsWith('-') || hasSpaceOrControlChars(repo)) {
    throw new InputError(`${JSON.stringify(repo)} is not a repository URL or path`, { flag });
  }
  return repo;
}
