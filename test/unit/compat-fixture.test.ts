import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COMPAT_SHARED, compatText, originalBigQueryFields, originalReportColumns, originalTemplateNames } from '../support/compat';

describe('the copy of compat.md the compatibility tests read', () => {
  // A clean clone has no ../shared: the copy is then all there is, and the check below is skipped.
  it.runIf(existsSync(COMPAT_SHARED))('is still the same as ../shared/compat.md', () => {
    expect(compatText()).toBe(compatText(COMPAT_SHARED));
  });

  it('yields the lists the tests compare against', () => {
    expect(originalTemplateNames()).toEqual(['BS', 'FILE_SIZE', 'IO_DEPTH', 'IO_TYPE', 'THREADS', 'NRFILES', 'DIRECT', 'TEST_DATA_DIR']);
    const columns = originalReportColumns();
    expect(columns[0]).toBe('Matrix ID');
    expect(columns).toContain('IOType|Jobs|FSize|BS|IOD|NrFiles|Direct');
    expect(columns.at(-1)).toBe('Iter');
    expect(columns).toHaveLength(34);
    const fields = originalBigQueryFields();
    expect(fields[0]).toEqual({ name: 'run_timestamp', type: 'TIMESTAMP' });
    expect(fields.at(-1)).toEqual({ name: 'peak_net_tx_mbs', type: 'FLOAT' });
    expect(fields).toHaveLength(43);
  });
});
