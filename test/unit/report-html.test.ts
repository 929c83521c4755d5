import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MountConfig } from '../../src/core/configs';
import { escapeHtml, renderHtmlReport } from '../../src/core/html-report';
import type { MatrixEntry } from '../../src/core/matrix';
import { entryReport, parseIteration, type EntryReport } from '../../src/core/report';
import { runFio } from './helpers/fio';
import { checkWellFormed } from './helpers/well-formed';

const EVIL = '<script>alert("x")</script>';
const baseline: MountConfig = { label: 'baseline', commit: 'v2.4.0', mountArgs: '--implicit-dirs', mountArgv: [] };
const evil: MountConfig = { label: EVIL, commit: 'a&b"c', mountArgs: "--o='<x>'", mountArgv: [] };
const entryOf = (matrixId: number, testId: string, config: MountConfig): MatrixEntry => ({
  matrixId,
  testId,
  testRow: 1,
  config,
  params: { block_size: '4k', io_type: 'randrw', note: 'x<y' },
});

describe('report.html', () => {
  let dir: string;
  let reports: EntryReport[];
  let html: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gcsfuse-bench-html-'));
    const job = (sub: string, extra: string[] = []) => [
      '--name=t',
      `--directory=${path.join(dir, sub)}`,
      '--size=1m',
      '--bs=4k',
      '--rw=randrw',
      '--ioengine=psync',
      '--time_based',
      '--runtime=200ms',
      '--output-format=json+',
      ...extra,
    ];
    for (const sub of ['a', 'b']) await mkdir(path.join(dir, sub));
    const runs = await Promise.all([
      runFio(dir, 'a1.json', job('a')),
      runFio(dir, 'a2.json', job('a')),
      runFio(dir, 'b1.json', job('b', ['--rate=2m'])),
      runFio(dir, 'b2.json', job('b', ['--rate=2m'])),
    ]);
    const [a1, a2, b1, b2] = runs.map((r) => parseIteration(r.output));
    reports = [
      entryReport(entryOf(1, 'rand<1>&"q"', baseline), 'vm-1', 'passed', [a1!, a2!]),
      entryReport(entryOf(2, 'seq', baseline), 'vm-2', 'failed', []),
      entryReport(entryOf(3, 'rand<1>&"q"', evil), 'vm-1', 'passed', [b1!, b2!]),
      entryReport(entryOf(4, 'seq', evil), null, 'missing', []),
    ];
    html = renderHtmlReport('bench<&>', reports);
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is a well-formed page', () => {
    const names = checkWellFormed(html);
    expect(names.slice(0, 5)).toEqual(['html', 'head', 'meta', 'meta', 'title']);
    expect(names).toContain('table');
  });

  /** The HTML of each chart of a kind, in page order. */
  const figures = (kind: string): string[] =>
    html
      .split(`<figure class="chart" data-chart="${kind}">`)
      .slice(1)
      .map((part) => part.slice(0, part.indexOf('<figcaption>')));

  it('has a bandwidth chart and a latency CDF for each test with results, none for a test without', () => {
    expect(figures('bandwidth')).toHaveLength(1);
    expect(figures('latency-cdf')).toHaveLength(1);
    // Plot's own SVG (class plot-...) is in each.
    for (const f of [...figures('bandwidth'), ...figures('latency-cdf')]) expect(f).toMatch(/<svg [^>]*class="plot-[0-9a-f]+"/);
    expect(html).toContain('No entry of this test passed: nothing to chart.');
    // No fio logs in these outputs: said so, no time-series chart.
    expect(figures('timeseries')).toHaveLength(0);
    expect(html).toContain('No fio logs were stored for this test: no time series.');
  });

  it('draws a bar per config and direction with its number and each iteration as a dot; no interval with 2 iterations, the table says why', () => {
    const bandwidth = figures('bandwidth')[0]!;
    // Plot writes the title as text: '<' and '&' escaped (a '"' in text needs no escaping).
    expect(bandwidth).toContain('<h2>Bandwidth of test rand&lt;1&gt;&amp;"q"</h2>');
    // 2 configs x read and write, in the direction colours.
    const bars = bandwidth.match(/<rect fill="#(1f77b4|ff7f0e)" [^>]*><title>/g) ?? [];
    expect(bars).toHaveLength(4);
    // Numbers on the bars: the means of the table, to the same digits.
    const numbers = [...bandwidth.matchAll(/<g [^>]*class="value"[^>]*>(.*?)<\/g>/g)].flatMap((m) =>
      [...m[1]!.matchAll(/>([0-9.]+)<\/text>/g)].map((x) => x[1]),
    );
    const means = [reports[0]!, reports[2]!].flatMap((r) => [r.read!, r.write!].map((d) => (d.bwBytesPerSec.mean / 2 ** 20).toFixed(2)));
    expect(numbers).toEqual(means);
    // Two iterations each: no interval (not available, with the reason in the table).
    expect(bandwidth).not.toContain('class="err"');
    expect(html).toContain('<td>n/a (2 iterations: an interval needs 3 or more)</td>');
    expect(bandwidth.match(/<circle /g)).toHaveLength(8);
    const outliers = reports.reduce(
      (s, r) => s + (r.read?.bwBytesPerSec.outlierIterations.length ?? 0) + (r.write?.bwBytesPerSec.outlierIterations.length ?? 0),
      0,
    );
    expect(bandwidth.match(/<circle fill="#d62728"/g) ?? []).toHaveLength(outliers);
    expect(html).toMatch(/95% confidence interval of the geometric mean \(log-scale Student t; none below 3 iterations\)/);
  });

  it('draws the latency CDF of each config and direction from the pooled histogram, on a log axis', () => {
    const cdf = figures('latency-cdf')[0]!;
    expect(cdf).toContain('completion latency, ms (log)');
    // One line per config and direction.
    const lines = cdf.slice(cdf.indexOf('aria-label="line"'));
    expect(lines.match(/<path /g)).toHaveLength(4);
    // The dashed percentile guides are labelled.
    for (const p of ['p50', 'p90', 'p99', 'p99.9']) expect(cdf).toContain(`>${p}</text>`);
  });

  it('shows the numbers of the report in its table', () => {
    const read = reports[0]!.read!;
    expect(html).toContain(`<td>${(read.bwBytesPerSec.mean / 2 ** 20).toFixed(2)}</td>`);
    expect(html).toContain(`<td>${(read.clatPercentilesNs['p99.9']! / 1e6).toFixed(3)}</td>`);
    expect(html).toContain('<td>failed</td>');
    expect(html).toContain('<td>missing</td>');
  });

  it('escapes every text from inputs: a label with <script> stays text', () => {
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain(escapeHtml(EVIL));
    expect(escapeHtml(EVIL)).toBe('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toContain('a&amp;b&quot;c');
    expect(html).toContain('note=<code>x&lt;y</code>');
    expect(html).toContain('<code>bench&lt;&amp;&gt;</code>');
    expect(html).not.toContain('rand<1>');
  });

  it('opens offline: no script, no external resource', () => {
    expect(html).not.toMatch(/\ssrc=/i);
    expect(html).not.toMatch(/@import|url\(/i);
    for (const m of html.matchAll(/href="([^"]*)"/g)) expect(m[1]).toMatch(/^#/);
    // No URL at all: inline SVG in HTML needs no namespace.
    expect([...html.matchAll(/https?:\/\/[^"\s<]+/g)].map((m) => m[0])).toEqual([]);
  });

  it('renders a time series with resource samples but no bandwidth points (Plot must not fall back to a canvas legend)', () => {
    const withSeries: EntryReport = {
      ...reports[0]!,
      timeSeries: {
        iterations: [
          {
            iteration: 1,
            intervalMs: 1000,
            directions: {},
            steady: {},
            resources: { tMs: [0, 1000], gcsfuseCpuPercent: [5, 7], gcsfuseRssBytes: [1 << 20, 2 << 20] },
          },
        ],
        summary: {},
      },
    };
    const page = renderHtmlReport('series', [withSeries]);
    checkWellFormed(page);
    expect(page).toContain('data-chart="gcsfuse-cpu"');
    expect(page).toContain('data-chart="gcsfuse-memory"');
  });

  it('renders an empty benchmark', () => {
    const empty = renderHtmlReport('nothing', []);
    checkWellFormed(empty);
    expect(empty).not.toContain('<svg');
  });
});

describe('report.html of a large run', () => {
  it('draws charts for the first MAX_CHARTED_TESTS tests only, bounds the overview and still lists every entry', async () => {
    const { readFileSync } = await import('node:fs');
    const { MAX_CHARTED_TESTS, MAX_OVERVIEW_BARS } = await import('../../src/core/html-report');
    const out = parseIteration(readFileSync(path.join(import.meta.dirname, '../fixtures/fio/number-ios-1000.json'), 'utf8'));
    const tests = Math.max(MAX_CHARTED_TESTS + 5, MAX_OVERVIEW_BARS);
    const reports = Array.from({ length: tests * 2 }, (_, i) =>
      entryReport(entryOf(i + 1, `t${i >> 1}`, i % 2 ? baseline : evil), 'vm-1', 'passed', [out, out, out]),
    );
    const html = renderHtmlReport('large', reports);
    checkWellFormed(html);
    expect(html.match(/data-chart="bandwidth"/g)).toHaveLength(MAX_CHARTED_TESTS);
    expect(html.match(/data-chart="latency-cdf"/g)).toHaveLength(MAX_CHARTED_TESTS);
    expect(html.match(/Charts are drawn for the first/g)).toHaveLength(tests - MAX_CHARTED_TESTS);
    const overview = html.slice(html.indexOf('data-chart="overview"'), html.indexOf('</figure>', html.indexOf('data-chart="overview"')));
    expect(overview.match(/<rect fill="[^"]+" [^>]*><title>/g)).toHaveLength(MAX_OVERVIEW_BARS);
    expect(html).toContain(`The first ${MAX_OVERVIEW_BARS} of ${tests * 2} bars`);
    // Every entry is in the overview table sorted by test, and in its test's table.
    expect(html.slice(html.indexOf('id="overview-by-test"')).match(/<tr><td><a href="#test-/g)).toHaveLength(tests * 2);
  });
});
