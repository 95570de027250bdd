// Level of detail for maps beyond the point budget (issue 21). The kernel sends no `_points`;
// this module asks it for a density image of the whole map (`map_density`), a uniform sample of
// the points (`map_view` of the whole square: the lowest ranks), and, as the view moves, the
// points in view (`map_view` of the view's rectangle; a newer view cancels an older request).
// The browser then holds the sample and the points in view: LoadedPoints, sorted global
// positions with their x, y. The scatter draws them by *local* index (0 … loaded − 1); the
// widget maps its global positions (selection, filter, focus, colors) onto them here.
//
// Colors, labels and filters of loaded points are looked up by position in the per-position
// arrays the widget has anyway (`_color` and the label codes: one byte a galaxy; the filter mask:
// one byte a galaxy), so nothing O(n) is 4 bytes a galaxy: at 76M they are 76 MB each.
// A selection is drawn as a second density layer (`map_density`, layer 'selection') under the
// points, so that it shows where points are not loaded.

import { debounce } from "./debounce";
import type { Shown } from "./filter";
import type { Affine } from "./pick";
import type { Params, Reply } from "./protocol";
import { Latest } from "./requests";

/**
 * Most points of a view the browser asks for: a canvas shows well under a million pixels, and
 * every point drawn costs each frame of a pan or zoom (and the load itself), so a few ×100k are
 * plenty; the density shows the rest. With the sample, 400k: at 8.7M on SwiftShader a view of 300k
 * took 0.45 s from request to reply and 0.17-0.28 s to draw (bench/bench_lod_pan.py's split).
 * (The kernel's MAX_VIEW_POINTS, 500k, is the most it sends.)
 */
export const VIEW_POINTS = 200_000;
/** Most points of the sample drawn first (the kernel's MAX_SAMPLE_POINTS): the density shows the rest. */
export const MAX_SAMPLE_POINTS = 200_000;
/** Pixels per side of the density images of the whole square. */
export const DENSITY_SIZE = 512;
/** A view moved: ask for its points once it rested this long (ms; a wheel or drag sends events every frame). */
export const VIEW_DELAY_MS = 60;
/** The rectangle asked for is the view widened by this share of its size on each side. */
const VIEW_MARGIN = 0.15;
/**
 * Marks of each view's load on the page's performance timeline, from the request to the points
 * drawn (bench/bench_lod_pan.py splits the wheel → points time with them).
 */
export const VIEW_MARKS = {
  requested: "galwidget:view-requested",
  replied: "galwidget:view-replied",
  merged: "galwidget:view-merged",
  drawn: "galwidget:view-drawn",
} as const;
/** The map_view timeout: a first view at tens of millions builds the kernel's index. */
const VIEW_TIMEOUT_MS = 120000;

/** The points the browser holds: sorted global positions and their coordinates. */
export class LoadedPoints {
  constructor(
    readonly positions: Uint32Array,
    readonly x: Float32Array,
    readonly y: Float32Array,
  ) {}

  static readonly empty = new LoadedPoints(new Uint32Array(0), new Float32Array(0), new Float32Array(0));

  /** From a map_view reply: sorted positions and their interleaved x, y. */
  static fromView(positions: Uint32Array, points: Float32Array): LoadedPoints {
    const x = new Float32Array(positions.length);
    const y = new Float32Array(positions.length);
    for (let i = 0; i < positions.length; i++) {
      x[i] = points[2 * i];
      y[i] = points[2 * i + 1];
    }
    return new LoadedPoints(positions, x, y);
  }

  get length(): number {
    return this.positions.length;
  }

  /** The points of both (sorted positions merged, each once). */
  union(other: LoadedPoints): LoadedPoints {
    const a = this.positions;
    const b = other.positions;
    const positions = new Uint32Array(a.length + b.length);
    const x = new Float32Array(positions.length);
    const y = new Float32Array(positions.length);
    let i = 0;
    let j = 0;
    let k = 0;
    while (i < a.length || j < b.length) {
      if (j >= b.length || (i < a.length && a[i] <= b[j])) {
        if (j < b.length && b[j] === a[i]) j++; // in both: once
        positions[k] = a[i];
        x[k] = this.x[i];
        y[k] = this.y[i];
        i++;
      } else {
        positions[k] = b[j];
        x[k] = other.x[j];
        y[k] = other.y[j];
        j++;
      }
      k++;
    }
    return new LoadedPoints(positions.slice(0, k), x.slice(0, k), y.slice(0, k));
  }

