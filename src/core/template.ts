import { InputError } from './errors';
import { isSafeId } from './ids';
import {
  ALL_PLACEHOLDERS,
  BARE_PLACEHOLDERS,
  BUILTIN_ALIASES,
  BUILTIN_PLACEHOLDERS,
  COLUMNS,
  COLUMN_BY_PLACEHOLDER,
  FIO_DOLLAR_KEYWORDS,
  type BuiltinPlaceholder,
} from './params';

/**
 * fio job templates. Every test-case column fills UPPER_SNAKE placeholders, in three forms:
 *   - `${BS}` and `$BS` anywhere in a line, as the original tool's envsubst substitutes them
 *     (`$NAME` takes the longest run of letters, digits and '_', as a shell does: `$BS_X` is BS_X);
 *   - a bare word that is the whole value of an option (`bs=BLOCK_SIZE`, the seed format), or the
 *     first segment of a path value (`directory=TEST_DATA_DIR/sub`). Words elsewhere in a value
 *     (`description=DIRECT io on BS blocks`) are text, not placeholders.
 * `$$` and fio's own `$` keywords (`$jobname`, `$ncpus`, `$mb_memory`, `$pagesize`, ...) are left for
 * fio; any other `$NAME` or `${NAME}` is an error naming the file and line, so fio never expands an
 * environment variable. Comment lines (';' or '#') are never touched.
 */

export interface PlaceholderUse {
  name: string;
  /** 1-based line in the template. */
  line: number;
  form: 'bare' | 'braced' | 'dollar';
}

// `$$`, `${...}` or `$NAME`; anything else after a `$` (a digit, a space, the end) is plain text.
const DOLLAR_RE = /\$(?:(\$)|\{([^}\n]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g;
// key = value [inline comment]: the value is a bare placeholder, alone or as a path's first segment.
const BARE_NAMES = [...BARE_PLACEHOLDERS].sort((a, b) => b.length - a.length).join('|');
const BARE_VALUE_RE = new RegExp(`^(\\s*[A-Za-z0-9_]+\\s*=\\s*)(${BARE_NAMES})(?=$|/|\\s+[;#]|\\s*$)`);
const FIO_KEYWORDS: ReadonlySet<string> = new Set(FIO_DOLLAR_KEYWORDS);
const KNOWN: ReadonlySet<string> = new Set(ALL_PLACEHOLDERS);

function isComment(line: string): boolean {
  return /^\s*[;#]/.test(line);
}

type Piece = { text: string } | { name: string; form: PlaceholderUse['form'] };

/**
 * Splits one (non-comment) line into text and placeholders; throws on an unknown `$NAME`/`${NAME}`.
 * Scanning once and substituting the pieces means a substituted value is never scanned again.
 */
function scanLine(text: string, file: string, line: number): Piece[] {
  const pieces: Piece[] = [];
  let rest = text;
  const bare = BARE_VALUE_RE.exec(text);
  if (bare) {
    pieces.push({ text: bare[1]! }, { name: bare[2]!, form: 'bare' });
    rest = text.slice(bare[0].length);
  }
  let at = 0;
  for (const m of rest.matchAll(DOLLAR_RE)) {
    const [whole, dollars, braced, plain] = m;
    pieces.push({ text: rest.slice(at, m.index) });
    at = m.index + whole.length;
    if (dollars !== undefined || (plain !== undefined && FIO_KEYWORDS.has(plain))) {
      pieces.push({ text: whole });
      continue;
    }
    const name = (braced ?? plain)!;
    if (!KNOWN.has(name)) {
      const written = braced !== undefined ? `\${${name}}` : `$${name}`;
      throw new InputError(
        `unknown placeholder ${written}; known placeholders are ${ALL_PLACEHOLDERS.join(', ')}` +
          (braced !== undefined
            ? ''
            : `; fio's own $ keywords (${FIO_DOLLAR_KEYWORDS.map((k) => `$${k}`).join(', ')}) and $$ are left for fio`),
        { file, line },
      );
    }
    pieces.push({ name, form: braced !== undefined ? 'braced' : 'dollar' });
  }
  pieces.push({ text: rest.slice(at) });
  return pieces;
}

function scanTemplate(template: string, file: string): { text: string; pieces: Piece[] | null }[] {
  return stripBom(template)
    .split('\n')
    .map((text, i) => ({ text, pieces: isComment(text) ? null : scanLine(text, file, i + 1) }));
}

/** Editors on Windows start files with a byte-order mark; fio would read it as part of the first line. */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

export function findPlaceholders(template: string, file: string): PlaceholderUse[] {
  return scanTemplate(template, file).flatMap(({ pieces }, i) =>
    (pieces ?? []).flatMap((p) => ('name' in p ? [{ name: p.name, line: i + 1, form: p.form }] : [])),
  );
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
    if ((BUILTIN_PLACEHOLDERS as readonly string[]).includes(use.name) || use.name in BUILTIN_ALIASES || use.name === 'TEST_ID') continue;
    const spec = COLUMN_BY_PLACEHOLDER.get(use.name)!;
    if (!csvColumns.includes(spec.column)) {
      throw new InputError(`placeholder ${use.name} has no value: ${csvFile} has no column "${spec.column}"`, { file, line: use.line });
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
    if (value !== undefined) for (const p of [...spec.placeholders, ...(spec.dollarPlaceholders ?? [])]) values[p] = value;
  }
  for (const [name, value] of Object.entries(builtins)) {
    if (value === undefined) continue;
    if (name === 'VM_NAME') {
      if (!isSafeId(value)) throw new InputError(`VM_NAME ${JSON.stringify(value)} is not a safe VM name`);
      values[name] = value;
      continue;
    }
    // Paths go into `directory=`/`filename=`; fio splits those on ':' and a newline would start a new option.
    if (!/^\/[A-Za-z0-9_./-]*$/.test(value))
      throw new InputError(`${name} ${JSON.stringify(value)} must be an absolute path of letters, digits, '_', '-', '.' and '/'`);
    values[name] = value;
  }
  for (const [alias, of] of Object.entries(BUILTIN_ALIASES)) if (values[of] !== undefined) values[alias] = values[of];
  return values;
}

export function renderTemplate(template: string, values: Readonly<Record<string, string>>, file = 'job file'): string {
  return scanTemplate(template, file)
    .map(({ text, pieces }, i) => {
      if (!pieces) return text;
      return pieces
        .map((p) => {
          if ('text' in p) return p.text;
          const v = values[p.name];
          if (v === undefined) throw new InputError(`placeholder ${p.name} has no value`, { file, line: i + 1 });
          if (/[\n\r\0]/.test(v)) throw new InputError(`value of ${p.name} contains a line break`, { file, line: i + 1 });
          return v;
        })
        .join('');
    })
    .join('\n');
}
