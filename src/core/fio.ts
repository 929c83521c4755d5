/**
 * Reading fio's JSON output (--output-format=json or json+). Units are fio's own:
 * bw_bytes in bytes/s, runtime in ms, every *_ns latency in nanoseconds. We never use
 * `bw` (KiB/s) so no unit conversion can go wrong.
 */

export type Direction = 'read' | 'write' | 'trim';
export const DIRECTIONS: readonly Direction[] = ['read', 'write', 'trim'];
/**
 * fio's result sections: the directions, and `mixed`, which fio writes instead of them with
 * unified_rw_reporting=1 (and besides them with =both): every direction's I/O pooled.
 */
export type ReportedDirection = Direction | 'mixed';
export const REPORTED_DIRECTIONS: readonly ReportedDirection[] = [...DIRECTIONS, 'mixed'];

/**
 * A latency histogram, as fio's json+ `bins` (bucket value in ns -> sample count): bucket values
 * ascending and distinct, counts beside them. Two number arrays rather than a Map: tens of
 * thousands of histograms are read, merged and scanned per run, and arrays cost a fraction of a
 * Map's time and memory. Never mutated once built (merges make new ones).
 */
export interface LatencyBins {
  ns: readonly number[];
  counts: readonly number[];
}

export const emptyBins = (): LatencyBins => ({ ns: [], counts: [] });

/** Bins from [bucket ns, count] pairs in any order; a repeated bucket keeps its last count (as a Map would). */
export function binsFromEntries(entries: Iterable<readonly [number, number]>): LatencyBins {
  const byNs = new Map<number, number>();
  for (const [k, n] of entries) byNs.set(k, n);
  const sorted = [...byNs].sort((a, b) => a[0] - b[0]);
  return { ns: sorted.map((e) => e[0]), counts: sorted.map((e) => e[1]) };
}

/**
 * fio's json+ `bins`: its object (keys are ns as text), or the flat [ns, count, ...] array
 * extractFioJson makes of it (withFlatBins). fio writes them ascending; anything else is sorted.
 */
export function binsFromRecord(record: Readonly<Record<string, number>> | readonly number[] | undefined): LatencyBins {
  if (!record) return emptyBins();
  if (Array.isArray(record)) return binsFromFlat(record as readonly number[]);
  const obj = record as Readonly<Record<string, number>>;
  const keys = Object.keys(obj);
  const ns = new Array<number>(keys.length);
  const counts = new Array<number>(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const v = Number(keys[i]);
    // Not strictly ascending (never seen from fio): the general path, which also settles repeats.
    if (i > 0 && !(v > ns[i - 1]!)) return binsFromEntries(keys.map((k) => [Number(k), obj[k]!] as const));
    ns[i] = v;
    counts[i] = obj[keys[i]!]!;
  }
  return { ns, counts };
}

function binsFromFlat(flat: readonly number[]): LatencyBins {
  const n = flat.length >> 1;
  const ns = new Array<number>(n);
  const counts = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const v = flat[2 * i]!;
    if (i > 0 && !(v > ns[i - 1]!)) {
      // As JSON.parse would have kept a repeated key: its last count.
      return binsFromEntries(Array.from({ length: n }, (_, j) => [flat[2 * j]!, flat[2 * j + 1]!] as const));
    }
    ns[i] = v;
    counts[i] = flat[2 * i + 1]!;
  }
  return { ns, counts };
}

/** [bucket ns, count] pairs, ascending. */
export function binEntries(bins: LatencyBins): [number, number][] {
  return bins.ns.map((v, i) => [v, bins.counts[i]!]);
}

/** The count of one bucket (0 when absent). */
export function binCount(bins: LatencyBins, ns: number): number {
  const i = bins.ns.indexOf(ns);
  return i < 0 ? 0 : bins.counts[i]!;
}

