/**
 * Entry ids in one activity result (~7 bytes each): the distribute result of a larger benchmark
 * leaves them out, and the workflow reads them in pages (the `shares` activity), each well under
 * Temporal's 2 MB payload limit.
 */
export const SHARE_PAGE_ENTRIES = 100_000;

/** VMs in pages of at most pageEntries entries (a VM with more is a page of its own). */
export function sharePages(vms: readonly { vm: string; entries: number }[], pageEntries = SHARE_PAGE_ENTRIES): string[][] {
  const pages: string[][] = [];
  let count = 0;
  for (const { vm, entries } of vms) {
    if (pages.length === 0 || count + entries > pageEntries) {
      pages.push([]);
      count = 0;
    }
    pages[pages.length - 1]!.push(vm);
    count += entries;
  }
  return pages;
}
