// Colour maps and the mapping from the colour trait (float32 values or integer codes) to the
// integer codes that regl-scatterplot colours categorically ("valueA" with a colour list).

import { asBytes, asFloat32, type Binary } from "./codec";

/** What the `_color_meta` trait describes. */
export type ColorMeta =
  | { kind: "none" }
  | { kind: "continuous"; column: string; min: number; max: number; missing: number; missing_name?: string }
  | { kind: "categorical"; column: string; categories: string[]; missing: number; missing_name?: string };

export const DEFAULT_POINT_COLOR = "#3b75af";
export const MISSING_COLOR = "#a0a0a0";
/** Number of colour steps for continuous values; one more code marks missing values. */
export const CONTINUOUS_STEPS = 128;

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

/** `steps` colours of viridis from dark (0) to yellow (1), linearly interpolated. */
export function viridis(steps: number): string[] {
  const anchors = VIRIDIS_ANCHORS.map(hexToRgb);
  const colours: string[] = [];
  for (let i = 0; i < steps; i++) {
    const t = steps === 1 ? 0 : (i / (steps - 1)) * (anchors.length - 1);
    const lo = Math.min(Math.floor(t), anchors.length - 2);
    const f = t - lo;
    const mix = anchors[lo].map((c, j) => Math.round(c + (anchors[lo + 1][j] - c) * f));
    colours.push(rgbToHex(mix as [number, number, number]));
  }
  return colours;
}

/** Colour of category `i` (the palette repeats past its length). */
export function categoryColor(i: number): string {
  return PALETTE[i % PALETTE.length];
}

/** The colour list for regl-scatterplot's `pointColor`, indexed by the codes of `pointCodes`. */
export function colorList(meta: ColorMeta): string[] {
  switch (meta.kind) {
    case "none":
      return [DEFAULT_POINT_COLOR];
    case "continuous":
      return [...viridis(CONTINUOUS_STEPS), MISSING_COLOR];
    case "categorical":
      return [...meta.categories.map((_, i) => categoryColor(i)), MISSING_COLOR];
  }
}

/**
 * Integer colour codes per point, as float32 for regl-scatterplot's valueA.
 * Continuous values in [0, 1] map to CONTINUOUS_STEPS steps and NaN to the missing code;
 * categorical uint8 codes pass through (the code `categories.length` means missing).
 */
export function pointCodes(meta: ColorMeta, values: Binary, n: number): Float32Array {
  const codes = new Float32Array(n);
  if (meta.kind === "continuous") {
    const v = asFloat32(values);
    checkLength(v.length, n);
    for (let i = 0; i < n; i++) {
      const x = v[i];
      codes[i] = Number.isNaN(x)
        ? CONTINUOUS_STEPS
        : Math.min(CONTINUOUS_STEPS - 1, Math.max(0, Math.floor(x * CONTINUOUS_STEPS)));
    }
  } else if (meta.kind === "categorical") {
    const v = asBytes(values);
    checkLength(v.length, n);
    const missing = meta.categories.length;
    for (let i = 0; i < n; i++) codes[i] = Math.min(v[i], missing);
  }
  return codes;
}

function checkLength(got: number, n: number): void {
  if (got !== n) throw new RangeError(`colour values for ${got} points, expected ${n}`);
}

/** CSS linear-gradient for a horizontal colour bar. */
export function gradientCss(colours: string[]): string {
  return `linear-gradient(to right, ${colours.join(", ")})`;
}

/** Short, readable number for legends and tooltips. */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x !== 0 && (Math.abs(x) >= 1e5 || Math.abs(x) < 1e-3)) return x.toExponential(2);
  return String(Number(x.toPrecision(3)));
}