/** Sum of two histograms: the union of their buckets, counts added. */
function addBins(a: LatencyBins, b: LatencyBins): LatencyBins {
  if (b.ns.length === 0) return a;
  if (a.ns.length === 0) return b;
  const ns: number[] = [];
  const counts: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.ns.length || j < b.ns.length) {
    const x = i < a.ns.length ? a.ns[i]! : Infinity;
    const y = j < b.ns.length ? b.ns[j]! : Infinity;
    if (x === y) {
      ns.push(x);
      counts.push(a.counts[i++]! + b.counts[j++]!);
    } else if (x < y) {
      ns.push(x);
      counts.push(a.counts[i++]!);
    } else {
      ns.push(y);
      counts.push(b.counts[j++]!);
    }
  }
  return { ns, counts };
}

export interface LatencySummary {
  count: number;
  minNs: number;
  maxNs: number;
  meanNs: number;
  bins: LatencyBins;
}

export interface DirectionResult {
  ioBytes: number;
  bwBytesPerSec: number;
  iops: number;
  runtimeMs: number;
  totalIos: number;
  /** Completion latency; merged over jobs. */
  clat: LatencySummary;
}

/** The jobs of one fio group (fio's `groupid`: a `stonewall` or `new_group` starts a new one). */
export interface FioGroupResult {
  groupId: number;
  jobCount: number;
  /** Number of jobs that reported an error (fio's per-job `error`, an errno); non-zero means a job failed. */
  errorCount: number;
  read: DirectionResult;
  write: DirectionResult;
  trim: DirectionResult;
  mixed: DirectionResult;
}

export interface FioIterationResult extends Omit<FioGroupResult, 'groupId'> {
  fioVersion: string;
  /**
   * Each group on its own, ascending groupid (one element for a job file without stonewall or
   * new_group). The top-level figures pool all groups as if they had run one after another (see
   * mergeGroups); the report keeps each group a result of its own.
   */
  groups: FioGroupResult[];
}

interface FioLat {
  min?: number;
  max?: number;
  mean?: number;
  N?: number;
  /** fio's object (ns as text -> count), or the same as [ns, count, ns, count, ...] (extractFioJson). */
  bins?: Record<string, number> | number[];
}
interface FioDir {
  io_bytes?: number;
  bw_bytes?: number;
  iops?: number;
  runtime?: number;
  total_ios?: number;
  clat_ns?: FioLat;
}
interface FioJob {
  groupid?: number;
  error?: number;
  read?: FioDir;
  write?: FioDir;
  trim?: FioDir;
  mixed?: FioDir;
}
export interface FioJson {
  'fio version'?: string;
  jobs?: FioJob[];
}

export class FioOutputError extends Error {
  override readonly name = 'FioOutputError';
}

