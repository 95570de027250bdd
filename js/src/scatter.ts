// The scatter adapter: the only module that knows regl-scatterplot. It draws positions with
// color codes (some larger, some on top), shows a selection, a focus cross and rings around
// marked points, pans without zooming, and reports hover, view changes, the lasso's vertices and
// the selections regl-scatterplot makes itself (a one-vertex lasso). Everything else in the widget
// speaks in positions and flat typed arrays.

import createScatterplot from "regl-scatterplot";
import type { Shown } from "./filter";
import { type Affine, affineFrom, spreadTriple } from "./pick";
import { sortedPositions } from "./positions";
import type { Mode } from "./protocol";

type Scatterplot = ReturnType<typeof createScatterplot>;
type Settings = Parameters<Scatterplot["set"]>[0];
// Options regl-scatterplot 1.16 accepts at run time but leaves out of (or types more narrowly in)
// its type declarations.
type ExtraSettings = {
  pointOrder?: number[] | null;
  actionKeyMap?: { merge?: string; remove?: string; lasso?: string; rotate?: string };
  lassoType?: "freeform" | "rectangle" | "brush";
  pointColorActive?: string[];
  pointColorHover?: string[];
};
type Rgba = [number, number, number, number];

function configure(scatterplot: Scatterplot, settings: Omit<Settings, keyof ExtraSettings> & ExtraSettings): Promise<void> {
  return scatterplot.set(settings as Settings);
}

export interface ScatterEvents {
  /** regl-scatterplot selected these positions itself (not after `select`). */
  select(positions: ArrayLike<number>): void;
  deselect(): void;
  hover(position: number): void;
  unhover(): void;
  /** The view (pan or zoom) changed. */
  view(): void;
}

export interface ScatterStyle {
  width: number;
  height: number;
  pointSize: number;
  opacity: number;
}

/**
 * Selected points are drawn in the theme's contrast color (black on light, white on dark), which
 * no category palette or color map holds, larger and ringed (outlined by regl-scatterplot), or
 * painted through the color codes when there are many.
 */
const SELECTED_COLOR = { light: "#000000", dark: "#ffffff" };
/** Selected points (outlined by regl-scatterplot) are this many pixels larger than the others. */
const SELECTED_EXTRA_SIZE = 1;
/** Labelled points, when coloring by label, are this much larger than unlabelled ones. */
const LABELLED_SIZE_SCALE = 2;
/** Above this many points, drawing some on top (a JS array of every position) costs too much. */
const ON_TOP_MAX_POINTS = 1_000_000;
/** Rings around marked points (the focused galaxy's neighbors): radius in pixels and vertices. */
const RING_RADIUS_PX = 7;
const RING_VERTICES = 16;
/**
 * Selections up to this many points are drawn by regl-scatterplot: outlined and on top of the
 * others. Larger ones are painted through the color codes instead (one extra code), because its
 * selection of millions of points is seconds of main-thread work (a Set and a JS array of
 * coordinates) during which the page cannot even finish sending the selection to the kernel.
 */
export const OUTLINED_SELECTION_MAX = 20_000;
/** A dimmed galaxy's opacity, as a fraction of the shown ones'. */
const DIMMED_OPACITY_SCALE = 0.12;
const FOCUS_ZOOM_DISTANCE = 0.35;
/** `panTo` leaves the view alone while the point is this far (a fraction) inside its edges. */
const PAN_MARGIN = 0.1;

export class ScatterAdapter {
  /**
   * While a lasso of two or more vertices is drawn: regl-scatterplot's own array of its [x, y]
   * vertices (in the points' space), as its 'lassoExtend' events hand it out; else null.
   */
  private lasso: [number, number][] | null = null;
  private dark = false;
  private opacity: number;
  /** The filter drawn (null: none); `opacityCodes` is 1 per shown position, 0 per dimmed one. */
  private shown: Shown | null = null;
  private opacityCodes: Float32Array = new Float32Array(0);
  /** The filter regl-scatterplot hides points by, as last applied (null: none). */
  private hidden: Shown | null = null;
  /** The positions shown as selected (sorted), and whether they are painted in the codes. */
  private selection: Uint32Array = new Uint32Array(0);
  private painted = false;
  private colors: { list: string[]; byCode: boolean; larger: number[] } = { list: [], byCode: false, larger: [] };
  private pointSize: number;
  /** Cross hairs of the focused galaxy, and rings around the marked ones (annotations). */
  private focusPoint: [number, number] | null = null;
  private rings: [number, number][] = [];

