/**
 * Who holds each entry's results, in a form whose size does not grow ~60 bytes per entry: the
 * benchmark workflow hands it to the aggregate activity, and a payload over Temporal's 2 MB
 * limit (100,000 entries as a list of objects) would fail the run. Most entries ran on the VM
 * whose job spec defines them, so only the others are named; the statuses are one character
 * each. 100,000 entries that all passed where planned: ~20 bytes.
 */

/** Which VM holds an entry's results, as the workflow recorded it. */
export interface EntryOwner {
  matrixId: number;
  vm: string | null;
  status: 'passed' | 'failed' | 'missing';
}

export interface OwnerTable {
  /** Matrix ids, ascending, as ranges ("1-2500,2502"). */
  ids: string;
  /** One character per id, in that order: p passed, f failed, m missing; runs of one character as "<count>*<char>". */
  status: string;
  /** Entries whose results are not on the VM of their job spec: by VM, and (`""`) those on none. */
  elsewhere: Record<string, number[]>;
}

const STATUS_CHAR = { passed: 'p', failed: 'f', missing: 'm' } as const;
const CHAR_STATUS: Record<string, EntryOwner['status']> = { p: 'passed', f: 'failed', m: 'missing' };

/** `specVmOf(matrixId)`: the VM whose job spec defines the entry. */
export function encodeOwners(owners: readonly EntryOwner[], specVmOf: (matrixId: number) => string | undefined): OwnerTable {
  const sorted = [...owners].sort((a, b) => a.matrixId - b.matrixId);
  const elsewhere: Record<string, number[]> = {};
  for (const o of sorted) {
    if (o.vm !== null && o.vm === specVmOf(o.matrixId)) continue;
    (elsewhere[o.vm ?? ''] ??= []).push(o.matrixId);
  }
  return { ids: toRanges(sorted.map((o) => o.matrixId)), status: runLength(sorted.map((o) => STATUS_CHAR[o.status])), elsewhere };
}

/** The owners back, ascending by matrix id; throws on a malformed table (it came through a payload). */
export function decodeOwners(table: OwnerTable, specVmOf: (matrixId: number) => string | undefined): EntryOwner[] {
  const ids = fromRanges(table.ids);
  const statuses = fromRunLength(table.status);
  if (statuses.length !== ids.length) throw new Error(`owner table: ${ids.length} ids but ${statuses.length} statuses`);
  const vmOf = new Map<number, string | null>();
  for (const [vm, moved] of Object.entries(table.elsewhere)) for (const id of moved) vmOf.set(id, vm === '' ? null : vm);
  return ids.map((matrixId, i) => {
    const status = CHAR_STATUS[statuses[i]!];
    if (!status) throw new Error(`owner table: unknown status ${JSON.stringify(statuses[i])} of entry ${matrixId}`);
    const vm = vmOf.has(matrixId) ? vmOf.get(matrixId)! : specVmOf(matrixId);
    if (vm === undefined) throw new Error(`owner table: entry ${matrixId} is in no job spec`);
    return { matrixId, vm, status };
  });
}

/** Ascending integers as "a-b,c" ranges. */
export function toRanges(sorted: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

export function fromRanges(ranges: string): number[] {
  if (ranges === '') return [];
  const out: number[] = [];
  for (const part of ranges.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`owner table: bad id range ${JSON.stringify(part)}`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from || (out.length > 0 && from <= out[out.length - 1]!)) throw new Error(`owner table: ranges not ascending at ${part}`);
    for (let id = from; id <= to; id++) out.push(id);
  }
  return out;
}

function runLength(chars: readonly string[]): string {
  const parts: string[] = [];
  for (let i = 0; i < chars.length;) {
    let j = i;
    while (j + 1 < chars.length && chars[j + 1] === chars[i]) j++;
    const n = j - i + 1;
    parts.push(n > 3 ? `${n}*${chars[i]}` : chars[i]!.repeat(n));
    i = j + 1;
  }
  return parts.join('');
}

function fromRunLength(encoded: string): string[] {
  const out: string[] = [];
  const re = /(\d+)\*(.)|([^\d*])/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while ((m = re.exec(encoded))) {
    at = re.lastIndex;
    if (m[3] !== undefined) out.push(m[3]);
    else for (let n = Number(m[1]); n > 0; n--) out.push(m[2]!);
  }
  if (at !== encoded.length) throw new Error(`owner table: bad status string at ${at}`);
  return out;
}
