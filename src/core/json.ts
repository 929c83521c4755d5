/** How every JSON artifact is written: indented, one trailing newline; write-once stores compare these bytes, so there is one spelling. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}
