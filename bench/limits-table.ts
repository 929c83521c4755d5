/**
 * Prints the fan-out's worst-case arithmetic (src/workflows/fanout.ts) as a markdown table:
 * history events and pending children of each workflow kind, against Temporal's default
 * limits, for fleets up to 10,000 VMs x 1,000 entries. `npx tsx bench/limits-table.ts`.
 */
import { fanoutBudget, TEMPORAL_LIMITS } from '../src/workflows/fanout';

const SIZES: [number, number][] = [
  [10, 10],
  [64, 100],
  [65, 100],
  [1_000, 10],
  [1_000, 100],
  [10_000, 100],
  [10_000, 1_000],
];

const n = (v: number) => v.toLocaleString('en-US');
/** Temporal's default `limit.blobSize.error`: one payload (an activity's input or result, a workflow's input). */
const BLOB_LIMIT_BYTES = 2 * 1024 * 1024;
/**
 * The largest payload grows with the entries: the benchmark hands aggregate every entry's owner
 * (and distribute hands it every entry's id). Measured on the JSON of a realistic owner.
 */
const ownerBytes = (vms: number) =>
  Buffer.byteLength(JSON.stringify({ matrixId: vms * 100, vm: `bench-vm-${String(vms).padStart(5, '0')}`, status: 'passed' })) + 1;
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(bytes < 1e6 ? 2 : 1)} MB`;
const rows = SIZES.map(([vms, entries]) => {
  const b = fanoutBudget(vms, entries);
  const flat = fanoutBudget(vms, entries, { flatMaxVms: Number.MAX_SAFE_INTEGER });
  const worst = Math.max(b.benchmarkEvents, b.groupEvents, b.vmRunEvents);
  const payload = vms * entries * ownerBytes(vms);
  return [
    `${n(vms)} x ${n(entries)}`,
    b.groups ? `${n(b.groups)} x ${b.vmsPerGroup}` : 'flat',
    n(b.benchmarkEvents),
    b.groups ? n(b.groupEvents) : '-',
    `${n(b.vmRunEvents)} (${b.vmRunsPerVm} run${b.vmRunsPerVm > 1 ? 's' : ''})`,
    n(b.benchmarkPendingChildren),
    b.groups ? n(b.groupPendingChildren) : '-',
    worst < TEMPORAL_LIMITS.historyEventsWarn && b.benchmarkPendingChildren <= TEMPORAL_LIMITS.pendingChildren ? 'yes' : '**no**',
    payload < BLOB_LIMIT_BYTES ? mb(payload) : `**${mb(payload)}**`,
    `${n(flat.benchmarkEvents)} events, ${n(flat.benchmarkPendingChildren)} children`,
  ];
});

const header = [
  'VMs x entries per VM',
  'groups',
  'benchmark events',
  'group events',
  'VM run events (runs)',
  'benchmark pending children',
  'group pending children',
  'events and children under limits',
  'aggregate input (limit 2 MB)',
  'one level, no groups',
];
console.log(`| ${header.join(' | ')} |`);
console.log(`| ${header.map(() => '---').join(' | ')} |`);
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
console.log(
  `\nLimits (server defaults): ${n(TEMPORAL_LIMITS.historyEventsWarn)} events (warning; ${n(TEMPORAL_LIMITS.historyEventsError)} fails the run), ` +
    `${n(TEMPORAL_LIMITS.pendingChildren)} pending children, ${n(TEMPORAL_LIMITS.pendingActivities)} pending activities, ` +
    `${n(TEMPORAL_LIMITS.pendingSignals)} pending signals per workflow, ${mb(BLOB_LIMIT_BYTES)} per payload.`,
);
