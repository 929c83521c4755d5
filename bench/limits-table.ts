/**
 * Prints the fan-out's worst-case arithmetic (src/workflows/fanout.ts) as a markdown table:
 * history events and pending children of each workflow kind, against Temporal's default
 * limits, for fleets up to 10,000 VMs x 1,000 entries. `npx tsx bench/limits-table.ts`.
 */
import { SHARE_PAGE_ENTRIES } from '../src/core/share-pages';
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
const mib = (bytes: number) => `${bytes / 2 ** 20} MiB`;
/** `limit.historySize.warn` and `.error`. */
const HISTORY_WARN_BYTES = 10 * 2 ** 20;
const HISTORY_ERROR_BYTES = 50 * 2 ** 20;
/**
 * The largest payload that grows with the fleet or the entries, measured on the JSON of
 * realistic values: distribute's result (its ids only up to SHARE_PAGE_ENTRIES entries), a page
 * of the distribution (the `shares` activity), a group's input (its VMs' entry ids), the
 * aggregate input (the owner table of src/core/owners.ts when every entry ran where planned;
 * re-routed entries add ~7 bytes each) and the progress query's answer (one run per VM).
 */
function largestPayload(vms: number, entriesPerVm: number, vmsPerGroup: number): { bytes: number; what: string } {
  const total = vms * entriesPerVm;
  const idBytes = String(total).length + 1;
  const vmName = `bench-vm-${String(vms).padStart(5, '0')}`;
  const paged = total > SHARE_PAGE_ENTRIES;
  const json = (v: unknown) => Buffer.byteLength(JSON.stringify(v)) + 1;
  const run = {
    vm: vmName,
    workflowId: `bench-vm-${vmName}`,
    status: 'running',
    total: entriesPerVm,
    passed: entriesPerVm,
    failed: 0,
    rerun: 0,
  };
  const candidates = [
    {
      bytes: vms * json({ vm: vmName, entries: entriesPerVm, estimatedMs: 1e7 }) + (paged ? 0 : total * idBytes),
      what: 'distribute result',
    },
    { bytes: paged ? (SHARE_PAGE_ENTRIES + entriesPerVm) * idBytes : 0, what: 'distribution page' },
    {
      bytes: vmsPerGroup * (entriesPerVm * idBytes + json({ vm: vmName, workflowId: run.workflowId, matrixIds: [] })),
      what: 'group input',
    },
    { bytes: json({ ids: `1-${total}`, status: `${total}*p`, elsewhere: {} }), what: 'aggregate input' },
    { bytes: vms * json(run), what: 'progress query' },
  ];
  return candidates.reduce((a, b) => (b.bytes > a.bytes ? b : a));
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(bytes < 1e6 ? 2 : 1)} MB`;
const rows = SIZES.map(([vms, entries]) => {
  const b = fanoutBudget(vms, entries);
  const flat = fanoutBudget(vms, entries, { flatMaxVms: Number.MAX_SAFE_INTEGER });
  const worst = Math.max(b.benchmarkEvents, b.groupEvents, b.vmRunEvents);
  const payload = largestPayload(vms, entries, b.vmsPerGroup);
  // The benchmark's history holds every entry id twice at the least: the distribution (or its pages) and the groups' inputs.
  const historyBytes = 2 * vms * entries * (String(vms * entries).length + 1);
  return [
    `${n(vms)} x ${n(entries)}`,
    b.groups ? `${n(b.groups)} x ${b.vmsPerGroup}` : 'flat',
    n(b.benchmarkEvents),
    b.groups ? n(b.groupEvents) : '-',
    `${n(b.vmRunEvents)} (${b.vmRunsPerVm} run${b.vmRunsPerVm > 1 ? 's' : ''})`,
    n(b.benchmarkPendingChildren),
    b.groups ? n(b.groupPendingChildren) : '-',
    worst < TEMPORAL_LIMITS.historyEventsWarn && b.benchmarkPendingChildren <= TEMPORAL_LIMITS.pendingChildren ? 'yes' : '**no**',
    `${payload.bytes < BLOB_LIMIT_BYTES ? mb(payload.bytes) : `**${mb(payload.bytes)}**`} (${payload.what})`,
    historyBytes < HISTORY_WARN_BYTES
      ? mb(historyBytes)
      : historyBytes < HISTORY_ERROR_BYTES
        ? `${mb(historyBytes)} (warned)`
        : `**${mb(historyBytes)}**`,
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
  'largest payload (limit 2 MiB)',
  'benchmark history size, ids alone (warn 10 MiB, limit 50 MiB)',
  'one level, no groups',
];
console.log(`| ${header.join(' | ')} |`);
console.log(`| ${header.map(() => '---').join(' | ')} |`);
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
console.log(
  `\nLimits (server defaults): ${n(TEMPORAL_LIMITS.historyEventsWarn)} events (warning; ${n(TEMPORAL_LIMITS.historyEventsError)} fails the run), ` +
    `${n(TEMPORAL_LIMITS.pendingChildren)} pending children, ${n(TEMPORAL_LIMITS.pendingActivities)} pending activities, ` +
    `${n(TEMPORAL_LIMITS.pendingSignals)} pending signals per workflow, ${mib(BLOB_LIMIT_BYTES)} per payload.`,
);