  private constructor(
    private readonly scatterplot: Scatterplot,
    opacity: number,
    pointSize: number,
  ) {
    this.opacity = opacity;
    this.pointSize = pointSize;
  }

  /** Create the plot on `canvas`; throws when WebGL is unavailable. */
  static async create(canvas: HTMLCanvasElement, style: ScatterStyle, events: ScatterEvents): Promise<ScatterAdapter> {
    const scatterplot = createScatterplot({
      canvas,
      width: style.width,
      height: style.height,
      pointSize: style.pointSize,
      opacity: style.opacity,
      opacityInactiveScale: 0.6,
      pointSizeSelected: SELECTED_EXTRA_SIZE,
      pointOutlineWidth: 1,
      lassoMinDelay: 10,
      lassoMinDist: 2,
      deselectOnEscape: false,
      deselectOnDblClick: false,
    });
    const adapter = new ScatterAdapter(scatterplot, style.opacity, style.pointSize);
    scatterplot.subscribe("select", ({ points }) => {
      adapter.selection = sortedPositions(points);
      events.select(points);
    });
    scatterplot.subscribe("deselect", () => {
      adapter.selection = new Uint32Array(0);
      events.deselect();
    });
    scatterplot.subscribe("pointOver", (position) => events.hover(position));
    scatterplot.subscribe("pointOut", () => events.unhover());
    scatterplot.subscribe("view", () => {
      if (adapter.rings.length > 0) adapter.drawAnnotations();
      events.view();
    });
    scatterplot.subscribe("lassoExtend", ({ coordinates }) => {
      // Typed as number[]; the vertices are [x, y] pairs. An empty lasso is a lasso's end.
      adapter.lasso = coordinates.length > 0 ? (coordinates as unknown as [number, number][]) : null;
    });
    await configure(scatterplot, { actionKeyMap: { merge: "shift", remove: "alt" } });
    return adapter;
  }

  /** Whether points are drawn (selection and focus need them). */
  get drawn(): boolean {
    return this.scatterplot.get("isPointsDrawn");
  }

  /**
   * Draw the points, colored by `codes` (indices into the color list of `setColors`). Draws do
   * not overlap (regl-scatterplot ignores a draw while one runs): a draw asked for meanwhile
   * runs after it, with the latest arguments. Resolves once nothing is left to draw.
   */
  draw(x: Float32Array, y: Float32Array, codes: Float32Array): Promise<void> {
    this.nextDraw = { x, y, codes };
    this.drawing ??= this.drawQueued();
    return this.drawing;
  }

  private nextDraw: { x: Float32Array; y: Float32Array; codes: Float32Array } | null = null;
  private drawing: Promise<void> | null = null;
  private drawnXY: [Float32Array | null, Float32Array | null] = [null, null];
  private drawnData: { x: Float32Array; y: Float32Array; codes: Float32Array } | null = null;

  private async drawQueued(): Promise<void> {
    try {
      while (this.nextDraw) {
        const { x, y, codes } = this.nextDraw;
        this.nextDraw = null;
        // The same points again (a recolor): reuse their spatial index instead of rebuilding it.
        const samePoints = this.drawn && x === this.drawnXY[0] && y === this.drawnXY[1];
        const spatialIndex = samePoints ? this.scatterplot.get("spatialIndex") : undefined;
        this.drawnXY = [x, y];
        this.drawnData = { x, y, codes };
        if (this.opacityCodes.length !== x.length) this.opacityCodes = this.opacityCodesOf(x.length);
        await this.scatterplot.draw(
          { x, y, valueA: this.paintedCodes(codes), valueB: this.opacityCodes },
          { zDataType: "categorical", wDataType: "categorical", spatialIndex, preventFilterReset: true },
        );
        if (!samePoints) this.hidden = null; // new points: filter them afresh
        await this.applyHidden();
      }
    } finally {
      this.drawing = null;
    }
  }

