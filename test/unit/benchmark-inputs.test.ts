import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalArtifactStore } from '../../src/artifacts/local';
import { buildRequest } from '../../src/client/request';
import { InputError } from '../../src/core/errors';
import { layout } from '../../src/core/layout';
import { checkInputsMatch, findInputConflict, inputObjects } from '../../src/shared/benchmark-inputs';

const dir = mkdtempSync(path.join(os.tmpdir(), 'gcsfuse-bench-inputs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const csv = path.join(dir, 'tests.csv');
const job = path.join(dir, 'job.fio');
writeFileSync(csv, 'test_id,block_size,io_depth,num_jobs,file_size\n1,4k,32,1,1g\n');
writeFileSync(job, '[j]\nrw=read\nbs=${BS}\niodepth=${IO_DEPTH}\nnumjobs=${THREADS}\nsize=${FILE_SIZE}\ndirectory=${TEST_DATA_DIR}\n');

async function request() {
  return (await buildRequest({ testCsv: csv, fioJobFile: job, vms: 'vm-1', benchmarkId: 'inputs-1' }, { fioCheck: false })).request;
}

describe('stored benchmark inputs (shared by the CLI and the distribute activity)', () => {
  it('lists the inputs with config.json last', async () => {
    const keys = inputObjects(await request()).map(([key]) => key);
    expect(keys.at(-1)).toBe(layout.config('inputs-1'));
    expect(keys).toContain(layout.jobTemplate('inputs-1'));
  });

  it('finds no conflict for a new id or the same inputs, and names the stored file that differs otherwise', async () => {
    const store = new LocalArtifactStore(path.join(dir, 'store'));
    const req = await request();
    expect(await findInputConflict(store, req)).toBeUndefined();
    for (const [key, content] of inputObjects(req)) await store.putOnce(key, content);
    expect(await findInputConflict(store, req)).toBeUndefined();
    await expect(checkInputsMatch(store, req)).resolves.toBeUndefined();

    const changed = { ...req, jobFile: { ...req.jobFile, content: req.jobFile.content + '# changed\n' } };
    expect(await findInputConflict(store, changed)).toBe(store.urlOf(layout.jobTemplate('inputs-1')));
    const err = await checkInputsMatch(store, changed).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).location).toEqual({ flag: '--benchmark-id' });
    expect((err as InputError).message).toContain('already exists with different inputs');
  });
});