/** How fio starts each JSON result object (the final one and every --status-interval snapshot). */
const FIO_OBJECT_START = /^\{\s*"fio version"/;

/** A '{' at the start of a line other than the first (JavaScript's line terminators, as ^ with the m flag sees them). */
const OTHER_OBJECT_START = /[\n\r\u2028\u2029]\{/;

const named = (source: string | undefined, message: string) => (source ? `${source}: ${message}` : message);

/**
 * Finds fio's JSON in an output file. fio may print warnings before it (and text after
 * it), and with --status-interval it writes one object per interval: the last one is the
 * final result. In the usual file (one object and nothing else) the json+ histograms come back
 * as flat [ns, count, ...] arrays (withFlatBins); otherwise as fio's objects. When that last object is cut off (fio killed mid-write, a truncated copy),
 * the earlier ones are interim snapshots, not the result: that is an error, never a fallback.
 * `source` (the file) names the output in errors.
 */
export function extractFioJson(text: string, source?: string): FioJson {
  // The usual file: one object from the first character and no other line starting with '{'
  // (what ^ means with the m flag). The search below would find just that one and parse it whole.
  if (text.charCodeAt(0) === 0x7b && !OTHER_OBJECT_START.test(text)) {
    try {
      const parsed = JSON.parse(withFlatBins(text)) as FioJson;
      if (Array.isArray(parsed.jobs)) return parsed;
    } catch {
      // not one complete object: the search below says what it is
    }
  }
  const starts = [...text.matchAll(/^\{/gm)].map((m) => m.index!);
  let found: FioJson | undefined;
  let cutOffAfterFound = false;
  for (let i = 0; i < starts.length; i++) {
    const chunk = text.slice(starts[i], starts[i + 1] ?? text.length);
    const parsed = parseObjectAt(chunk);
    if (parsed) {
      found = parsed;
      cutOffAfterFound = false;
    } else if (found && FIO_OBJECT_START.test(chunk)) {
      cutOffAfterFound = true;
    }
  }
  if (!found) throw new FioOutputError(named(source, 'no complete fio JSON result found in the output'));
  if (cutOffAfterFound) {
    throw new FioOutputError(
      named(
        source,
        "fio's final JSON result is cut off (the output ends inside it); the complete objects before it are --status-interval snapshots, not the result",
      ),
    );
  }
  return found;
}

/**
 * A json+ `bins` object whose keys are all plain whole numbers, as fio writes it: `"bins" : {
 * "1024" : 3, "2048" : 5 }`. A '"bins"' with unescaped quotes followed by ':' cannot be inside a
 * JSON string, so every match is a key; the content pattern admits only valid JSON pairs.
 */
const BINS_OBJECT = /"bins"([ \t\n\r]*):([ \t\n\r]*)\{([^{}]*)\}/g;
const JSON_WS = '[ \\t\\n\\r]*';
const WHOLE_KEY = '"(?:0|[1-9][0-9]*)"';
const JSON_NUMBER = '-?(?:0|[1-9][0-9]*)(?:\\.[0-9]+)?(?:[eE][+-]?[0-9]+)?';
const BIN_PAIR = `${JSON_WS}${WHOLE_KEY}${JSON_WS}:${JSON_WS}${JSON_NUMBER}${JSON_WS}`;
const BINS_CONTENT = new RegExp(`^${BIN_PAIR}(?:,${BIN_PAIR})*$`);
const BIN_KEY = /"([0-9]+)"([ \t\n\r]*):/g;

/**
 * The text with every json+ histogram in fio's plain form as a flat [ns, count, ...] array
 * instead of an object: the same numbers (a whole-number key parses to the same double as
 * Number(key)), without JSON.parse making hundreds of keys per histogram that are then turned
 * into strings and back, which is slow and, through V8's number-string cache, leaves garbage in
 * the old generation that grows a worker's heap by tens of MB over a large aggregation. Only
 * the usual file is rewritten (see extractFioJson); other histograms stay objects.
 */
function withFlatBins(text: string): string {
  return text.replace(BINS_OBJECT, (whole, before: string, after: string, content: string) =>
    BINS_CONTENT.test(content) ? `"bins"${before}:${after}[${content.replace(BIN_KEY, '$1$2,')}]` : whole,
  );
}

/**
 * extractFioJson of a file's bytes, which it may change: the usual file's histograms are turned
 * into flat arrays in place (as withFlatBins does, byte for byte of the same length: '{' and '}'
 * become '[' and ']', a key's quotes spaces, its ':' a ','), which costs a scan of the histograms
 * instead of three regular expressions over the whole text and a copy of it. If the result is
 * not one complete fio object the bytes are put back and extractFioJson decides.
 */
export function extractFioJsonFromBytes(buf: Buffer, source?: string): FioJson {
  if (buf[0] === 0x7b && !OTHER_OBJECT_START_BYTES.some((b) => buf.includes(b))) {
    const changed: number[] = [];
    flattenBinsInPlace(buf, changed);
    try {
      const parsed = JSON.parse(buf.toString('utf8')) as FioJson;
      if (Array.isArray(parsed.jobs)) return parsed;
    } catch {
      // not one complete object: extractFioJson says what it is
    }
    for (let i = 0; i < changed.length; i += 2) buf[changed[i]!] = changed[i + 1]!;
  }
  return extractFioJson(buf.toString('utf8'), source);
}

/** OTHER_OBJECT_START in UTF-8. */
const OTHER_OBJECT_START_BYTES = ['\n{', '\r{', '\u2028{', '\u2029{'].map((t) => Buffer.from(t, 'utf8'));
const BINS_KEY = Buffer.from('"bins"', 'latin1');
const QUOTE = 0x22;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN = 0x7b;
const CLOSE = 0x7d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const SPACE = 0x20;
const isWs = (c: number | undefined) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
const isDigit = (c: number | undefined) => c !== undefined && c >= ZERO && c <= NINE;

/** Every `"bins" : { "<whole number>" : <number>, ... }` of buf as an array, in place; `changed` gets [position, old byte] pairs. */
function flattenBinsInPlace(buf: Buffer, changed: number[]): void {
  let from = 0;
  for (;;) {
    const at = buf.indexOf(BINS_KEY, from);
    if (at < 0) return;
    from = at + BINS_KEY.length;
    let i = from;
    while (isWs(buf[i])) i++;
    if (buf[i] !== COLON) continue;
    i++;
    while (isWs(buf[i])) i++;
    if (buf[i] !== OPEN) continue;
    const open = i++;
    const edits: number[] = [open];
    let close = -1;
    for (;;) {
      while (isWs(buf[i])) i++;
      // "<whole number>"
      if (buf[i] !== QUOTE) break;
      edits.push(i++);
      if (buf[i] === ZERO) i++;
      else if (isDigit(buf[i])) while (isDigit(buf[i])) i++;
      else break;
      if (buf[i] !== QUOTE) break;
      edits.push(i++);
      while (isWs(buf[i])) i++;
      if (buf[i] !== COLON) break;
      edits.push(i++);
      while (isWs(buf[i])) i++;
      // a JSON number
      if (buf[i] === MINUS) i++;
      if (buf[i] === ZERO) i++;
      else if (isDigit(buf[i])) while (isDigit(buf[i])) i++;
      else break;
      if (buf[i] === DOT) {
        i++;
        if (!isDigit(buf[i])) break;
        while (isDigit(buf[i])) i++;
      }
      if (buf[i] === 0x65 || buf[i] === 0x45) {
        i++;
        if (buf[i] === PLUS || buf[i] === MINUS) i++;
        if (!isDigit(buf[i])) break;
        while (isDigit(buf[i])) i++;
      }
      while (isWs(buf[i])) i++;
      if (buf[i] === COMMA) {
        i++;
        continue;
      }
      if (buf[i] === CLOSE) close = i;
      break;
    }
    if (close < 0) continue;
    for (const e of edits) changed.push(e, buf[e]!);
    changed.push(close, CLOSE);
    buf[open] = 0x5b; // [
    buf[close] = 0x5d; // ]
    for (let k = 1; k < edits.length; k += 3) {
      buf[edits[k]!] = SPACE;
      buf[edits[k + 1]!] = SPACE;
      buf[edits[k + 2]!] = COMMA;
    }
    from = close + 1;
  }
}

/**
 * The fio result at the start of a chunk, or undefined for a partial object (fio killed
 * mid-write) or a non-JSON line starting with '{'. Text may follow the object (fio's
 * normal report with --output-format=normal,json+, or a message printed at exit), so
 * after the whole chunk each cut after a '}' in column 0 is tried.
 */
function parseObjectAt(chunk: string): FioJson | undefined {
  const candidates = [chunk, ...[...chunk.matchAll(/^\}/gm)].map((m) => chunk.slice(0, m.index! + 1))];
  for (const candidate of candidates) {
    try {
      const parsed = JSON.parse(candidate) as FioJson;
      if (Array.isArray(parsed.jobs)) return parsed;
    } catch {
      // not this cut
    }
  }
  return undefined;
}

export function emptyLatency(): LatencySummary {
  return { count: 0, minNs: 0, maxNs: 0, meanNs: 0, bins: emptyBins() };
}

/** Pools latency summaries as if their samples had been recorded together. */
export function mergeLatency(parts: readonly LatencySummary[]): LatencySummary {
  const out = emptyLatency();
  let weighted = 0;
  for (const p of parts) {
    if (p.count === 0) continue;
    out.minNs = out.count === 0 ? p.minNs : Math.min(out.minNs, p.minNs);
    out.maxNs = Math.max(out.maxNs, p.maxNs);
    out.count += p.count;
    weighted += p.meanNs * p.count;
    out.bins = addBins(out.bins, p.bins);
  }
  out.meanNs = out.count ? weighted / out.count : 0;
  return out;
}

function latencyOf(l: FioLat | undefined): LatencySummary {
  const count = l?.N ?? 0;
  if (!l || count === 0) return emptyLatency();
  return { count, minNs: l.min ?? 0, maxNs: l.max ?? 0, meanNs: l.mean ?? 0, bins: binsFromRecord(l.bins) };
}

function sumDirection(jobs: readonly FioJob[], dir: ReportedDirection): DirectionResult {
  const parts = jobs.map((j) => j[dir] ?? {});
  const ioBytes = parts.reduce((s, p) => s + (p.io_bytes ?? 0), 0);
  const totalIos = parts.reduce((s, p) => s + (p.total_ios ?? 0), 0);
  // Jobs of one group run concurrently; group_reporting sums their bytes and I/Os and
  // divides by the longest runtime (fio's sum_thread_stats). Summing per-job bw_bytes
  // instead overstates the total whenever jobs finish at different times.
  const runtimeMs = parts.reduce((m, p) => Math.max(m, p.runtime ?? 0), 0);
  return directionOf(ioBytes, totalIos, runtimeMs, mergeLatency(parts.map((p) => latencyOf(p.clat_ns))));
}

/** A direction's figures from its totals: bandwidth and IOPS over the runtime, as fio rounds them. */
function directionOf(ioBytes: number, totalIos: number, runtimeMs: number, clat: DirectionResult['clat']): DirectionResult {
  return {
    ioBytes,
    bwBytesPerSec: runtimeMs ? Math.floor((ioBytes * 1000) / runtimeMs) : 0,
    iops: runtimeMs ? (totalIos * 1000) / runtimeMs : 0,
    runtimeMs,
    totalIos,
    clat,
  };
}

function groupResult(groupId: number, jobs: readonly FioJob[]): FioGroupResult {
  return {
    groupId,
    jobCount: jobs.length,
    errorCount: jobs.reduce((s, j) => s + (j.error ? 1 : 0), 0),
    read: sumDirection(jobs, 'read'),
    write: sumDirection(jobs, 'write'),
    trim: sumDirection(jobs, 'trim'),
    mixed: sumDirection(jobs, 'mixed'),
  };
}

/** Jobs by fio's groupid, ascending (an output without groupid is one group, 0). */
export function jobsByGroup<J extends { groupid?: number }>(jobs: readonly J[]): Map<number, J[]> {
  const out = new Map<number, J[]>();
  for (const j of [...jobs].sort((a, b) => (a.groupid ?? 0) - (b.groupid ?? 0))) {
    const id = j.groupid ?? 0;
    out.set(id, [...(out.get(id) ?? []), j]);
  }
  return out;
}

function mergeDirection(parts: readonly DirectionResult[]): DirectionResult {
  const ioBytes = parts.reduce((s, p) => s + p.ioBytes, 0);
  const totalIos = parts.reduce((s, p) => s + p.totalIos, 0);
  const runtimeMs = parts.reduce((s, p) => s + p.runtimeMs, 0);
  return directionOf(ioBytes, totalIos, runtimeMs, mergeLatency(parts.map((p) => p.clat)));
}

/**
 * Several groups pooled into one result, as if they had run one after another (stonewall, the
 * usual reason for groups): bytes and I/Os summed over the sum of the groups' runtimes, latency
 * histograms summed. One group is returned as it is.
 */
export function mergeGroups(groups: readonly FioGroupResult[]): Omit<FioGroupResult, 'groupId'> {
  if (groups.length === 1) {
    const { groupId: _, ...only } = groups[0]!;
    return only;
  }
  const dir = (d: ReportedDirection) => mergeDirection(groups.map((g) => g[d]));
  return {
    jobCount: groups.reduce((s, g) => s + g.jobCount, 0),
    errorCount: groups.reduce((s, g) => s + g.errorCount, 0),
    read: dir('read'),
    write: dir('write'),
    trim: dir('trim'),
    mixed: dir('mixed'),
  };
}

/** Reads an fio output (json or json+); `source` (the file) names it in errors. */
export function parseFioOutput(text: string, source?: string): FioIterationResult {
  return fioResultOf(extractFioJson(text, source), source);
}

/** The result of fio JSON already extracted by extractFioJson (so a caller needing the raw jobs too parses once). */
export function fioResultOf(json: FioJson, source?: string): FioIterationResult {
  const jobs = json.jobs ?? [];
  if (jobs.length === 0) throw new FioOutputError(named(source, 'fio output has no jobs'));
  const groups = [...jobsByGroup(jobs)].map(([id, js]) => groupResult(id, js));
  return { fioVersion: json['fio version'] ?? 'unknown', ...mergeGroups(groups), groups };
}

/**
 * Percentile of a histogram the way fio computes it (stat.c, calc_clat_percentiles): the
 * first bucket (in ascending order) whose running count reaches fioPercentileMinCount of all
 * samples. A Map (bucket ns -> count) is taken too.
 */
export function percentileFromBins(
  bins: LatencyBins | ReadonlyMap<number, number>,
  p: number,
  precision: LongDoublePrecision = X87_LONG_DOUBLE_BITS,
): number | undefined {
  return percentilesFromBins(bins instanceof Map ? binsFromEntries(bins) : (bins as LatencyBins), [p], precision)[0];
}

/** Several percentiles of one histogram (percentileFromBins each), in one pass per percentile and one total. */
export function percentilesFromBins(
  bins: LatencyBins,
  ps: readonly number[],
  precision: LongDoublePrecision = X87_LONG_DOUBLE_BITS,
): (number | undefined)[] {
  const { ns, counts } = bins;
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (total === 0) return ps.map(() => undefined);
  return ps.map((p) => {
    const needed = percentileMinCount(p, total, precision);
    let seen = 0;
    for (let i = 0; i < ns.length; i++) {
      seen += counts[i]!;
      if (seen >= needed) return ns[i];
    }
    return ns[ns.length - 1];
  });
}

/**
 * fioPercentileMinCount as a number, without big integers when the answer is certain: the
 * double p * nr / 100 is within a few parts in 10^16 of fio's long double threshold, so unless
 * it lies within 1e-9 (relative) of a whole number both round up to the same count. Only those
 * (p = 50 of an even count, say) take the exact computation.
 */
function percentileMinCount(p: number, nr: number, precision: LongDoublePrecision): number {
  if (p > 0 && p <= 100 && Number.isSafeInteger(nr) && nr >= 1) {
    const x = (p * nr) / 100;
    const up = Math.ceil(x);
    const margin = 1e-9 * x + 1e-9;
    if (up - x > margin && x - (up - 1) > margin) return up;
  }
  return Number(fioPercentileMinCount(p, nr, precision));
}

// ---------------------------------------------------------------- fio's long double comparison

/**
 * Significand bits of C's long double on x86-64 (x87 extended precision), where fio's results
 * were checked against real fio. (aarch64's long double has 113; fio there is not verified.)
 */
export type LongDoublePrecision = 64;
export const X87_LONG_DOUBLE_BITS: LongDoublePrecision = 64;

/** A binary floating-point value: significand * 2^exponent, exactly. */
interface BinaryFloat {
  significand: bigint;
  exponent: number;
}

const bitLength = (v: bigint): number => v.toString(2).length;

/** A finite positive double as significand * 2^exponent, exactly. */
function exactDouble(x: number): BinaryFloat {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  return biased === 0 ? { significand: fraction, exponent: -1074 } : { significand: fraction | (1n << 52n), exponent: biased - 1075 };
}

/**
 * num / den * 2^exponent (num, den > 0) rounded to `bits` significant bits, to nearest with
 * ties to even: what one IEEE operation in that precision returns (long double's exponent
 * range is wide enough that nothing here is subnormal).
 */
function roundToPrecision(num: bigint, den: bigint, exponent: number, bits: number): BinaryFloat {
  let shift = bits - (bitLength(num) - bitLength(den));
  const quotient = (s: number) => (s >= 0 ? (num << BigInt(s)) / den : num / (den << BigInt(-s)));
  let q = quotient(shift);
  while (q >= 1n << BigInt(bits)) q = quotient(--shift);
  while (q < 1n << BigInt(bits - 1)) q = quotient(++shift);
  const scaledNum = shift >= 0 ? num << BigInt(shift) : num;
  const scaledDen = shift >= 0 ? den : den << BigInt(-shift);
  const twiceRemainder = 2n * (scaledNum - q * scaledDen);
  if (twiceRemainder > scaledDen || (twiceRemainder === scaledDen && (q & 1n) === 1n)) q += 1n;
  if (q === 1n << BigInt(bits)) {
    q >>= 1n;
    shift -= 1;
  }
  return { significand: q, exponent: exponent - shift };
}

/**
 * The smallest running count `sum` at which fio takes a bucket as the p-th percentile of nr
 * samples. fio's source (stat.c) says `sum >= (long double) p / 100.0 * nr`, but fio is built
 * with -ffast-math, and the compiler reassociates it: the fio 3.33 binary computes
 * `p * (nr * (1 / 100.0L))`, each product rounded to long double (read from its machine code:
 * fildll nr, fldt 0.01L, fmulp, then fldl p, fmulp, fcomi). Reproduced with exact integers, so
 * e.g. p = 99.9 over nr = 1000 needs all 1000 samples, p = 30 over 100 needs 30 (the literal
 * long double expression would need 31), exactly as real fio outputs show.
 */
export function fioPercentileMinCount(p: number, nr: number, precision: LongDoublePrecision = X87_LONG_DOUBLE_BITS): bigint {
  if (!(p > 0 && p <= 100) || !Number.isSafeInteger(nr) || nr < 1) throw new RangeError(`percentile ${p} of ${nr} samples`);
  const hundredth = roundToPrecision(1n, 100n, 0, precision);
  const scaledCount = roundToPrecision(hundredth.significand * BigInt(nr), 1n, hundredth.exponent, precision);
  const pd = exactDouble(p);
  const threshold = roundToPrecision(scaledCount.significand * pd.significand, 1n, scaledCount.exponent + pd.exponent, precision);
  if (threshold.exponent >= 0) return threshold.significand << BigInt(threshold.exponent);
  const denominator = 1n << BigInt(-threshold.exponent);
  return (threshold.significand + denominator - 1n) / denominator;
}

/** The directions an fio rw mode moves data in (`randrw:8` counts as randrw; fio's default is read). */
export function directionsOfRw(rw: string | undefined): Direction[] {
  const mode = (rw ?? 'read').split(':')[0]!.trim();
  switch (mode) {
    case 'write':
    case 'randwrite':
      return ['write'];
    case 'trim':
    case 'randtrim':
      return ['trim'];
    case 'rw':
    case 'readwrite':
    case 'randrw':
      return ['read', 'write'];
    case 'trimwrite':
    case 'randtrimwrite':
      return ['trim', 'write'];
    default:
      return ['read'];
  }
}

/**
 * Why an iteration's output is no result: a job reported an error, or a direction its rw mode
 * asks for moved no bytes (e.g. bs=1M on a 128k file). An empty answer means it is usable.
 */
export function unusableOutputReason(r: FioIterationResult, rw: string | undefined): string | undefined {
  if (r.errorCount > 0) return `${r.errorCount} of ${r.jobCount} fio jobs reported an error`;
  // unified_rw_reporting=1: fio reports every direction pooled as mixed, so only that can be checked.
  if (r.read.totalIos + r.write.totalIos + r.trim.totalIos === 0 && r.mixed.totalIos > 0) return undefined;
  const idle = directionsOfRw(rw).filter((d) => r[d].ioBytes === 0);
  if (idle.length > 0)
    return `fio moved no bytes in the ${idle.join(' and ')} direction${idle.length > 1 ? 's' : ''} that rw=${rw ?? 'read'} asks for`;
  return undefined;
}
