/**
 * The columns a test-cases CSV may have, what each value means, and the job-file
 * placeholders each one fills. Values are checked against their meaning before
 * they get near a job file: a newline, '=' or '[' in a value could otherwise add
 * options (exec_prerun=...) or sections to the fio job.
 */

export type ParamKind = 'id' | 'size' | 'positiveInt' | 'rwMode' | 'bool01' | 'duration';

export interface ColumnSpec {
  column: string;
  kind: ParamKind;
  /**
   * UPPER_SNAKE placeholder filled by this column, plus aliases used by existing suites: written bare
   * (`bs=BS`), as `$BS` or as `${BS}`.
   */
  placeholders: string[];
  /**
   * Names gcsfuse's own sample job files use (perfmetrics/scripts/job_files, docs/benchmarks.md:
   * `${NUMJOBS}`, `${FILESIZE}`, `${READ_TYPE}`). Only in the `$NAME`/`${NAME}` forms: as bare words
   * such short names would too easily be meant literally.
   */
  dollarPlaceholders?: string[];
  description: string;
  /** Largest whole number accepted: a typo must not ask fio for a million queues or processes. */
  max?: number;
}

export const COLUMNS: readonly ColumnSpec[] = [
  { column: 'test_id', kind: 'id', placeholders: ['TEST_ID'], description: 'identifier of the test case' },
  {
    column: 'io_type',
    kind: 'rwMode',
    placeholders: ['IO_TYPE'],
    dollarPlaceholders: ['READ_TYPE'],
    description: 'fio rw mode (read, randread, write, ...)',
  },
  { column: 'block_size', kind: 'size', placeholders: ['BLOCK_SIZE', 'BS'], description: 'fio bs, e.g. 4k, 1m' },
  {
    column: 'io_depth',
    kind: 'positiveInt',
    placeholders: ['IO_DEPTH'],
    dollarPlaceholders: ['IODEPTH'],
    description: 'fio iodepth',
    max: 65_536,
  },
  {
    column: 'num_jobs',
    kind: 'positiveInt',
    placeholders: ['NUM_JOBS', 'THREADS'],
    dollarPlaceholders: ['NUMJOBS'],
    description: 'fio numjobs',
    max: 4_096,
  },
  {
    column: 'file_size',
    kind: 'size',
    placeholders: ['FILE_SIZE'],
    dollarPlaceholders: ['FILESIZE'],
    description: 'fio size per file, e.g. 1g',
  },
  { column: 'nr_files', kind: 'positiveInt', placeholders: ['NR_FILES', 'NRFILES'], description: 'fio nrfiles', max: 1_000_000 },
  { column: 'direct', kind: 'bool01', placeholders: ['DIRECT'], description: 'fio direct (0 or 1)' },
  { column: 'runtime', kind: 'duration', placeholders: ['RUNTIME'], description: 'fio runtime, e.g. 60s' },
];

/** Placeholders that come from the agent, not from the CSV: paths on the VM and the VM's name. */
export const BUILTIN_PLACEHOLDERS = ['MOUNT_POINT', 'TEST_DATA_DIR', 'VM_NAME'] as const;
export type BuiltinPlaceholder = (typeof BUILTIN_PLACEHOLDERS)[number];

/**
 * Other names of built-ins, only in the `$NAME`/`${NAME}` forms: gcsfuse's sample job files write
 * `directory=${DIR}`, which here is the test's own folder (a job's paths must stay in the VM's folder).
 */
export const BUILTIN_ALIASES: Readonly<Record<string, BuiltinPlaceholder>> = { DIR: 'TEST_DATA_DIR' };

export const COLUMN_BY_NAME: ReadonlyMap<string, ColumnSpec> = new Map(COLUMNS.map((c) => [c.column, c]));

export const COLUMN_BY_PLACEHOLDER: ReadonlyMap<string, ColumnSpec> = new Map(
  COLUMNS.flatMap((c) => [...c.placeholders, ...(c.dollarPlaceholders ?? [])].map((p) => [p, c] as const)),
);

/** Placeholders that may be written as bare words (the whole value of an option: `bs=BS`). */
export const BARE_PLACEHOLDERS: readonly string[] = [...COLUMNS.flatMap((c) => c.placeholders), ...BUILTIN_PLACEHOLDERS];

/** Every placeholder of the `$NAME` and `${NAME}` forms. */
export const ALL_PLACEHOLDERS: readonly string[] = [
  ...BARE_PLACEHOLDERS,
  ...COLUMNS.flatMap((c) => c.dollarPlaceholders ?? []),
  ...Object.keys(BUILTIN_ALIASES),
];

