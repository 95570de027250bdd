// Sets of row positions as sorted, unique Uint32Arrays (no per-element objects: selections reach
// millions of positions).

/** The positions sorted and de-duplicated; a Uint32Array that already is comes back as it is. */
export function sortedPositions(positions: ArrayLike<number>): Uint32Array {
  if (positions instanceof Uint32Array && increasing(positions)) return positions;
  const sorted = Uint32Array.from(positions).sort();
  let kept = 0;
  for (let i = 0; i < sorted.length; i++) {
    if (i === 0 || sorted[i] !== sorted[kept - 1]) sorted[kept++] = sorted[i];
  }
  return kept === sorted.length ? sorted : sorted.slice(0, kept);
}

function increasing(values: Uint32Array): boolean {
  for (let i = 1; i < values.length; i++) if (values[i] <= values[i - 1]) return false;
  return true;
}

/** Whether two position lists hold the same set (order and duplicates ignored). */
export function samePositions(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  const left = sortedPositions(a);
  const right = sortedPositions(b);
  if (left.length !== right.length) return false;
  for (let i = 0; i < left.length; i++) if (left[i] !== right[i]) return false;
  return true;
}

/** Sorted unique `positions` with `position` added, or taken out when it is there. */
export function toggled(positions: Uint32Array, position: number): Uint32Array {
  let lo = 0;
  let hi = positions.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (positions[mid] < position) lo = mid + 1;
    else hi = mid;
  }
  if (positions[lo] === position) {
    const out = new Uint32Array(positions.length - 1);
    out.set(positions.subarray(0, lo));
    out.set(positions.subarray(lo + 1), lo);
    return out;
  }
  const out = new Uint32Array(positions.length + 1);
  out.set(positions.subarray(0, lo));
  out[lo] = position;
  out.set(positions.subarray(lo), lo + 1);
  return out;
}
