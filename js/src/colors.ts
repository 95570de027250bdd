// Color maps, and the color code per position that regl-scatterplot colors categorically
// ("valueA" indexing a color list): from the uint8 `_color` trait (protocol.ts), or from the label
// codes the page holds when coloring by label.

import { COLOR_BINS, type ColorMeta, UNLABELLED } from "./protocol";

export const DEFAULT_POINT_COLOR = "#3b75af";
export const MISSING_COLOR = "#a0a0a0";
/** Color of unlabelled points and of labels outside the classes, when coloring by label. */
export const UNLABELLED_COLOR = "#c8c8c8";
export const OTHER_LABEL_COLOR = "#7f7f7f";

// matplotlib's viridis sampled at 10 evenly spaced points.
const VIRIDIS_ANCHORS = [
  "#440154", "#482878", "#3e4a89", "#31688e", "#26828e",
  "#1f9e89", "#35b779", "#6dcd59", "#b4de2c", "#fde725",
];

// Tableau 10 followed by its lighter companions (tab20's second halves).
export const PALETTE = [
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
  "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5",
  "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
];

function hexToRgb(hex: string): [number, number, number] {
  const v = Number.parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

function rgbToHex([r, g, b]: [number, number, number]): string {
  return `#${((1 << 24) | (r << 16) | (g << 8) | b).toString(16).slice(1)}`;
}

/** `steps` colors of viridis from dark (0) to yellow (1), linearly interpolated. */
export function viridis(steps: number): string[] {
  const anchors = VIRIDIS_ANCHORS.map(hexToRgb);
  const colors: string[] = [];
  for (let i = 0; i < steps; i++) {
    const t = steps === 1 ? 0 : (i / (steps - 1)) * (anchors.length - 1);
    const lo = Math.min(Math.floor(t), anchors.length - 2);
    const f = t - lo;
    const mix = anchors[lo].map((c, j) => Math.round(c + (anchors[lo + 1][j] - c) * f));
    colors.push(rgbToHex(mix as [number, number, number]));
  }
  return colors;
}

/** Color of category `i` (the palette repeats past its length). */
export function categoryColor(i: number): string {
  return PALETTE[i % PALETTE.length];
}

/**
 * One color per category, and per label class everywhere: a category named like label class i
 * has class i's color (`categoryColor(i)`, as in the label bar and when coloring by label); the
 * other categories take the palette's colors in order, skipping every class's color (a category
 * never looks like a class it is not).
 */
export function categoryColors(categories: readonly string[], classes: readonly string[]): string[] {
  const classColor = new Map(classes.map((name, i) => [name, categoryColor(i)]));
  const taken = new Set(classColor.values());
  const free = PALETTE.filter((color) => !taken.has(color));
  let next = 0;
  return categories.map((name) => classColor.get(name) ?? free[next++ % free.length]);
}

/**
 * The color list for regl-scatterplot's `pointColor`, indexed by the codes of `pointCodes`.
 * `classes` are the label classes (kind "label").
 */
export function colorList(meta: ColorMeta, classes: readonly string[]): string[] {
  switch (meta.kind) {
    case "none":
      return [DEFAULT_POINT_COLOR];
    case "continuous":
      return [...viridis(COLOR_BINS), MISSING_COLOR]; // code 255 (missing) is the last
    case "categorical":
      return [...categoryColors(meta.categories, classes), MISSING_COLOR];
    case "label":
      return [UNLABELLED_COLOR, ...classes.map((_, i) => categoryColor(i)), OTHER_LABEL_COLOR];
  }
}

/** The codes drawn larger than the others: the labelled ones, when coloring by label. */
export function largerCodes(meta: ColorMeta, classes: readonly string[]): number[] {
  return meta.kind === "label" ? Array.from({ length: classes.length + 1 }, (_, i) => i + 1) : [];
}

/**
 * Color codes per position, as float32 for regl-scatterplot's valueA. Continuous bins (0…254)
 * and 255 (missing) index the color list as they are; a categorical code past the categories
 * (255: missing) becomes the missing color's; kind "label" colors by `labels` (class i + 1 →
 * i + 1, 0 unlabelled → 0, anything else → the last color). With `positions`, the codes of those
 * positions only (the loaded points of a map beyond the point budget, detail.ts).
 */
export function pointCodes(
  meta: ColorMeta,
  colors: Uint8Array | null,
  labels: Uint8Array,
  classes: number,
  positions: Uint32Array | null = null,
): Float32Array {
  if (positions) {
    const at = <T extends Uint8Array | null>(values: T): T => (values ? (gather(values, positions) as T) : values);
    return pointCodes(meta, at(colors), gather(labels, positions), classes);
  }
  const n = labels.length;
  const codes = new Float32Array(n);
  if (meta.kind === "continuous" && colors) {
    codes.set(colors);
  } else if (meta.kind === "categorical" && colors) {
    const missing = meta.categories.length;
    for (let i = 0; i < n; i++) codes[i] = Math.min(colors[i], missing);
  } else if (meta.kind === "label") {
    updateLabelColors(codes, null, labels, classes);
  }
  return codes;
}

function gather(values: Uint8Array, positions: Uint32Array): Uint8Array {
  const out = new Uint8Array(positions.length);
  for (let i = 0; i < positions.length; i++) out[i] = values[positions[i]];
  return out;
}

/** Recolor by label the `positions` (null: all) of `codes` from the label codes `labels`. */
export function updateLabelColors(
  codes: Float32Array,
  positions: Uint32Array | null,
  labels: Uint8Array,
  classes: number,
): void {
  const code = (label: number) => (label === UNLABELLED || label <= classes ? label : classes + 1);
  if (positions === null) {
    for (let i = 0; i < codes.length; i++) codes[i] = code(labels[i]);
  } else {
    for (const p of positions) codes[p] = code(labels[p]);
  }
}

/** CSS linear-gradient for a horizontal color bar. */
export function gradientCss(colors: string[]): string {
  return `linear-gradient(to right, ${colors.join(", ")})`;
}

/** Short, readable number for legends and tooltips. */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x !== 0 && (Math.abs(x) >= 1e5 || Math.abs(x) < 1e-3)) return x.toExponential(2);
  return String(Number(x.toPrecision(3)));
}
