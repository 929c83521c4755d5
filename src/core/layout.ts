/** The file names of inputs as stored, whatever they were called on the user's disk. */
export const STORED_INPUT_NAMES = { testCases: 'test-cases.csv', configs: 'configs.csv', jobFile: 'jobfile.fio' } as const;

/**
 * Object keys of the artifact layout, relative to the artifact root (a local folder or
 * gs://bucket). Ids are checked safe before they get here, so no key leaves its folder.
 */
export const layout = {
  benchmark: (id: string) => `${id}`,
  config: (id: string) => `${id}/config.json`,
  testCases: (id: string) => `${id}/${STORED_INPUT_NAMES.testCases}`,
  configs: (id: string) => `${id}/${STORED_INPUT_NAMES.configs}`,
  jobTemplate: (id: string) => `${id}/${STORED_INPUT_NAMES.jobFile}`,
  /** The VM names the first attempt resolved; a resumed run keeps them. */
  fleet: (id: string) => `${id}/fleet.json`,
  jobSpec: (id: string, vm: string) => `${id}/jobs/${vm}.json`,
  jobsPrefix: (id: string) => `${id}/jobs/`,
  manifest: (id: string, vm: string) => `${id}/results/${vm}/manifest.json`,
  testDir: (id: string, vm: string, matrixId: number) => `${id}/results/${vm}/test-${matrixId}`,
  renderedJob: (id: string, vm: string, matrixId: number) => `${id}/results/${vm}/test-${matrixId}/job.fio`,
  fioOutput: (id: string, vm: string, matrixId: number, iteration: number) =>
    `${id}/results/${vm}/test-${matrixId}/iteration-${iteration}.fio.json`,
  fioLog: (id: string, vm: string, matrixId: number, iteration: number) =>
    `${id}/results/${vm}/test-${matrixId}/iteration-${iteration}.stderr.log`,
  /** Resource samples (gcsfuse and system CPU, memory, page cache, network) taken while fio ran. */
  resources: (id: string, vm: string, matrixId: number, iteration: number) =>
    `${id}/results/${vm}/test-${matrixId}/iteration-${iteration}.resources.json`,
  /** fio's bandwidth/IOPS/clat logs of one iteration summed over jobs (core/timeseries.ts), set by the agent. */
  timeSeries: (id: string, vm: string, matrixId: number, iteration: number) =>
    `${id}/results/${vm}/test-${matrixId}/iteration-${iteration}.timeseries.json`,
  /** fio's own log files of one iteration, verbatim (bounded: core/timeseries.ts FIO_RAW_LOGS_MAX_BYTES). */
  fioLogs: (id: string, vm: string, matrixId: number, iteration: number) =>
    `${id}/results/${vm}/test-${matrixId}/iteration-${iteration}.fio-logs.json`,
  /** What is needed to reproduce an entry's numbers: versions, machine, mount args, job hash. */
  entryMetadata: (id: string, vm: string, matrixId: number) => `${id}/results/${vm}/test-${matrixId}/metadata.json`,
  /** A mount log of one iteration, e.g. iteration-1.gcsfuse-1.log. */
  mountLog: (id: string, vm: string, matrixId: number, iteration: number, name: string) =>
    `${id}/results/${vm}/test-${matrixId}/iteration-${iteration}.${name}`,
  report: (id: string, name: string) => `${id}/report/${name}`,
} as const;

/**
 * Test data on the mount. Every VM works under its own folder, so VMs that mount one test-data
 * bucket never touch each other's files (the original tool did the same with `<mount>/<vm>/...`):
 * `<mount>/gcsfuse-bench-data/<vm>/<test_id>`. A job's paths must stay inside its VM's folder.
 */
export const TEST_DATA_PREFIX = 'gcsfuse-bench-data';
export const vmDataDir = (mountPoint: string, vm: string): string => `${mountPoint.replace(/\/+$/, '')}/${TEST_DATA_PREFIX}/${vm}`;
export const testDataDir = (mountPoint: string, vm: string, testId: string): string => `${vmDataDir(mountPoint, vm)}/${testId}`;
