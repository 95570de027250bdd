// galwidget Explorer front end: WebGL embedding scatter (regl-scatterplot), neighbour/suggestion
// panel, hover tooltip, toolbar and label bar. Selection, focus and labels are synced with the
// kernel through traits; neighbours, thumbnails, hover text and labelling go through custom
// messages. Plain click focuses a galaxy; shift-click toggles it in the selection.

import createScatterplot from "regl-scatterplot";
import { asBytes, asFloat32, asUint32, type Binary, encodeIndices, sameIndexSet, splitXY } from "./codec";
import { type ColorMeta, colorList, pointCodes } from "./colors";
import { debounce } from "./debounce";
import { element } from "./dom";
import { keyAction, LabelBar, type LabelMeta, type LearnStatus, labelOf, UNLABELLED, walk } from "./labels";
import { combineSelection, lassoOp, pointsInPolygon } from "./lasso";
import { renderLegend } from "./legend";
import type { Model } from "./model";
import { NeighbourPanel, PANEL_COLUMNS, type PanelMode, type Tile } from "./panel";
import { type Reply, Requests } from "./requests";
import { type ImageKind, Thumbnails } from "./thumbnails";
import { type Mode, Toolbar } from "./toolbar";
import { Tooltip } from "./tooltip";
import "./widget.css";

type Scatterplot = ReturnType<typeof createScatterplot>;
type Settings = Parameters<Scatterplot["set"]>[0];
// Options regl-scatterplot 1.16 accepts at run time but leaves out of (or types more narrowly in)
// its type declarations.
type ExtraSettings = {
  actionKeyMap?: { merge?: string; remove?: string; lasso?: string; rotate?: string };
  lassoType?: "freeform" | "rectangle" | "brush";
  pointColorActive?: string[];
  pointColorHover?: string[];
};

function configure(
  scatterplot: Scatterplot,
  settings: Omit<Settings, keyof ExtraSettings> & ExtraSettings,
): Promise<void> {
  return scatterplot.set(settings as Settings);
}

interface Config {
  n: number;
  id_column: string;
  image_kind: ImageKind;
  confirm_over: number;
}

const REQUEST_TIMEOUT_MS = 20000;
const HOVER_DELAY_MS = 120;
const FOCUS_ZOOM_DISTANCE = 0.35;
const SELECTED_COLOR = "#ff2d6f";

class ExplorerView {
  private readonly root = element("div", "galwidget");
  private readonly plot = element("div", "gw-plot");
  private readonly canvas = element("canvas", "gw-canvas");
  private readonly legend = element("div", "gw-legend");
  private readonly status = element("div", "gw-status", "Loading galaxies…");
  private readonly requests: Requests;
  private readonly thumbnails: Thumbnails;
  private readonly panel: NeighbourPanel;
  private readonly tooltip = new Tooltip();
  private readonly toolbar: Toolbar;
  private readonly labelBar: LabelBar;
  private readonly config: Config;
  private readonly resizeObserver: ResizeObserver;
  private scatterplot: Scatterplot | null = null;
  private x = new Float32Array(0);
  private y = new Float32Array(0);
  private hovered = -1;
  private dark: boolean | null = null;
  private pointerDown: [number, number] | null = null;
  private panelRequest = 0;
  private panelMode: PanelMode = "neighbours";
  /** The galaxy the keyboard walked to: its focus keeps the panel as it is. */
  private walkedTo = -1;
  private labelCodes: Uint8Array = new Uint8Array(0);
  /** True while saving a selection the plot shows already, or that its saver shows next. */
  private savingPlotSelection = false;
  /**
   * While a lasso of two or more vertices is drawn: regl-scatterplot's own array of its [x, y]
   * vertices (in the points' space), as its 'lassoExtend' events hand it out; else null.
   */
  private lasso: [number, number][] | null = null;
  private destroyed = false;
  private readonly listeners: [string, () => void][] = [];

