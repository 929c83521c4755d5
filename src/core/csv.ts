import { parse } from 'csv-parse/sync';
import { InputError } from './errors';

export interface CsvRecord {
  /** 1-based data row (after the header). */
  row: number;
  /** 1-based line in the file where the record ends: its only line unless a quoted field spans lines. */
  line: number;
  values: Record<string, string>;
}

export interface CsvTable {
  header: string[];
  /** 1-based line of the header row (comment and blank lines may come before it). */
  headerLine: number;
  records: CsvRecord[];
}

/**
 * Parses a CSV with a header row. Blank lines and lines starting with '#' are skipped.
 * Every record must have exactly as many fields as the header; the error names the row.
 */
export function parseCsvTable(text: string, file: string): CsvTable {
  let raw: { record: string[]; info: { lines: number } }[];
  try {
    raw = parse(text, {
      info: true,
      skip_empty_lines: true,
      comment: '#',
      comment_no_infix: true,
      relax_column_count: true,
      trim: true,
      bom: true,
    }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (err) {
    const e = err as Error & { lines?: number };
    throw new InputError(`malformed CSV: ${e.message}`, { file, line: e.lines });
  }
  const first = raw[0];
  if (!first) throw new InputError('the file is empty: a header row and at least one data row are needed', { file });
  const header = first.record.map((h) => h.trim().toLowerCase());
  const seen = new Set<string>();
  header.forEach((h, i) => {
    if (h === '') throw new InputError(`header field ${i + 1} is empty`, { file, line: first.info.lines });
    if (seen.has(h)) throw new InputError(`column "${h}" appears twice in the header`, { file, line: first.info.lines });
    seen.add(h);
  });
  const records = raw.slice(1).map(({ record, info }, i): CsvRecord => {
    const row = i + 1;
    if (record.length !== header.length) {
      const missing = header.slice(record.length);
      throw new InputError(
        record.length < header.length
          ? `has ${record.length} fields but the header has ${header.length}: missing ${missing.map((m) => `"${m}"`).join(', ')}`
          : `has ${record.length} fields but the header has ${header.length}`,
        { file, row, line: info.lines },
      );
    }
    return { row, line: info.lines, values: Object.fromEntries(header.map((h, j) => [h, record[j] ?? ''])) };
  });
  if (records.length === 0) throw new InputError('has a header but no data rows', { file });
  return { header, headerLine: first.info.lines, records };
}
