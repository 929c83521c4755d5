/**
 * Templates as other tools write them: the original orchestrator's (envsubst over `$NAME` and
 * `${NAME}`) and gcsfuse's own sample job files (perfmetrics/scripts/job_files), in their style.
 */

/** The original tool's style: `$NAME` and `${NAME}` of its eight names, fio's own `$` keywords beside them. */
export const ORIGINAL_STYLE_JOB_FILE = `; written for the original: envsubst '$BS $FILE_SIZE ...'
[global]
ioengine=psync
direct=$DIRECT
thread=1
group_reporting=1
filename_format=$jobname.$jobnum.$filenum
description=DIRECT io on BS blocks, $$ and all

[seq]
rw=$IO_TYPE
bs=\${BS}
iodepth=$IO_DEPTH
numjobs=$THREADS
nrfiles=\${NRFILES}
filesize=$FILE_SIZE
directory=$TEST_DATA_DIR
`;

/** The original tool's test CSV columns (with a test_id so the rows are named). */
export const ORIGINAL_STYLE_TEST_CSV = `test_id,io_type,num_jobs,file_size,block_size,io_depth,nr_files,direct
seq-read,read,2,256k,64k,1,2,0
seq-write,write,1,128k,4k,1,1,0
`;

/** gcsfuse's read-cache load test style: \${NUMJOBS}, \${NRFILES}, \${DIR}, \${READ_TYPE}. */
export const GCSFUSE_SAMPLE_JOB_FILE = `; -- nrfiles and rw come from the test row --
[global]
ioengine=psync
direct=0
invalidate=1
nrfiles=\${NRFILES}
thread=1
openfiles=1
group_reporting=1
numjobs=\${NUMJOBS}
filename_format=$jobname.$jobnum.$filenum

[Workload]
directory=\${DIR}
bs=\${BLOCK_SIZE}
filesize=\${FILESIZE}
rw=\${READ_TYPE}
`;