  constructor(
    private readonly model: Model,
    el: HTMLElement,
  ) {
    this.config = model.get("_config") as Config;
    this.requests = new Requests((content) => model.send(content), REQUEST_TIMEOUT_MS);
    this.thumbnails = new Thumbnails(this.requests, this.config.image_kind);
    this.panel = new NeighbourPanel(
      this.thumbnails,
      (index) => (this.panelMode === "neighbours" ? this.pickNeighbour(index) : this.walkTo(index)),
      (mode) => this.setPanelMode(mode),
      (index) => labelOf(this.labelCodes[index] ?? UNLABELLED, this.labelMeta),
    );
    this.toolbar = new Toolbar({
      mode: (mode) => this.save("mode", mode),
      reset: () => void this.scatterplot?.reset(),
      pointSize: (size) => this.save("point_size", size),
      opacity: (opacity) => this.save("opacity", opacity),
      moreLike: () => void this.showMoreLike(),
      clear: () => this.clearSelection(),
    });
    this.labelBar = new LabelBar(
      {
        label: (label) => void this.labelFocused(label),
        undo: () => void this.undoRedo("undo"),
        redo: () => void this.undoRedo("redo"),
        labelSelection: (label) => void this.labelSelection(label),
        strategy: (strategy) => this.save("strategy", strategy),
      },
      this.config.confirm_over,
    );

    const body = element("div", "gw-body");
    this.plot.append(this.canvas, this.legend, this.tooltip.el, this.status);
    body.append(this.plot, this.panel.el);
    this.root.append(this.toolbar.el, this.labelBar.el, body);
    this.root.tabIndex = 0;
    this.root.dataset.state = "loading";
    el.append(this.root);
    this.applyHeight();

    this.onModel("msg:custom", (content: unknown, buffers: DataView[]) =>
      this.requests.handle(content, buffers),
    );
    this.onModel("change:_points", () => void this.drawPoints());
    this.onModel("change:_color change:_color_meta", () => this.scheduleRecolor());
    this.onModel("change:_selection", () => this.syncSelectionFromModel());
    this.onModel("change:_focus", () => this.syncFocusFromModel());
    this.onModel("change:mode", () => this.applyMode());
    this.onModel("change:point_size change:opacity", () => this.applyStyle());
    this.onModel("change:k", () => this.syncFocusFromModel());
    this.onModel("change:height", () => this.applyHeight());
    this.onModel("change:_labels", () => this.syncLabels());
    this.onModel("change:_label_meta", () => this.syncLabelMeta());
    this.onModel("change:_learn", () => this.labelBar.setLearn(this.model.get("_learn") as LearnStatus));
    this.onModel("change:strategy", () => this.labelBar.setStrategy(this.model.get("strategy") as string));
    this.onModel("change:_suggestions", () => {
      if (this.panelMode === "suggestions") void this.showSuggestions();
    });

    this.root.addEventListener("keydown", this.onKeyDown);
    this.plot.addEventListener("pointermove", this.onPointerMove);
    this.plot.addEventListener("pointerleave", this.onPointerLeave);
    this.canvas.addEventListener("pointerdown", this.onPointerDown, { capture: true });
    // Before regl-scatterplot's own click handler, which would select the clicked point.
    this.plot.addEventListener("click", this.onClick, { capture: true });
    // Before regl-scatterplot's own mouseup listener (window, bubbling), which ends its lasso.
    window.addEventListener("mouseup", this.onLassoEnd, { capture: true });

    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(this.plot);

    this.toolbar.setMode(this.mode);
    this.toolbar.setPointSize(this.pointSize);
    this.toolbar.setOpacity(this.opacity);
    this.updateCount();
    this.syncLabelMeta();
    this.syncLabels();
    this.labelBar.setLearn(this.model.get("_learn") as LearnStatus);
    this.labelBar.setStrategy(this.model.get("strategy") as string);
    void this.start();
  }

  // -- model helpers ---------------------------------------------------------------------------