  /**
   * Dim (draw faint) or hide the galaxies a filter leaves out, or show all (null). Resolves once
   * drawn.
   */
  async setFilter(shown: Shown | null): Promise<void> {
    this.shown = shown;
    this.opacityCodes = this.opacityCodesOf(this.opacityCodes.length);
    this.applyOpacity();
    await this.redraw(); // the opacity codes travel with the points
  }

  /** Draw the latest points again (reusing their spatial index), e.g. with new codes. */
  private async redraw(): Promise<void> {
    const last = this.nextDraw ?? this.drawnData;
    if (last) await this.draw(last.x, last.y, last.codes);
  }

  /** `codes`, with the selection painted in when it is. */
  private paintedCodes(codes: Float32Array): Float32Array {
    if (!this.painted) return codes;
    const painted = codes.slice();
    const selectedCode = this.colors.list.length;
    for (const position of this.selection) if (position < painted.length) painted[position] = selectedCode;
    return painted;
  }

  private opacityCodesOf(n: number): Float32Array {
    const codes = new Float32Array(n).fill(1);
    if (this.shown?.mode === "dim" && this.shown.mask.length === n) codes.set(this.shown.mask);
    return codes;
  }

  private applyOpacity(): void {
    const dim = this.shown?.mode === "dim";
    void configure(this.scatterplot, {
      opacityBy: dim ? "valueB" : null,
      opacity: dim ? [this.opacity * DIMMED_OPACITY_SCALE, this.opacity] : this.opacity,
    });
  }

  /** Hide (regl-scatterplot's filter) what the filter hides, when that changed. */
  private async applyHidden(): Promise<void> {
    const hide = this.shown?.mode === "hide" ? this.shown : null;
    if (hide === this.hidden) return;
    this.hidden = hide;
    if (hide) await this.scatterplot.filter(Array.from(hide.positions), { preventEvent: true });
    else await this.scatterplot.unfilter({ preventEvent: true });
  }

  /**
   * Point colors by code (`byCode` false: one color); the codes listed in `larger` (labelled
   * galaxies) are drawn larger.
   */
  setColors(colors: string[], byCode: boolean, larger: number[] = []): Promise<void> {
    this.colors = { list: colors, byCode, larger };
    return this.applyColors();
  }

  private applyColors(): Promise<void> {
    const { list, byCode, larger } = this.colors;
    const contrast = this.dark ? SELECTED_COLOR.dark : SELECTED_COLOR.light;
    const colors = this.painted ? [...list, contrast] : list;
    const sized = larger.length > 0 && byCode;
    return configure(this.scatterplot, {
      colorBy: byCode || this.painted ? "valueA" : null,
      pointColor: colors,
      pointColorActive: colors.map(() => contrast),
      pointColorHover: colors.map(() => contrast),
      sizeBy: sized ? "valueA" : null,
      pointSize: sized ? this.sizesByCode(colors.length) : this.pointSize,
      pointSizeSelected: this.pointSize + SELECTED_EXTRA_SIZE,
    });
  }

  private sizesByCode(count: number): number[] {
    const sizes = new Array<number>(count).fill(this.pointSize);
    for (const code of this.colors.larger) if (code < count) sizes[code] = this.pointSize * LABELLED_SIZE_SCALE;
    return sizes;
  }

  setTheme(dark: boolean): void {
    this.dark = dark;
    void this.applyColors();
    const alpha = this.seeThrough ? 0 : 1;
    void this.scatterplot.set({
      backgroundColor: dark ? [0.1, 0.1, 0.1, alpha] : [1, 1, 1, alpha],
      lassoColor: dark ? [0.55, 0.8, 1, 1] : [0, 0.4, 0.8, 1],
    });
  }

  /** A transparent background, so that what lies under the canvas shows (a density, detail.ts). */
  setSeeThrough(seeThrough: boolean): void {
    if (seeThrough === this.seeThrough) return;
    this.seeThrough = seeThrough;
    this.setTheme(this.dark);
  }

