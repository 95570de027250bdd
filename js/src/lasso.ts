// Lasso selection on flat coordinate arrays: which points a lasso polygon encloses, and how the
// lasso combines with the selection it modifies. The hit test reproduces regl-scatterplot's own
// (bounding box, then the non-zero winding rule with its half-open crossing test, in the same
// float64 arithmetic), so points on the lasso's boundary fall on the same side as they did there.

/** What a lasso does to the selection: shift adds, alt or ctrl removes, otherwise it replaces. */
export type LassoOp = "replace" | "add" | "remove";

/** Polygon edges are bucketed into at most this many horizontal bands. */
const MAX_BANDS = 1024;

/** The op of a lasso ended with these keys held; with none, `sticky` (the toolbar's toggle). */
export function lassoOp(keys: { shiftKey: boolean; altKey: boolean; ctrlKey: boolean }, sticky: LassoOp = "replace"): LassoOp {
  if (keys.shiftKey) return "add";
  return keys.altKey || keys.ctrlKey ? "remove" : sticky;
}

/**
 * Indices (increasing) of the points (`x[i]`, `y[i]`) inside `polygon`, given as flat
 * `x0, y0, x1, y1, …` in the points' coordinate space and closed implicitly. A polygon whose
 * bounding box has no area encloses nothing.
 */
export function pointsInPolygon(
  x: Float32Array,
  y: Float32Array,
  polygon: ArrayLike<number>,
): Uint32Array<ArrayBuffer> {
  const vertices = polygon.length >> 1;
  let xMin = Infinity;
  let xMax = -Infinity;
  let yMin = Infinity;
  let yMax = -Infinity;
  for (let v = 0; v < vertices; v++) {
    const px = polygon[2 * v];
    const py = polygon[2 * v + 1];
    if (px < xMin) xMin = px;
    if (px > xMax) xMax = px;
    if (py < yMin) yMin = py;
    if (py > yMax) yMax = py;
  }
  if (!(Number.isFinite(xMin) && Number.isFinite(yMin) && Number.isFinite(xMax) && Number.isFinite(yMax) && xMax > xMin && yMax > yMin)) {
    return new Uint32Array(0);
  }
  const bands = new EdgeBands(polygon, yMin, yMax);
  const { edges, start, edgeIndex } = bands;
  const hits = new Uint32Array(x.length);
  let count = 0;
  for (let i = 0; i < x.length; i++) {
    const px = x[i];
    const py = y[i];
    if (!(px >= xMin && px <= xMax && py >= yMin && py <= yMax)) continue;
    const band = bands.of(py);
    let winding = 0;
    for (let k = start[band]; k < start[band + 1]; k++) {
      const e = 4 * edgeIndex[k];
      const x1 = edges[e];
      const y1 = edges[e + 1];
      const x2 = edges[e + 2];
      const y2 = edges[e + 3];
      if (y1 <= py) {
        if (y2 > py && (x2 - x1) * (py - y1) - (px - x1) * (y2 - y1) > 0) winding++;
      } else if (y2 <= py && (x2 - x1) * (py - y1) - (px - x1) * (y2 - y1) < 0) {
        winding--;
      }
    }
    if (winding !== 0) hits[count++] = i;
  }
  return hits.slice(0, count);
}

/**
 * The polygon's non-horizontal edges, bucketed by the horizontal bands of its bounding box they
 * reach, so a point is tested against the edges of its band only. Each edge runs from a vertex to
 * the one before it, as regl-scatterplot walks them. The band of a y value is a monotone function
 * of it, so an edge whose y range holds a point's y is always in the point's band.
 */
class EdgeBands {
  /** x1, y1, x2, y2 of each edge. */
  readonly edges: Float64Array;
  /** Band b's edges are `edgeIndex[start[b]]` … `edgeIndex[start[b + 1] - 1]`. */
  readonly start: Uint32Array;
  readonly edgeIndex: Uint32Array;
  private readonly count: number;
  private readonly yMin: number;
  private readonly scale: number;

  constructor(polygon: ArrayLike<number>, yMin: number, yMax: number) {
    const vertices = polygon.length >> 1;
    this.count = Math.max(1, Math.min(MAX_BANDS, vertices));
    this.yMin = yMin;
    this.scale = this.count / (yMax - yMin);
    this.edges = new Float64Array(4 * vertices);
    let edgeCount = 0;
    for (let v = 0, previous = vertices - 1; v < vertices; previous = v++) {
      const y1 = polygon[2 * v + 1];
      const y2 = polygon[2 * previous + 1];
      if (y1 === y2) continue; // a horizontal edge is never crossed
      this.edges.set([polygon[2 * v], y1, polygon[2 * previous], y2], 4 * edgeCount++);
    }
    const first = new Uint32Array(edgeCount);
    const last = new Uint32Array(edgeCount);
    const sizes = new Uint32Array(this.count + 1);
    for (let e = 0; e < edgeCount; e++) {
      const y1 = this.edges[4 * e + 1];
      const y2 = this.edges[4 * e + 3];
      first[e] = this.of(Math.min(y1, y2));
      last[e] = this.of(Math.max(y1, y2));
      for (let b = first[e]; b <= last[e]; b++) sizes[b + 1]++;
    }
    this.start = new Uint32Array(this.count + 1);
    for (let b = 0; b < this.count; b++) this.start[b + 1] = this.start[b] + sizes[b + 1];
    this.edgeIndex = new Uint32Array(this.start[this.count]);
    const filled = this.start.slice(0, this.count);
    for (let e = 0; e < edgeCount; e++) {
      for (let b = first[e]; b <= last[e]; b++) this.edgeIndex[filled[b]++] = e;
    }
  }

  /** The band of a y value inside the bounding box. */
  of(y: number): number {
    return Math.min(this.count - 1, Math.floor((y - this.yMin) * this.scale));
  }
}

/**
 * The selection after a lasso: `current` and `lassoed` are sorted, de-duplicated indices, and so
 * is the result (a fresh array, or `lassoed` itself when the lasso replaces the selection).
 */
export function combineSelection(
  current: Uint32Array,
  lassoed: Uint32Array<ArrayBuffer>,
  op: LassoOp,
): Uint32Array<ArrayBuffer> {
  if (op === "replace") return lassoed;
  const out = new Uint32Array(op === "add" ? current.length + lassoed.length : current.length);
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < current.length && j < lassoed.length) {
    if (current[i] < lassoed[j]) out[n++] = current[i++];
    else if (current[i] > lassoed[j]) {
      if (op === "add") out[n++] = lassoed[j];
      j++;
    } else {
      if (op === "add") out[n++] = current[i];
      i++;
      j++;
    }
  }
  while (i < current.length) out[n++] = current[i++];
  if (op === "add") while (j < lassoed.length) out[n++] = lassoed[j++];
  return out.slice(0, n);
}