  private onModel(events: string, callback: (...args: never[]) => void): void {
    for (const event of events.split(" ")) {
      this.model.on(event, callback);
      this.listeners.push([event, callback as () => void]);
    }
  }

  private save(name: string, value: unknown): void {
    this.model.set(name, value);
    this.model.save_changes();
  }

  private get mode(): Mode {
    return this.model.get("mode") as Mode;
  }

  private get pointSize(): number {
    return this.model.get("point_size") as number;
  }

  private get opacity(): number {
    return this.model.get("opacity") as number;
  }

  private get selection(): Uint32Array {
    return asUint32(this.model.get("_selection") as Binary);
  }

  private get focus(): number {
    return this.model.get("_focus") as number;
  }

  private get labelMeta(): LabelMeta {
    return this.model.get("_label_meta") as LabelMeta;
  }

  // -- scatterplot -----------------------------------------------------------------------------

  private async start(): Promise<void> {
    const { width, height } = this.size();
    try {
      this.scatterplot = createScatterplot({
        canvas: this.canvas,
        width,
        height,
        pointSize: this.pointSize,
        opacity: this.opacity,
        opacityInactiveScale: 0.6,
        pointSizeSelected: 1,
        pointOutlineWidth: 1,
        lassoMinDelay: 10,
        lassoMinDist: 2,
        deselectOnEscape: false,
        deselectOnDblClick: false,
      });
    } catch (error) {
      this.fail(`Cannot draw the scatter plot (WebGL unavailable?): ${String(error)}`);
      return;
    }
    const scatterplot = this.scatterplot;
    scatterplot.subscribe("select", ({ points }) => this.syncSelectionToModel(points));
    scatterplot.subscribe("deselect", () => this.syncSelectionToModel([]));
    scatterplot.subscribe("pointOver", (index) => this.hover(index));
    scatterplot.subscribe("pointOut", () => this.unhover());
    scatterplot.subscribe("lassoExtend", ({ coordinates }) => {
      // Typed as number[]; the vertices are [x, y] pairs. An empty lasso is a lasso's end.
      this.lasso = coordinates.length > 0 ? (coordinates as unknown as [number, number][]) : null;
    });
    await configure(scatterplot, { actionKeyMap: { merge: "shift", remove: "alt" } });
    this.applyTheme();
    this.applyMode();
    await this.drawPoints();
    this.syncFocusFromModel();
  }

  private async drawPoints(): Promise<void> {
    const scatterplot = this.scatterplot;
    if (!scatterplot) return;
    this.root.dataset.state = "loading";
    this.status.hidden = false;
    const { x, y } = splitXY(asFloat32(this.model.get("_points") as Binary));
    if (x.length !== this.config.n) {
      this.fail(`expected ${this.config.n} points, got ${x.length}`);
      return;
    }
    this.x = x;
    this.y = y;
    await this.recolor();
    if (this.destroyed) return;
    this.status.hidden = true;
    this.root.dataset.state = "ready";
  }

  private recolorPending = false;

  /** Colour trait and its metadata usually change together: redraw once per batch. */
  private scheduleRecolor(): void {
    if (this.recolorPending) return;
    this.recolorPending = true;
    queueMicrotask(() => {
      this.recolorPending = false;
      void this.recolor();
    });
  }

  private async recolor(): Promise<void> {
    const scatterplot = this.scatterplot;
    if (!scatterplot || this.x.length === 0) return;
    const meta = this.model.get("_color_meta") as ColorMeta;
    const codes = pointCodes(meta, this.model.get("_color") as Binary, this.x.length);
    renderLegend(this.legend, meta);
    await this.applyColors(scatterplot, meta);
    const spatialIndex = scatterplot.get("isPointsDrawn") ? scatterplot.get("spatialIndex") : undefined;
    await scatterplot.draw(
      { x: this.x, y: this.y, valueA: codes },
      { zDataType: "categorical", spatialIndex, preventFilterReset: true },
    );
    if (this.destroyed) return;
    this.syncSelectionFromModel();
    this.drawFocus();
  }

