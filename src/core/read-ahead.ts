/**
 * Maps items through an async function with up to `ahead` calls in flight, yielding the
 * results in input order. Unlike a plain concurrency limiter (p-limit and the like, which start
 * every call as a slot frees up and keep all results until they are consumed), at most `ahead`
 * results exist at a time, so memory stays bounded however slowly the consumer goes.
 */
export async function* mapAhead<T, R>(items: Iterable<T>, ahead: number, fn: (item: T) => Promise<R>): AsyncGenerator<R> {
  if (!Number.isInteger(ahead) || ahead < 1) throw new RangeError(`read-ahead must be a positive integer, got ${ahead}`);
  const window: Promise<R>[] = [];
  const it = items[Symbol.iterator]();
  let done = false;
  const fill = () => {
    while (!done && window.length < ahead) {
      const next = it.next();
      if (next.done) done = true;
      else {
        const p = fn(next.value);
        // Rejections are observed when their turn comes; until then they must not count as unhandled.
        p.catch(() => undefined);
        window.push(p);
      }
    }
  };
  fill();
  while (window.length > 0) {
    const result = await window.shift()!;
    fill();
    yield result;
  }
}