  private seeThrough = false;

  setMode(mode: Mode): void {
    void configure(this.scatterplot, {
      mouseMode: mode === "pan" ? "panZoom" : "lasso",
      lassoType: mode === "box" ? "rectangle" : "freeform",
    });
  }

  setStyle(pointSize: number, opacity: number): void {
    this.opacity = opacity;
    this.pointSize = pointSize;
    void this.applyColors();
    this.applyOpacity();
  }

  /** regl-scatterplot knows one key per action: which one removes (alt, or ctrl when held). */
  setRemoveKey(ctrl: boolean): void {
    void configure(this.scatterplot, { actionKeyMap: { merge: "shift", remove: ctrl ? "ctrl" : "alt" } });
  }

  resize(width: number, height: number): void {
    void this.scatterplot.set({ width, height });
  }

  reset(): void {
    void this.scatterplot.reset();
  }

  /** The positions shown as selected, sorted. */
  selected(): Uint32Array {
    return this.selection;
  }

  /**
   * Show the sorted `positions` as selected (no 'select' event): outlined by regl-scatterplot up
   * to OUTLINED_SELECTION_MAX points, painted in the color codes beyond. Resolves once drawn.
   */
  async select(positions: Uint32Array): Promise<void> {
    this.selection = positions;
    const paint = positions.length > OUTLINED_SELECTION_MAX;
    if (paint || positions.length === 0) this.scatterplot.deselect({ preventEvent: true });
    else this.scatterplot.select(Array.from(positions), { preventEvent: true });
    if (!paint && !this.painted) return;
    const newColors = paint !== this.painted;
    this.painted = paint;
    // The selection's color is listed before any code uses it, and dropped after none does.
    if (newColors && paint) await this.applyColors();
    await this.redraw();
    if (newColors && !paint) await this.applyColors();
  }

  /** Deselect, with its 'deselect' event. */
  deselect(): void {
    this.scatterplot.deselect();
  }

  /**
   * End a lasso of two or more vertices without regl-scatterplot's slower hit test and selection:
   * returns its vertices as flat x0, y0, x1, y1, …, or null when there is none (a one-vertex
   * lasso is left to regl-scatterplot). Call before its mouseup handler runs.
   */
  takeLasso(): number[] | null {
    const vertices = this.lasso;
    if (!vertices || !this.drawn) return null;
    this.lasso = null;
    const flat = vertices.flat();
    // Its mouseup handler, next, ends a lasso without vertices with no hit test or selection,
    // and then leaves the camera fixed as it was while lassoing: release it.
    vertices.length = 0;
    void this.scatterplot.set({ cameraIsFixed: this.scatterplot.get("cameraIsFixed") });
    return flat;
  }

  /**
   * Draw the points at `positions` (sorted) after, so on top of, all others; null: in position
   * order. Nothing changes beyond ON_TOP_MAX_POINTS points.
   */
  async drawOnTop(positions: Uint32Array | null, n: number): Promise<void> {
    if (n > ON_TOP_MAX_POINTS || !this.drawn) return;
    let order: number[] | null = null;
    if (positions && positions.length > 0) {
      order = new Array<number>(n - positions.length);
      let k = 0;
      let j = 0;
      for (let p = 0; p < n; p++) {
        if (j < positions.length && positions[j] === p) j++;
        else order[k++] = p;
      }
      order.length = k;
      for (const p of positions) order.push(p);
    }
    await configure(this.scatterplot, { pointOrder: order });
  }

  /** Cross hairs through (x, y), or none for null. */
  focus(point: [number, number] | null): void {
    this.focusPoint = point;
    this.drawAnnotations();
  }

  /** Rings around the points at (x, y) (the focused galaxy's neighbors), or none. */
  ring(points: [number, number][]): void {
    this.rings = points;
    this.drawAnnotations();
  }