  /** Point colours, with one selection and hover colour whatever the colour map. */
  private applyColors(scatterplot: Scatterplot, meta: ColorMeta): Promise<void> {
    const colors = colorList(meta);
    const dark = this.dark;
    return configure(scatterplot, {
      colorBy: meta.kind === "none" ? null : "valueA",
      pointColor: colors,
      pointColorActive: colors.map(() => SELECTED_COLOR),
      pointColorHover: colors.map(() => (dark ? "#ffffff" : "#000000")),
    });
  }

  private size(): { width: number; height: number } {
    return {
      width: Math.max(1, this.plot.clientWidth || 640),
      height: Math.max(1, this.plot.clientHeight || 480),
    };
  }

  private resize(): void {
    if (!this.scatterplot) return;
    const { width, height } = this.size();
    void this.scatterplot.set({ width, height });
    this.applyTheme();
  }

  private applyHeight(): void {
    this.root.style.height = `${this.model.get("height") as number}px`;
  }

  /** Match JupyterLab's light or dark theme (CSS variables, light fallback). */
  private applyTheme(): void {
    if (!this.scatterplot) return;
    const background = getComputedStyle(this.root).backgroundColor;
    const dark = luminance(background) < 0.4;
    this.root.classList.toggle("gw-dark", dark);
    if (dark === this.dark) return;
    this.dark = dark;
    void this.scatterplot.set({
      backgroundColor: dark ? [0.1, 0.1, 0.1, 1] : [1, 1, 1, 1],
      lassoColor: dark ? [0.55, 0.8, 1, 1] : [0, 0.4, 0.8, 1],
    });
    void this.applyColors(this.scatterplot, this.model.get("_color_meta") as ColorMeta);
    this.drawFocus();
  }

  private applyMode(): void {
    const mode = this.mode;
    this.toolbar.setMode(mode);
    if (!this.scatterplot) return;
    void configure(this.scatterplot, {
      mouseMode: mode === "pan" ? "panZoom" : "lasso",
      lassoType: mode === "box" ? "rectangle" : "freeform",
    });
  }

  private applyStyle(): void {
    this.toolbar.setPointSize(this.pointSize);
    this.toolbar.setOpacity(this.opacity);
    void this.scatterplot?.set({ pointSize: this.pointSize, opacity: this.opacity });
  }

  private fail(message: string): void {
    this.root.dataset.state = "error";
    this.status.hidden = false;
    this.status.classList.add("gw-error");
    this.status.textContent = message;
  }

  // -- selection -------------------------------------------------------------------------------

  /** Save a selection the plot shows already, or that the caller shows next. */
  private syncSelectionToModel(points: ArrayLike<number>): void {
    const selection = encodeIndices(points);
    if (sameIndexSet(asUint32(selection), this.selection)) return;
    this.savingPlotSelection = true;
    try {
      this.save("_selection", selection);
    } finally {
      this.savingPlotSelection = false;
    }
  }

  private syncSelectionFromModel(): void {
    const selection = this.selection;
    this.updateCount();
    const scatterplot = this.scatterplot;
    if (this.savingPlotSelection || !scatterplot || !scatterplot.get("isPointsDrawn")) return;
    if (sameIndexSet(scatterplot.get("selectedPoints"), selection)) return;
    if (selection.length === 0) scatterplot.deselect({ preventEvent: true });
    else scatterplot.select(Array.from(selection), { preventEvent: true });
  }

  private clearSelection(): void {
    this.scatterplot?.deselect();
    this.syncSelectionToModel([]);
  }

  private updateCount(): void {
    this.toolbar.setCount(this.selection.length, this.config.n);
    this.labelBar.setSelected(this.selection.length);
  }

