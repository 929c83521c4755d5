import { InputError } from './errors';
import { isSafeId } from './ids';
import { ALL_PLACEHOLDERS, BUILTIN_PLACEHOLDERS, COLUMNS, COLUMN_BY_PLACEHOLDER, type BuiltinPlaceholder } from './params';

/**
 * fio job templates. Every test-case column fills an UPPER_SNAKE placeholder, written
 * either as a bare word (`bs=BLOCK_SIZE`, as the original tool's job files do) or as
 * `${BLOCK_SIZE}`. Bare words are matched only as whole words, so `BLOCK_SIZES` or
 * `MY_BS` are left alone. Comment lines (';' or '#') are never touched.
 */

export interface PlaceholderUse {
  name: string;
  /** 1-based line in the template. */
  line: number;
  form: 'bare' | 'braced';
}

const BRACED_RE = /\$\{([^}\n]*)\}/g;
// Longest first so an alternation never prefers a prefix; whole words only.
const BARE_RE = new RegExp(
  `(?<![A-Za-z0-9_$])(${[...ALL_PLACEHOLDERS].sort((a, b) => b.length - a.length).join('|')})(?![A-Za-z0-9_])`,
  'g',
);

function isComment(line: string): boolean {
  return /^\s*[;#]/.test(line);
}

/** Editors on Windows start files with a byte-order mark; fio would read it as part of the first line. */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

export function findPlaceholders(template: string, file: string): PlaceholderUse[] {
  const uses: PlaceholderUse[] = [];
  stripBom(template).split('\n').forEach((text, i) => {
    if (isComment(text)) return;
    const line = i + 1;
    for (const m of text.matchAll(BRACED_RE)) {
      const name = m[1] ?? '';
      if (!ALL_PLACEHOLDERS.includes(name)) {
        throw new InputError(
          `unknown placeholder \${${name}}; known placeholders are ${ALL_PLACEHOLDERS.join(', ')}`,
          { file, line },
        );
      }
      uses.push({ name, line, form: 'braced' });
    }
    for (const m of text.replace(BRACED_RE, (s) => ' '.repeat(s.length)).matchAll(BARE_RE)) {
      uses.push({ name: m[1]!, line, form: 'bare' });
    }
  });
  return uses;
}

/**
 * Checks, before anything runs, that every placeholder the template uses will have a
 * value: a built-in, or a column the test-cases CSV has.
 */
export function checkTemplate(template: string, file: string, csvColumns: readonly string[], csvFile: string): PlaceholderUse[] {
  template = stripBom(template);
  if (template.trim() === '') throw new InputError('the fio job file is empty', { file });
  if (!/^\s*\[[^\]]+\]/m.test(template)) throw new InputError('no [job] section found: this does not look like an fio job file', { file });
  const uses = findPlaceholders(template, file);
  for (const use of uses) {
    if ((BUILTIN_PLACEHOLDERS as readonly string[]).includes(use.name) || use.name === 'TEST_ID') continue;
    const spec = COLUMN_BY_PLACEHOLDER.get(use.name)!;
    if (!csvColumns.includes(spec.column)) {
      throw new InputError(
        `placeholder ${use.name} has no value: ${csvFile} has no column "${spec.column}"`,
        { file, line: use.line },
      );
    }
  }
  return uses;
}

/** Values for every placeholder: the test case's columns under all their names, plus built-ins. */
export function placeholderValues(
  testId: string,
  params: Readonly<Record<string, string>>,
  builtins: Readonly<Partial<Record<BuiltinPlaceholder, string>>>,
): Record<string, string> {
  const values: Record<string, string> = { TEST_ID: testId };
  for (const spec of COLUMNS) {
    const value = params[spec.column];
    if (value !== undefined) for (const p of spec.placeholders) values[p] = value;
  }
  for (const [name, value] of Object.entries(builtins)) {
    if (value === undefined) continue;
    if (name === 'VM_NAME') {
      if (!isSafeId(value)) throw new InputError(`VM_NAME ${JSON.stringify(value)} is not a safe VM name`);
      values[name] = value;
      continue;
    }
    // Paths go into `directory=`/`filename=`; fio splits those on ':' and a newline would start a new option.
    if (!/^\/[A-Za-z0-9_.\/-]*$/.test(value)) throw new InputError(`${name} ${JSON.stringify(value)} must be an absolute path of letters, digits, '_', '-', '.' and '/'`);
    values[name] = value;
  }
  return values;
}

export function renderTemplate(template: string, values: Readonly<Record<string, string>>, file = 'job file'): string {
  return stripBom(template)
    .split('\n')
    .map((text, i) => {
      if (isComment(text)) return text;
      const get = (name: string): string => {
        const v = values[name];
        if (v === undefined) throw new InputError(`placeholder ${name} has no value`, { file, line: i + 1 });
        if (/[\n\r\0]/.test(v)) throw new InputError(`value of ${name} contains a line break`, { file, line: i + 1 });
        return v;
      };
      // Substitute braced and bare forms in one pass, so a value is never scanned again.
      const pattern = new RegExp(`${BRACED_RE.source}|${BARE_RE.source}`, 'g');
      return text.replace(pattern, (_m, braced: string | undefined, bare: string | undefined) => get((braced ?? bare)!));
    })
    .join('\n');
}
