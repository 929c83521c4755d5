/**
 * The two input formats gcsfuse-bench must accept unchanged, as users write them.
 */

/** The job file of the original tool's documentation (bare placeholders). */
export const SEED_JOB_FILE = `[global]
ioengine=libaio
direct=1
time_based
runtime=60s
group_reporting

[read-test]
rw=read
bs=BLOCK_SIZE
iodepth=IO_DEPTH
numjobs=NUM_JOBS
directory=MOUNT_POINT
filename=testfile
size=FILE_SIZE
`;

/** The test CSV of the original tool's documentation. */
export const SEED_TEST_CSV = `test_id,block_size,io_depth,num_jobs,file_size
1,4k,32,1,1g
2,1m,64,4,10g
3,128k,16,2,5g
`;

/** The second common format: no test id, more columns, \${...} placeholders. */
export const BRACED_TEST_CSV = `io_type,num_jobs,file_size,block_size,io_depth,nr_files,direct
read,1,1m,4k,1,1,0
randread,4,2g,1m,8,4,1
`;

export const BRACED_JOB_FILE = `[global]
ioengine=libaio
direct=\${DIRECT}
verify=0
invalidate=1
time_based=1
ramp_time=10s
runtime=30s
thread=1
openfiles=1
group_reporting=1
filename_format=$jobname.$jobnum.$filenum

[Workload]
rw=\${IO_TYPE}
bs=\${BLOCK_SIZE}
iodepth=\${IO_DEPTH}
numjobs=\${THREADS}
nrfiles=\${NRFILES}
filesize=\${FILE_SIZE}
directory=\${TEST_DATA_DIR}
`;
