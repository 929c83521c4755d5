import { expect } from 'vitest';
/** A well-formedness check for the offline HTML pages (report.html, compare --html). */

const VOID = new Set(['meta', 'br', 'hr', 'img', 'input', 'link', 'col', 'wbr']);

/**
 * Checks that a page is well-formed: every tag closed in order (HTML void elements and
 * self-closing tags excepted), attributes quoted, no raw '<' or unknown '&' in text. Returns
 * the element names in document order.
 */
export function checkWellFormed(html: string): string[] {
  const names: string[] = [];
  const stack: string[] = [];
  let i = 0;
  const text = (t: string) => {
    expect(t, `raw '<' in text near ${JSON.stringify(html.slice(i - 40, i + 40))}`).not.toContain('<');
    for (const m of t.matchAll(/&[^;\s]*;?/g)) expect(m[0], 'entity').toMatch(/^&(amp|lt|gt|quot|#39|#\d+);$/);
  };
  const doctype = /^<!DOCTYPE html>\n?/.exec(html);
  expect(doctype, 'doctype').not.toBeNull();
  i = doctype![0].length;
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    if (lt < 0) {
      text(html.slice(i));
      break;
    }
    text(html.slice(i, lt));
    const tag = /^<(\/?)([a-zA-Z][a-zA-Z0-9]*)((?:\s+[a-zA-Z][a-zA-Z0-9:-]*="[^"<]*")*)\s*(\/?)>/.exec(html.slice(lt));
    expect(tag, `malformed tag at ${JSON.stringify(html.slice(lt, lt + 80))}`).not.toBeNull();
    const [whole, closing, name, attrs, selfClosing] = tag!;
    for (const m of attrs!.matchAll(/="([^"]*)"/g)) text(m[1]!);
    if (closing) {
      expect(stack.pop(), `</${name}> closes the open element`).toBe(name);
    } else {
      names.push(name!);
      if (!selfClosing && !VOID.has(name!)) stack.push(name!);
    }
    i = lt + whole.length;
    // Raw-text elements: the style sheet must not contain '<'.
    if (name === 'style' && !closing) {
      const end = html.indexOf('</style>', i);
      expect(html.slice(i, end)).not.toContain('<');
      i = end;
    }
  }
  expect(stack, 'unclosed elements').toEqual([]);
  return names;
}