/**
 * The names the original tool substitutes (`envsubst '$BS $FILE_SIZE $IO_DEPTH $IO_TYPE $THREADS
 * $NRFILES $DIRECT $TEST_DATA_DIR'`, see compat.md); all are placeholders here too.
 */
export const ORIGINAL_TOOL_PLACEHOLDERS = [
  'BS',
  'FILE_SIZE',
  'IO_DEPTH',
  'IO_TYPE',
  'THREADS',
  'NRFILES',
  'DIRECT',
  'TEST_DATA_DIR',
] as const;

/**
 * fio's own `$` keywords, left for fio: file name formats (`$jobname.$jobnum.$filenum`,
 * `$clientuid`) and the values fio computes in option expressions (`$pagesize`, `$mb_memory`, `$ncpus`).
 */
export const FIO_DOLLAR_KEYWORDS = ['jobname', 'jobnum', 'filenum', 'clientuid', 'pagesize', 'mb_memory', 'ncpus'] as const;

export const RW_MODES = ['read', 'write', 'trim', 'randread', 'randwrite', 'randtrim', 'rw', 'readwrite', 'randrw', 'trimwrite'] as const;

const SIZE_RE = /^([0-9]+)([kmgtp](i?b)?|b)?$/i;
const SIZE_FACTORS: Record<string, number> = { '': 1, b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };

/**
 * Bytes in a size as fio reads it with its default kb_base=1024: 4k = 4kb = 4096,
 * 1m = 1048576. In that (compatibility) mode fio reads the IEC spellings as powers of
 * ten, the opposite of the standard: 4KiB = 4000, 1MiB = 1000000. Returns undefined if
 * it is not a size.
 */
export function parseSizeBytes(text: string): number | undefined {
  const m = SIZE_RE.exec(text.trim());
  if (!m) return undefined;
  const unit = (m[2] ?? '').charAt(0).toLowerCase();
  const factor = SIZE_FACTORS[unit] ?? NaN;
  const iec = /i/i.test(m[2] ?? '');
  const bytes = Number(m[1]) * (iec ? 1000 ** (Math.log2(factor) / 10) : factor);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

const DURATION_RE = /^([0-9]+)(us|ms|s|m|h|d)?$/;
const DURATION_MS: Record<string, number> = { us: 0.001, ms: 1, '': 1000, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds in an fio time value (bare numbers are seconds, as in fio). */
export function parseDurationMs(text: string): number | undefined {
  const m = DURATION_RE.exec(text.trim());
  if (!m) return undefined;
  const ms = Number(m[1]) * (DURATION_MS[m[2] ?? ''] ?? NaN);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/** Returns the normalised value, or a sentence saying why it does not fit. */
export function checkParamValue(kind: ParamKind, raw: string, max = Number.MAX_SAFE_INTEGER): { value: string } | { problem: string } {
  const text = raw.trim();
  switch (kind) {
    case 'id':
      return /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/.test(text) && !text.includes('..')
        ? { value: text }
        : { problem: `${JSON.stringify(raw)} is not a valid id (letters, digits, '_', '-', '.')` };
    case 'size':
      return parseSizeBytes(text) !== undefined
        ? { value: text }
        : { problem: `${JSON.stringify(raw)} is not a size (a whole number with an optional unit k, m, g, t, e.g. 4k, 1m, 10g)` };
    case 'positiveInt':
      if (!/^[0-9]+$/.test(text) || !(Number(text) >= 1)) return { problem: `${JSON.stringify(raw)} is not a whole number of 1 or more` };
      return Number(text) <= max ? { value: String(Number(text)) } : { problem: `${text} is more than the largest accepted value, ${max}` };
    case 'rwMode':
      return (RW_MODES as readonly string[]).includes(text)
        ? { value: text }
        : { problem: `${JSON.stringify(raw)} is not an fio rw mode (one of ${RW_MODES.join(', ')})` };
    case 'bool01':
      return text === '0' || text === '1' ? { value: text } : { problem: `${JSON.stringify(raw)} must be 0 or 1` };
    case 'duration':
      return parseDurationMs(text) !== undefined
        ? { value: text }
        : { problem: `${JSON.stringify(raw)} is not a duration (a whole number with an optional unit us, ms, s, m, h, e.g. 30s)` };
  }
}