  /**
   * A lasso (or box) ends: select the points inside it (shift adds, alt or ctrl removes), send the
   * selection to the kernel, then show it in the plot. regl-scatterplot would select the same
   * points (same rule, see lasso.ts), but only after a slower hit test and a selection update that
   * the kernel would wait for: its lasso is ended without them. A lasso of one vertex (nothing
   * inside; no 'lassoExtend' yet) is left to it, with the same modifier keys.
   */
  private readonly onLassoEnd = (event: MouseEvent): void => {
    const vertices = this.lasso;
    const scatterplot = this.scatterplot;
    if (!vertices || !scatterplot || !scatterplot.get("isPointsDrawn")) return;
    this.lasso = null;
    const lassoed = pointsInPolygon(this.x, this.y, vertices.flat());
    this.syncSelectionToModel(combineSelection(this.selection, lassoed, lassoOp(event)));
    // Its mouseup handler, next, ends a lasso without vertices with no hit test or selection,
    // and then leaves the camera fixed as it was while lassoing: release it.
    vertices.length = 0;
    void scatterplot.set({ cameraIsFixed: scatterplot.get("cameraIsFixed") });
    this.syncSelectionFromModel();
  };

  /** Shift-click: add the galaxy to the selection, or take it out. */
  private toggleSelected(index: number): void {
    const selection = new Set(this.selection);
    if (selection.has(index)) selection.delete(index);
    else selection.add(index);
    this.save("_selection", encodeIndices(selection));
    this.syncSelectionFromModel();
  }

  // -- focus and neighbour panel ---------------------------------------------------------------

  private syncFocusFromModel(): void {
    this.drawFocus();
    const focus = this.focus;
    this.panel.markCurrent(focus);
    if (focus < 0 || focus === this.walkedTo || this.panelMode === "suggestions") return;
    this.walkedTo = -1;
    void this.showNeighbours(focus);
  }

  private drawFocus(): void {
    const scatterplot = this.scatterplot;
    if (!scatterplot || !scatterplot.get("isPointsDrawn")) return;
    const focus = this.focus;
    if (focus < 0 || focus >= this.x.length) {
      void scatterplot.clearAnnotations();
      return;
    }
    const lineColor: [number, number, number, number] = this.dark
      ? [1, 1, 1, 0.6]
      : [0, 0, 0, 0.6];
    void scatterplot.drawAnnotations([
      { x: this.x[focus], lineColor, lineWidth: 1 },
      { y: this.y[focus], lineColor, lineWidth: 1 },
    ]);
  }

  private async showNeighbours(focus: number): Promise<void> {
    const request = ++this.panelRequest;
    const k = this.model.get("k") as number;
    this.panel.loading("Finding neighbours…", k);
    const { reply } = await this.requests.request("neighbours", { index: focus });
    if (request !== this.panelRequest || this.destroyed) return;
    this.showReply(reply, `Neighbours of ${String(reply.id ?? "")}`);
  }

  private async showMoreLike(): Promise<void> {
    const request = ++this.panelRequest;
    const count = this.selection.length;
    this.panel.loading("Searching…", this.model.get("k") as number);
    const { reply } = await this.requests.request("more_like");
    if (request !== this.panelRequest || this.destroyed) return;
    this.showReply(reply, `More like the ${count.toLocaleString("en-US")} selected`);
  }

  private showReply(reply: Reply, title: string): void {
    if (!reply.ok) {
      this.panel.message("Neighbours unavailable", reply.reason ?? "unknown error");
      return;
    }
    this.panel.show(title, tiles(reply, reply.distances as number[]));
  }

  private async showSuggestions(): Promise<void> {
    const request = ++this.panelRequest;
    const { reply } = await this.requests.request("suggestions");
    if (request !== this.panelRequest || this.destroyed || this.panelMode !== "suggestions") return;
    const strategy = this.model.get("strategy") as string;
    if (!reply.ok || (reply.indices as number[]).length === 0) {
      const learn = this.model.get("_learn") as LearnStatus;
      const why = reply.ok ? learn.message || "label galaxies of two classes first" : reply.reason;
      this.panel.message("No suggestions yet", why ?? "");
      return;
    }
    this.panel.show(`Suggestions (${strategy})`, tiles(reply, reply.scores as (number | null)[]));
  }

