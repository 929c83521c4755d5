/**
 * The original tool's interface as compat.md lists it. The tests read a copy kept in the repo
 * (test/fixtures/original/compat.md, so a clean clone has it); compat-fixture.test.ts checks the copy
 * still matches ../shared/compat.md wherever that exists.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const COMPAT_FIXTURE = fileURLToPath(new URL('../fixtures/original/compat.md', import.meta.url));
/** Where the workspace keeps the original: beside the repository. */
export const COMPAT_SHARED = fileURLToPath(new URL('../../../shared/compat.md', import.meta.url));

export function compatText(file = COMPAT_FIXTURE): string {
  return readFileSync(file, 'utf8');
}

function section(text: string, heading: string): string {
  const start = text.indexOf(`## ${heading}`);
  if (start < 0) throw new Error(`compat.md has no section "${heading}"`);
  const next = text.indexOf('\n## ', start + 3);
  return text.slice(start, next < 0 ? undefined : next);
}

/** The names of the original's `envsubst '$BS $FILE_SIZE ...'` call. */
export function originalTemplateNames(text = compatText()): string[] {
  const m = /envsubst '([^']*)'/.exec(section(text, 'fio job templates'));
  if (!m) throw new Error('compat.md has no envsubst call');
  return m[1]!.split(/\s+/).map((n) => n.replace(/^\$/, ''));
}

/** The combined_report.csv header, in order: the first back-quoted list of the section, split on ', '. */
export function originalReportColumns(text = compatText()): string[] {
  const m = /`([^`]*)`/.exec(section(text, 'combined_report.csv'));
  if (!m) throw new Error('compat.md lists no combined_report.csv columns');
  return m[1]!
    .replace(/\s*\n\s*/g, ' ')
    .split(', ')
    .map((c) => c.trim());
}

/** The BigQuery table's fields, in order, with their types. */
export function originalBigQueryFields(text = compatText()): { name: string; type: string }[] {
  const m = /`([^`]*)`/.exec(section(text, 'BigQuery table'));
  if (!m) throw new Error('compat.md lists no BigQuery fields');
  return m[1]!
    .replace(/\s*\n\s*/g, ' ')
    .split(', ')
    .map((f) => {
      const [name, type, ...rest] = f.trim().split(/\s+/);
      if (!name || !type || rest.length) throw new Error(`compat.md: cannot read BigQuery field "${f}"`);
      return { name, type };
    });
}
