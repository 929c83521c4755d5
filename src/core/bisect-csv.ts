/** The CLI side of a bisect's inputs: kept out of core/bisect.ts, which the workflow bundle imports (csv-parse needs Node's Buffer). */
import { parseCsvTable } from './csv';
import { InputError } from './errors';

/**
 * The test-cases CSV reduced to the header and the row of `testId`, as CSV: each round
 * benchmarks that test only. Names the file and the ids it has when the test is not in it.
 */
export function oneTestCsv(text: string, file: string, testId: string): string {
  const { header, records } = parseCsvTable(text, file);
  // Without a test_id column the row number is the id (see parseTestCasesCsv).
  const matching = records.filter((r) => (header.includes('test_id') ? r.values.test_id : String(r.row)) === testId);
  if (matching.length === 0) {
    const ids = records.map((r) => (header.includes('test_id') ? r.values.test_id : String(r.row)));
    throw new InputError(
      `test id "${testId}" is not in ${file} (its tests: ${ids.slice(0, 20).join(', ')}${ids.length > 20 ? ', ...' : ''})`,
      { flag: '--test-id', file },
    );
  }
  const quote = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const row = matching[0]!;
  // Keep the test's id when the CSV had none: its row is 1 in the reduced file.
  const cols = header.includes('test_id') ? header : ['test_id', ...header];
  const values: Record<string, string> = { ...row.values, test_id: testId };
  return `${cols.map(quote).join(',')}\n${cols.map((c) => quote(values[c] ?? '')).join(',')}\n`;
}
