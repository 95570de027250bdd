// Binary trait values <-> typed arrays. ipywidgets delivers bytes traits as DataView (or
// ArrayBuffer / typed arrays from other hosts); these helpers accept any of them.

export type Binary = DataView | ArrayBuffer | ArrayBufferView | null | undefined;

/** The raw bytes of a binary trait value (empty for null/undefined). */
export function asBytes(value: Binary): Uint8Array {
  if (value == null) return new Uint8Array(0);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  throw new TypeError(`expected binary data, got ${typeof value}`);
}

/** Copy `bytes` into a fresh, aligned buffer when a typed view of `width` bytes needs it. */
function aligned(bytes: Uint8Array, width: number): ArrayBufferLike {
  if (bytes.byteLength % width !== 0) {
    throw new RangeError(`${bytes.byteLength} bytes is not a whole number of ${width}-byte values`);
  }
  if (bytes.byteOffset % width === 0) return bytes.buffer;
  return bytes.slice().buffer;
}

export function asFloat32(value: Binary): Float32Array {
  const bytes = asBytes(value);
  const buffer = aligned(bytes, 4);
  const offset = buffer === bytes.buffer ? bytes.byteOffset : 0;
  return new Float32Array(buffer, offset, bytes.byteLength / 4);
}

export function asUint32(value: Binary): Uint32Array {
  const bytes = asBytes(value);
  const buffer = aligned(bytes, 4);
  const offset = buffer === bytes.buffer ? bytes.byteOffset : 0;
  return new Uint32Array(buffer, offset, bytes.byteLength / 4);
}

/** Split interleaved x,y float32 coordinates into two columns. */
export function splitXY(interleaved: Float32Array): {
  x: Float32Array<ArrayBuffer>;
  y: Float32Array<ArrayBuffer>;
} {
  if (interleaved.length % 2 !== 0) {
    throw new RangeError(`interleaved coordinates need an even length, got ${interleaved.length}`);
  }
  const n = interleaved.length / 2;
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = interleaved[2 * i];
    y[i] = interleaved[2 * i + 1];
  }
  return { x, y };
}

/**
 * The indices as a sorted, de-duplicated Uint32Array (typed-array sort: no per-element objects).
 * A Uint32Array that already is (the `_selection` wire format) is returned as it is.
 */
export function sortedIndices(indices: ArrayLike<number> | Iterable<number>): Uint32Array {
  if (indices instanceof Uint32Array && increasing(indices)) return indices;
  const sorted = Uint32Array.from(indices as ArrayLike<number>).sort();
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

/** Sorted, de-duplicated uint32 indices as a DataView (the `_selection` trait's wire format). */
export function encodeIndices(indices: ArrayLike<number> | Iterable<number>): DataView {
  const sorted = sortedIndices(indices);
  return new DataView(sorted.buffer, sorted.byteOffset, sorted.byteLength);
}

/** Whether two index lists hold the same set of indices (order and duplicates ignored). */
export function sameIndexSet(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  const left = sortedIndices(a);
  const right = sortedIndices(b);
  if (left.length !== right.length) return false;
  for (let i = 0; i < left.length; i++) if (left[i] !== right[i]) return false;
  return true;
}