  private setPanelMode(mode: PanelMode): void {
    this.panelMode = mode;
    this.panel.setMode(mode);
    this.walkedTo = -1;
    if (mode === "suggestions") void this.showSuggestions();
    else if (this.focus >= 0) void this.showNeighbours(this.focus);
    else this.panel.message("Neighbours", "Click a galaxy to see its neighbours");
  }

  /** Focus a galaxy of the panel and pan to it, keeping the panel's list. */
  private walkTo(index: number): void {
    this.walkedTo = index;
    this.panToPoint(index);
    this.save("_focus", index);
    this.panel.markCurrent(index);
  }

  /** Move along the panel's tiles; `skipLabelled` passes over galaxies that have a label. */
  private walkPanel(step: number, skipLabelled = false): void {
    const shown = this.panel.tiles;
    let at = shown.findIndex((t) => t.index === this.focus);
    for (;;) {
      const next = walk(shown.length, at, step);
      if (next < 0 || next === at) return;
      at = next;
      if (!skipLabelled || this.labelCodes[shown[at].index] === UNLABELLED) break;
    }
    this.walkTo(shown[at].index);
  }

  private pickNeighbour(index: number): void {
    this.walkedTo = -1;
    if (index === this.focus) void this.showNeighbours(index);
    else this.save("_focus", index);
    this.panToPoint(index);
  }

  private panToPoint(index: number): void {
    const scatterplot = this.scatterplot;
    if (!scatterplot) return;
    const distance = Math.min(scatterplot.get("cameraDistance"), FOCUS_ZOOM_DISTANCE);
    void scatterplot.zoomToLocation([this.x[index], this.y[index]], distance, {
      transition: true,
      transitionDuration: 400,
    });
  }

  // -- labels ----------------------------------------------------------------------------------

  private syncLabels(): void {
    const codes = asBytes(this.model.get("_labels") as Binary);
    this.labelCodes = codes.length === this.config.n ? codes : new Uint8Array(this.config.n);
    this.panel.refreshBadges();
  }

  private syncLabelMeta(): void {
    const meta = this.labelMeta;
    this.labelBar.update(meta);
    this.panel.enableModes(meta.classes.length > 0);
    this.panel.setMode(this.panelMode);
  }

  private async labelFocused(label: string | null): Promise<void> {
    const index = this.focus;
    if (index < 0) {
      this.labelBar.setSaved("error", "click a galaxy first");
      return;
    }
    this.labelBar.setSaved("saving");
    if (this.panelMode === "suggestions") this.walkPanel(1, true);
    this.showSaved(await this.requests.request("label", { index, label }));
  }

  private async labelSelection(label: string | null): Promise<void> {
    this.labelBar.setSaved("saving");
    this.showSaved(await this.requests.request("label_selection", { label }));
  }

  private async undoRedo(kind: "undo" | "redo"): Promise<void> {
    this.labelBar.setSaved("saving");
    this.showSaved(await this.requests.request(kind));
  }

  private showSaved({ reply }: { reply: Reply }): void {
    if (this.destroyed) return;
    if (reply.ok && reply.saved === true) this.labelBar.setSaved("saved");
    else this.labelBar.setSaved("error", `not saved: ${reply.reason ?? "unknown error"}`);
  }

  // -- pointer, keyboard and tooltip -----------------------------------------------------------

  private readonly onPointerDown = (event: PointerEvent): void => {
    this.root.focus({ preventScroll: true });
    this.pointerDown = [event.clientX, event.clientY];
    // regl-scatterplot knows one key per action: let ctrl remove as alt does.
    if (!this.scatterplot) return;
    void configure(this.scatterplot, {
      actionKeyMap: { merge: "shift", remove: event.ctrlKey ? "ctrl" : "alt" },
    });
  };