  /** Whether both hold the same points. */
  equals(other: LoadedPoints): boolean {
    if (other === this) return true;
    if (other.length !== this.length) return false;
    for (let i = 0; i < this.length; i++) if (other.positions[i] !== this.positions[i]) return false;
    return true;
  }

  /** The local index of global `position`, −1 when it is not loaded. */
  localOf(position: number): number {
    const positions = this.positions;
    let lo = 0;
    let hi = positions.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const value = positions[mid];
      if (value === position) return mid;
      if (value < position) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Global positions of local indices (in their order). */
  globalsOf(locals: ArrayLike<number>): Uint32Array {
    const out = new Uint32Array(locals.length);
    for (let i = 0; i < locals.length; i++) out[i] = this.positions[locals[i]];
    return out;
  }

  /** (x, y) of global `position`, null when it is not loaded. */
  xyOf(position: number): [number, number] | null {
    const local = this.localOf(position);
    return local < 0 ? null : [this.x[local], this.y[local]];
  }
}

/** The filter in force on the loaded points (indexed locally), from the one on every position. */
export function localShown(shown: Shown | null, loaded: LoadedPoints): Shown | null {
  if (!shown) return null;
  const mask = new Uint8Array(loaded.length);
  for (let i = 0; i < loaded.length; i++) mask[i] = shown.mask[loaded.positions[i]];
  const positions = new Uint32Array(loaded.length);
  let k = 0;
  for (let i = 0; i < loaded.length; i++) if (mask[i] === 1) positions[k++] = i;
  return { mode: shown.mode, positions: positions.slice(0, k), mask };
}

/**
 * The view of a canvas of `width` × `height` CSS pixels before any pan or zoom, as
 * regl-scatterplot's reset camera shows the `[-1, 1]²` square: y spans the height, centered.
 */
export function resetView(width: number, height: number): Affine {
  const scale = height / 2;
  return [scale, 0, width / 2, 0, -scale, height / 2];
}

/** The inverse of an affine map (point space ← canvas pixels); null when it is singular. */
export function invertAffine([a, b, c, d, e, f]: Affine): Affine | null {
  const det = a * e - b * d;
  if (!Number.isFinite(det) || Math.abs(det) < 1e-12) return null;
  return [e / det, -b / det, (b * f - c * e) / det, -d / det, a / det, (c * d - a * f) / det];
}

/** x0, y0, x1, y1 in point space. */
export type Rectangle = [number, number, number, number];

/**
 * The rectangle of point space a `width` × `height` canvas shows in `view`, widened by `margin`
 * of its size on each side and clipped to the square; null when it misses the square.
 */
export function viewRectangle(view: Affine, width: number, height: number, margin = VIEW_MARGIN): Rectangle | null {
  const inverse = invertAffine(view);
  if (!inverse) return null;
  const [a, b, c, d, e, f] = inverse;
  const corners = [
    [0, 0],
    [width, 0],
    [0, height],
    [width, height],
  ].map(([u, v]) => [a * u + b * v + c, d * u + e * v + f]);
  const xs = corners.map((p) => p[0]);
  const ys = corners.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const [mx, my] = [(x1 - x0) * margin, (y1 - y0) * margin];
  const rect: Rectangle = [Math.max(-1, x0 - mx), Math.max(-1, y0 - my), Math.min(1, x1 + mx), Math.min(1, y1 + my)];
  return rect[0] <= rect[2] && rect[1] <= rect[3] ? rect : null;
}

/** Whether rectangle `inner` lies within `outer`. */
export function within(inner: Rectangle, outer: Rectangle): boolean {
  return inner[0] >= outer[0] && inner[1] >= outer[1] && inner[2] <= outer[2] && inner[3] <= outer[3];
}

/** RGBA pixels of a density image drawn in `rgb`, opacity rising with its level up to `alpha`. */
export function densityPixels(levels: Uint8Array, rgb: [number, number, number], alpha: number): Uint8ClampedArray<ArrayBuffer> {
  const pixels = new Uint8ClampedArray(levels.length * 4);
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i];
    if (level === 0) continue;
    pixels[4 * i] = rgb[0];
    pixels[4 * i + 1] = rgb[1];
    pixels[4 * i + 2] = rgb[2];
    // The faintest non-empty pixel stays visible.
    pixels[4 * i + 3] = Math.round(alpha * 255 * (0.25 + (0.75 * level) / 255));
  }
  return pixels;
}

