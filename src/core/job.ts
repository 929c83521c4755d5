import { checkFioJob, type FioOption } from './fio-policy';
import { checkSafeId } from './ids';
import { testDataDir, vmDataDir } from './layout';
import { placeholderValues, renderTemplate } from './template';

/** What a job is rendered for: one test case on one VM's mount. */
export interface JobTarget {
  testId: string;
  params: Readonly<Record<string, string>>;
  mountPoint: string;
  vm: string;
}

export interface RenderedJob {
  text: string;
  /** TEST_DATA_DIR: this test's folder, inside the VM's folder. */
  testDataDir: string;
  /** Every path of the job must stay inside this folder. */
  vmDataDir: string;
  options: FioOption[];
}

/**
 * Renders a job template for one test on one VM and checks it against the fio job policy.
 * The one place that knows the formula: `plan`/`run`/`start` call it with a stand-in mount
 * point, the agent with its real one.
 */
export function renderJob(template: string, file: string, t: JobTarget, allow?: ReadonlySet<string>): RenderedJob {
  checkSafeId(t.vm, 'VM name');
  checkSafeId(t.testId, 'test id');
  const dataDir = testDataDir(t.mountPoint, t.vm, t.testId);
  const root = vmDataDir(t.mountPoint, t.vm);
  const text = renderTemplate(
    template,
    placeholderValues(t.testId, t.params, { MOUNT_POINT: t.mountPoint, TEST_DATA_DIR: dataDir, VM_NAME: t.vm }),
    file,
  );
  const options = checkFioJob(text, { file, allowedRoot: root, cwd: dataDir, allow });
  return { text, testDataDir: dataDir, vmDataDir: root, options };
}

/** The mount point `plan` shows and checks jobs with; the agent's real one differs per VM. */
export const STAND_IN_MOUNT_POINT = '/mnt/gcsfuse-bench';