  /** Plain click focuses the galaxy under the mouse, shift-click toggles it in the selection;
   * the selection is otherwise left alone (regl-scatterplot would replace it). */
  private readonly onClick = (event: MouseEvent): void => {
    if (event.target !== this.canvas) return;
    event.stopPropagation();
    const start = this.pointerDown;
    this.pointerDown = null;
    if (!start || this.hovered < 0) return;
    if (Math.hypot(event.clientX - start[0], event.clientY - start[1]) > 3) return;
    if (event.shiftKey) this.toggleSelected(this.hovered);
    else if (!event.altKey && !event.ctrlKey) this.save("_focus", this.hovered);
  };

  private readonly onKeyDown = (event: KeyboardEvent): void => {
    const target = event.target as HTMLElement | null;
    if (target && (target.tagName === "SELECT" || target.tagName === "INPUT")) return;
    if (event.key === "Escape") {
      event.stopPropagation();
      this.clearSelection();
      return;
    }
    const action = keyAction(event, this.labelMeta, PANEL_COLUMNS);
    if (!action) return;
    event.preventDefault();
    event.stopPropagation(); // JupyterLab's shortcuts (bubbling) must not see labelling keys
    switch (action.kind) {
      case "label":
        void this.labelFocused(action.label);
        break;
      case "remove":
        void this.labelFocused(null);
        break;
      case "undo":
      case "redo":
        void this.undoRedo(action.kind);
        break;
      case "walk":
        this.walkPanel(action.step);
        break;
      case "open":
        if (this.focus >= 0) this.setPanelMode("neighbours");
        break;
    }
  };

  private readonly onPointerMove = (event: PointerEvent): void => {
    const rect = this.plot.getBoundingClientRect();
    this.tooltip.moveTo(event.clientX - rect.left, event.clientY - rect.top, rect.width, rect.height);
  };

  private readonly onPointerLeave = (): void => this.unhover();

  private readonly requestHover = debounce((index: number) => void this.showTooltip(index), HOVER_DELAY_MS);

  private hover(index: number): void {
    this.hovered = index;
    this.requestHover(index);
  }

  private unhover(): void {
    this.hovered = -1;
    this.requestHover.cancel();
    this.tooltip.hide();
  }

  private async showTooltip(index: number): Promise<void> {
    const thumbnail = this.config.image_kind === "none" ? null : this.thumbnails.get(index);
    const { reply } = await this.requests.request("hover", { index });
    if (this.hovered !== index || this.destroyed || !reply.ok) return;
    this.tooltip.show(String(reply.id), reply.fields as [string, string][], thumbnail);
  }

  // -- teardown --------------------------------------------------------------------------------

  destroy(): void {
    this.destroyed = true;
    for (const [event, callback] of this.listeners) this.model.off(event, callback);
    window.removeEventListener("mouseup", this.onLassoEnd, { capture: true });
    this.requestHover.cancel();
    this.resizeObserver.disconnect();
    this.requests.dispose();
    this.thumbnails.dispose();
    this.scatterplot?.destroy();
    this.scatterplot = null;
    this.root.remove();
  }
}

/** Panel tiles from a reply's `indices` and `ids` and one value per tile. */
function tiles(reply: Reply, values: (number | null)[]): Tile[] {
  const ids = reply.ids as string[];
  return (reply.indices as number[]).map((index, i) => ({ index, id: ids[i], value: values[i] ?? null }));
}

/** Relative luminance (0 dark … 1 light) of a CSS rgb()/rgba() colour; transparent counts as light. */
function luminance(css: string): number {
  const parts = css.match(/[\d.]+/g)?.map(Number) ?? [];
  if (parts.length < 3 || parts[3] === 0) return 1;
  const [r, g, b] = parts;
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}

function render({ model, el }: { model: Model; el: HTMLElement }): () => void {
  const view = new ExplorerView(model, el);
  return () => view.destroy();
}

export default { render };