/**
 * The canvas transform (a, b, c, d, e, f of setTransform) drawing a `size` × `size` image of the
 * square (row 0 at y = 1) where `view` maps point space onto the canvas.
 */
export function imageTransform(view: Affine, size: number): [number, number, number, number, number, number] {
  const [a, b, c, d, e, f] = view;
  // Image pixel (i, j) is point (−1 + 2i/size, 1 − 2j/size).
  return [(2 * a) / size, (2 * d) / size, (-2 * b) / size, (-2 * e) / size, c - a + b, f - d + e];
}

type DetailKind = "map_view" | "map_density";

export interface DetailHost {
  request<K extends DetailKind>(kind: K, params: Params<K>, signal: AbortSignal, timeoutMs: number): Promise<Reply<K>>;
  /** Draw these points (the sample, with the points in view). */
  loaded(points: LoadedPoints): void;
  /** A density layer arrived or went: paint them again. */
  densityChanged(): void;
  /** A request failed (not cancelled): say why. */
  failed(message: string): void;
}

export interface DensityLayer {
  size: number;
  levels: Uint8Array;
}

/**
 * The level of detail of one layout: `start()` asks for the density and the sample; `viewChanged`
 * (debounced) for the points of a view; `selectionChanged` for the selection's density.
 */
export class LevelOfDetail {
  /** The density of every galaxy, then of the selected ones (null: none yet, or no selection). */
  all: DensityLayer | null = null;
  selection: DensityLayer | null = null;
  /** What the last answered view asked for, and whether it got every point in it. */
  viewAnswered: { rectangle: Rectangle; complete: boolean; count: number; total: number } | null = null;
  private sample: LoadedPoints | null = null;
  private readonly viewRequest = new Latest();
  private readonly selectionRequest = new Latest();
  private readonly startRequest = new Latest();
  private disposed = false;
  readonly sampleSize: number;
  readonly viewLimit: number;

  constructor(
    private readonly host: DetailHost,
    budget: number,
    readonly layout: string,
  ) {
    // Half the budget (at most MAX_SAMPLE_POINTS, for a quick first frame) is the sample of the
    // whole map, the rest the points in view (galwidget/widget/_lod.py's sample_size splits alike).
    this.sampleSize = Math.max(1, Math.min(MAX_SAMPLE_POINTS, Math.floor(budget / 2)));
    this.viewLimit = Math.max(1, Math.min(VIEW_POINTS, budget - this.sampleSize));
  }

  /** Ask for the density of the whole map and the sample; resolves once the sample is handed over. */
  async start(): Promise<void> {
    const signal = this.startRequest.next();
    const density = this.host.request("map_density", { size: DENSITY_SIZE, layer: "all" }, signal, VIEW_TIMEOUT_MS).then((reply) => {
      if (this.disposed || !this.accept(reply, "the density")) return;
      this.all = { size: reply.size, levels: reply.density };
      this.host.densityChanged();
    });
    const whole = { x0: -1, y0: -1, x1: 1, y1: 1, limit: this.sampleSize, from_rank: 0 };
    const reply = await this.host.request("map_view", whole, signal, VIEW_TIMEOUT_MS);
    if (!this.disposed && this.accept(reply, "the sample") && reply.layout === this.layout) {
      this.sample = LoadedPoints.fromView(reply.positions, reply.points);
      this.host.loaded(this.sample);
    }
    await density;
  }

  /** The view moved to `rectangle` (null: it shows the whole square): load its points soon. */
  readonly viewChanged = debounce((rectangle: Rectangle | null) => void this.loadView(rectangle), VIEW_DELAY_MS);

