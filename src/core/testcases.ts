import { parseCsvTable } from './csv';
import { InputError } from './errors';
import { COLUMNS, COLUMN_BY_NAME, checkParamValue } from './params';

/** One row of the test-cases CSV, values checked and normalised, keyed by column name. */
export interface TestCase {
  testId: string;
  /** 1-based data row in the CSV, kept so later errors can point back at it. */
  row: number;
  params: Record<string, string>;
}

export function parseTestCasesCsv(text: string, file: string): TestCase[] {
  const { header, headerLine, records } = parseCsvTable(text, file);
  for (const column of header) {
    if (!COLUMN_BY_NAME.has(column)) {
      throw new InputError(`unknown column "${column}"; known columns are ${COLUMNS.map((c) => c.column).join(', ')}`, {
        file,
        line: headerLine,
        column,
      });
    }
  }
  const seenIds = new Map<string, number>();
  return records.map(({ row, line, values }) => {
    const params: Record<string, string> = {};
    for (const column of header) {
      const spec = COLUMN_BY_NAME.get(column)!;
      const raw = values[column] ?? '';
      if (raw === '') throw new InputError('is empty', { file, row, line, column });
      const checked = checkParamValue(spec.kind, raw, spec.max);
      if ('problem' in checked) throw new InputError(checked.problem, { file, row, line, column });
      params[column] = checked.value;
    }
    // The second common format has no test_id: the row number stands in for it.
    const testId = params.test_id ?? String(row);
    const earlier = seenIds.get(testId);
    if (earlier !== undefined) {
      throw new InputError(`test id "${testId}" is used by row ${earlier} already`, { file, row, line, column: 'test_id' });
    }
    seenIds.set(testId, row);
    return { testId, row, params };
  });
}