  /** The cross hairs and the rings; a ring's radius is in pixels, so it follows the zoom. */
  private drawAnnotations(): void {
    if (!this.drawn) return;
    const lineColor: Rgba = this.dark ? [1, 1, 1, 0.6] : [0, 0, 0, 0.6];
    const annotations: Parameters<Scatterplot["drawAnnotations"]>[0] = [];
    const point = this.focusPoint;
    if (point) annotations.push({ x: point[0], lineColor, lineWidth: 1 }, { y: point[1], lineColor, lineWidth: 1 });
    const radius = this.rings.length > 0 ? RING_RADIUS_PX / this.pixelsPerUnit() : 0;
    if (radius > 0 && Number.isFinite(radius)) {
      const ringColor: Rgba = this.dark ? [1, 1, 1, 0.9] : [0, 0, 0, 0.85];
      for (const [x, y] of this.rings) {
        const vertices: [number, number][] = [];
        for (let v = 0; v <= RING_VERTICES; v++) {
          const angle = (2 * Math.PI * v) / RING_VERTICES;
          vertices.push([x + radius * Math.cos(angle), y + radius * Math.sin(angle)]);
        }
        annotations.push({ vertices, lineColor: ringColor, lineWidth: 1.5 });
      }
    }
    if (annotations.length === 0) void this.scatterplot.clearAnnotations();
    else void this.scatterplot.drawAnnotations(annotations);
  }

  /** How far the view is zoomed in (1: the reset view, which shows every point). */
  zoom(): number {
    return 1 / this.scatterplot.get("cameraDistance");
  }

  /** Canvas pixels per unit of the points' space in the current view (pan and zoom). */
  private pixelsPerUnit(): number {
    const { height } = this.canvasSize();
    const distance = this.scatterplot.get("cameraDistance");
    // The reset view (distance 1) maps y in [-1, 1] onto the canvas height.
    return height / 2 / distance;
  }

  private canvasSize(): { width: number; height: number } {
    const canvas = this.scatterplot.get("canvas");
    return { width: canvas.clientWidth || 1, height: canvas.clientHeight || 1 };
  }

  /**
   * The map from point space to canvas pixels in the current view (for picking, pick.ts), from
   * the screen positions of three points of (x, y) spread wide; null when none can be made.
   */
  screenTransform(x: Float32Array, y: Float32Array): Affine | null {
    if (!this.drawn) return null;
    if (this.triple?.x !== x) this.triple = { x, positions: spreadTriple(x, y) };
    const positions = this.triple.positions;
    if (!positions) return null;
    const screen = positions.map((p) => this.scatterplot.getScreenPosition(p));
    if (screen.some((s) => !s)) return null;
    return affineFrom(positions.map((p) => [x[p], y[p]]), screen as [number, number][]);
  }

  /** The three points `screenTransform` measures the view with, for the points drawn last. */
  private triple: { x: Float32Array; positions: [number, number, number] | null } | null = null;

  /** Pan and zoom to show the points at `positions` (nothing for none). */
  zoomToPositions(positions: Uint32Array): void {
    if (!this.drawn || positions.length === 0) return;
    void this.scatterplot.zoomToPoints(Array.from(positions), { padding: 0.2, transition: true, transitionDuration: 400 });
  }

  /**
   * Show (x, y), at `screen` (canvas pixels) in the current view: pan so that it is in view, and
   * never zoom. Nothing moves while it is well inside the view.
   */
  panTo(x: number, y: number, screen: [number, number] | null): void {
    const { width, height } = this.canvasSize();
    if (screen) {
      const [sx, sy] = screen;
      const inside = sx > PAN_MARGIN * width && sx < (1 - PAN_MARGIN) * width && sy > PAN_MARGIN * height && sy < (1 - PAN_MARGIN) * height;
      if (inside) return;
    }
    const distance = this.scatterplot.get("cameraDistance");
    void this.scatterplot.zoomToLocation([x, y], distance, { transition: true, transitionDuration: 300 });
  }

  /** Pan (and zoom in, never out) to (x, y): the search box's "go there". */
  zoomTo(x: number, y: number): void {
    const distance = Math.min(this.scatterplot.get("cameraDistance"), FOCUS_ZOOM_DISTANCE);
    void this.scatterplot.zoomToLocation([x, y], distance, { transition: true, transitionDuration: 400 });
  }

  destroy(): void {
    this.scatterplot.destroy();
  }
}