  /** Load the points in `rectangle` (null or the whole square: the sample alone). */
  async loadView(rectangle: Rectangle | null): Promise<void> {
    const sample = this.sample;
    if (!sample || this.disposed) return;
    const whole = rectangle === null || within([-1, -1, 1, 1], rectangle);
    if (whole) {
      this.viewRequest.cancel();
      if (this.viewAnswered) {
        this.viewAnswered = null;
        this.host.loaded(sample);
      }
      return;
    }
    // Every point of a wider rectangle is loaded already: nothing new to see.
    const answered = this.viewAnswered;
    if (answered?.complete && within(rectangle, answered.rectangle)) return;
    const [x0, y0, x1, y1] = rectangle;
    const signal = this.viewRequest.next();
    performance.mark(VIEW_MARKS.requested);
    const reply = await this.host.request("map_view", { x0, y0, x1, y1, limit: this.viewLimit, from_rank: 0 }, signal, VIEW_TIMEOUT_MS);
    if (this.disposed || !this.accept(reply, "the points in view") || reply.layout !== this.layout) return;
    performance.mark(VIEW_MARKS.replied);
    this.viewAnswered = { rectangle, complete: reply.next_rank === -1, count: reply.count, total: reply.total };
    const points = sample.union(LoadedPoints.fromView(reply.positions, reply.points));
    performance.mark(VIEW_MARKS.merged);
    this.host.loaded(points);
  }

  /** The selection changed (`count` selected): ask for its density, or drop it. */
  async selectionChanged(count: number): Promise<void> {
    if (count === 0) {
      this.selectionRequest.cancel();
      if (this.selection) {
        this.selection = null;
        this.host.densityChanged();
      }
      return;
    }
    const signal = this.selectionRequest.next();
    const reply = await this.host.request("map_density", { size: DENSITY_SIZE, layer: "selection" }, signal, VIEW_TIMEOUT_MS);
    if (this.disposed || !this.accept(reply, "the selection's density")) return;
    this.selection = { size: reply.size, levels: reply.density };
    this.host.densityChanged();
  }

  dispose(): void {
    this.disposed = true;
    this.viewChanged.cancel();
    this.viewRequest.cancel();
    this.selectionRequest.cancel();
    this.startRequest.cancel();
  }

  private accept<K extends DetailKind>(reply: Reply<K>, what: string): reply is Extract<Reply<K>, { ok: true }> {
    if (reply.ok) return true;
    if (!reply.cancelled) this.host.failed(`Cannot load ${what}: ${reply.reason}`);
    return false;
  }
}

/** Paints the density layers on a 2-D canvas under the map, following its pan and zoom. */
export class DensityCanvas {
  readonly el: HTMLCanvasElement;
  private readonly images = new Map<DensityLayer, HTMLCanvasElement>();

  constructor(doc: Document = document) {
    this.el = doc.createElement("canvas");
    this.el.className = "gw-density";
  }

  /** Paint `layers` (bottom first, with their colors) where `view` maps point space. */
  paint(layers: [DensityLayer | null, [number, number, number], number][], view: Affine, width: number, height: number): void {
    const ratio = globalThis.devicePixelRatio || 1;
    const [w, h] = [Math.round(width * ratio), Math.round(height * ratio)];
    if (this.el.width !== w || this.el.height !== h) [this.el.width, this.el.height] = [w, h];
    const context = this.el.getContext("2d");
    if (!context) return;
    context.setTransform(1, 0, 0, 1, 0, 0);
    context.clearRect(0, 0, w, h);
    const [a, b, c, d, e, f] = imageTransform(view, DENSITY_SIZE);
    for (const [layer, rgb, alpha] of layers) {
      if (!layer) continue;
      const image = this.image(layer, rgb, alpha);
      const s = DENSITY_SIZE / layer.size; // a layer of another size scales to the same square
      context.setTransform(ratio * a * s, ratio * b * s, ratio * c * s, ratio * d * s, ratio * e, ratio * f);
      context.drawImage(image, 0, 0);
    }
  }

  /** Drop the images of layers no longer shown. */
  keep(layers: (DensityLayer | null)[]): void {
    for (const layer of this.images.keys()) if (!layers.includes(layer)) this.images.delete(layer);
  }

  private image(layer: DensityLayer, rgb: [number, number, number], alpha: number): HTMLCanvasElement {
    let image = this.images.get(layer);
    if (!image) {
      image = this.el.ownerDocument.createElement("canvas");
      image.width = image.height = layer.size;
      image.getContext("2d")?.putImageData(new ImageData(densityPixels(layer.levels, rgb, alpha), layer.size, layer.size), 0, 0);
      this.images.set(layer, image);
    }
    return image;
  }
}
