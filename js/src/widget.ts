// galwidget Explorer front end: the wiring. The model boundary (model.ts, protocol.ts) decodes
// traits, requests.ts carries requests, labelcodes.ts holds the label codes, scatter.ts draws
// (the only module that knows regl-scatterplot), panelcontroller.ts drives the side panel; this
// module connects them to the toolbar, label bar, tooltip and legend, the pointer and the keys.
// Plain click focuses a galaxy; shift-click toggles it in the selection; a lasso replaces the
// selection, or adds to it (shift, or the toolbar's Add) or removes from it (alt or ctrl, or the
// toolbar's Remove); Esc clears it. Pointer presses with a modifier key stop at the widget, so
// that a notebook (JupyterLab's shift-drag cell selection) never takes them.

import { colorList, largerCodes, pointCodes, updateLabelColors } from "./colors";
import { Controls, type ExportFormat, type ExportWhat } from "./controls";
import { debounce } from "./debounce";
import { DensityCanvas, LevelOfDetail, type LoadedPoints, localShown, resetView, VIEW_MARKS, viewRectangle } from "./detail";
import { filterText, keepShown, type Shown, shownOf } from "./filter";
import { FocusCard } from "./focuscard";
import { element } from "./dom";
import { type LabelChange, LabelCodes } from "./labelcodes";
import { helpText, keyAction, LabelBar, labelOf } from "./labels";
import { MapImages } from "./mapimages";
import { MapOverlay } from "./overlay";
import { combineSelection, type LassoOp, lassoOp, pointsInPolygon } from "./lasso";
import { renderLegend } from "./legend";
import { nearestWithin } from "./pick";
import { SyncedModel } from "./model";
import { PanelController } from "./panelcontroller";
import type { ShowImages } from "./placement";
import { samePositions, sortedPositions, toggled } from "./positions";
import { type ColorMeta, decodeEvent, type FilterMeta, type Model, type Reply, UNLABELLED } from "./protocol";
import { Latest, Requests } from "./requests";
import { ScatterAdapter } from "./scatter";
import { Selected } from "./selected";
import { SearchBox } from "./search";
import { Thumbnails } from "./thumbnails";
import { Toolbar } from "./toolbar";
import { Tooltip } from "./tooltip";
import "./widget.css";

const REQUEST_TIMEOUT_MS = 20000;
/** Saving labels can take the kernel long at millions of rows: never report "not saved" early. */
const SAVE_TIMEOUT_MS = 300000;
const HOVER_DELAY_MS = 120;
/** The first search by sky position builds the kernel's sky index. */
const SEARCH_TIMEOUT_MS = 60000;
const NOTICE_MS = 12000;
/** Labels may change several times a second: draw the labelled on top once they settle. */
const RAISE_LABELLED_MS = 250;
/** A click or tap picks the nearest galaxy within this many pixels. */
const PICK_RADIUS_PX = 6;
/** A press that travelled farther than this (pixels) before its release is a drag, not a click. */
const CLICK_TRAVEL_PX = 3;

class ExplorerView {
  private readonly root = element("div", "galwidget");
  private readonly plot = element("div", "gw-plot");
  private readonly canvas = element("canvas", "gw-canvas");
  private readonly legend = element("div", "gw-legend");
  private readonly status = element("div", "gw-status", "Loading galaxies…");
  private readonly scale = element("div", "gw-scale");
  private readonly scaleLabel = element("span", "gw-scale-label");
  /** What a lasso without modifier keys does (the toolbar's Add / Remove toggles). */
  private stickyOp: LassoOp = "replace";
  /** How far the pointer travelled since it was pressed on the canvas (pixels). */
  private travel = 0;
  private readonly model: SyncedModel;
  private readonly n: number;
  private readonly requests: Requests;
  private readonly thumbnails: Thumbnails;
  /** Thumbnails drawn in the map when zoomed in (mapimages.ts). */
  private readonly mapImages: MapImages;
  private readonly panel: PanelController;
  private readonly labels: LabelCodes;
  private readonly focusCard: FocusCard;
  /** The large image view of the focused galaxy, over the map (space, or a click on the card's image). */
  private readonly viewer: FocusCard;
  private readonly help = element("div", "gw-help");
  private readonly splitter = element("div", "gw-splitter");
  private readonly search: SearchBox;
  private readonly controls: Controls;
  private readonly tooltip = new Tooltip();
  private readonly toolbar: Toolbar;
  private readonly labelBar: LabelBar;
  private readonly resizeObserver: ResizeObserver;
  private readonly hoverRequest = new Latest();
  private scatter: ScatterAdapter | null = null;
  private x: Float32Array = new Float32Array(0);
  private y: Float32Array = new Float32Array(0);
  /** Color code per position, as drawn. */
  private codes: Float32Array = new Float32Array(0);
  /** The filter in force (null: every galaxy shown); selection tools act on shown ones only. */
  private shown: Shown | null = null;
  /** Beyond the point budget (detail.ts): the level of detail, the points loaded (the scatter
   * draws them by local index; x, y, codes are theirs) and the filter on them. */
  private detail: LevelOfDetail | null = null;
  private loaded: LoadedPoints | null = null;
  private shownLoaded: Shown | null = null;
  private readonly density = new DensityCanvas();
  private hovered = -1;
  private dark: boolean | null = null;
  private pointerDown: [number, number] | null = null;
  /** True while saving a selection the plot shows already, or that its saver shows next. */
  private savingPlotSelection = false;
  private noticeTimer: ReturnType<typeof setTimeout> | undefined;
  private destroyed = false;

  constructor(model: Model, el: HTMLElement) {
    this.model = new SyncedModel(model);
    const config = this.model.config;
    this.n = config.n;
    this.requests = new Requests((content, buffers) => this.model.send(content, buffers), {
      timeoutMs: REQUEST_TIMEOUT_MS,
      n: config.n,
      maxMessageBytes: config.max_message_bytes,
    });
    this.thumbnails = new Thumbnails(this.requests, config.image_kind);
    this.mapImages = new MapImages({
      view: () => this.scatter?.screenTransform(this.x, this.y) ?? null,
      zoom: () => this.scatter?.zoom() ?? 1,
      points: () => ({ x: this.x, y: this.y, positions: this.loaded?.positions ?? null }),
      thumbnails: (positions, signal) => this.thumbnails.getMany(positions, signal),
      focus: () => this.model.get("_focus"),
      selected: (position) => this.selected.has(position),
      labelled: (position) => this.labels.codes[position] !== UNLABELLED,
      badge: (position) => labelOf(this.labels.codes[position], this.model.get("_label_meta")),
      shown: (position) => !this.shown || this.shown.mask[position] === 1,
      dark: () => this.dark === true,
      setShowImages: (setting) => this.model.save("show_images", setting),
    });
    this.labels = new LabelCodes(
      config.n,
      async () => {
        const reply = await this.requests.request("labels", {});
        if (!reply.ok) this.notify(`Cannot read the labels: ${reply.reason}`);
        return reply.ok ? reply : null;
      },
      (change) => this.labelsChanged(change),
    );
    this.panel = new PanelController(this.requests, this.thumbnails, {
      focus: () => this.model.get("_focus"),
      setFocus: (position) => this.model.save("_focus", position),
      panTo: (position) => this.panTo(position),
      showNeighbors: (positions) => this.ringNeighbors(positions),
      k: () => this.model.get("k"),
      strategy: () => this.model.get("strategy"),
      learnMessage: () => this.model.get("_learn").message,
      selectedCount: () => this.selected.count,
      labelCode: (position) => this.labels.codes[position],
      badgeOf: (position) => labelOf(this.labels.codes[position], this.model.get("_label_meta")),
      removeFromSelection: (position) => this.toggleSelected(position),
      setWide: (wide) => this.root.classList.toggle("gw-wide", wide),
      numericColumns: config.numeric_columns ?? [],
      neighborNote: config.neighbor_space === "layout" ? " in the 2-D map (the data has no features)" : "",
    });
    const images = config.image_kind === "none" ? null : this.thumbnails;
    this.focusCard = new FocusCard(this.requests, images, () => this.toggleViewer());
    const large = config.image_kind === "none" ? null : new Thumbnails(this.requests, config.image_kind, 16, "image");
    this.viewer = new FocusCard(this.requests, large, () => this.toggleViewer(), true);
    this.panel.panel.addAboveTiles(this.focusCard.el);
    this.toolbar = new Toolbar({
      mode: (mode) => this.model.save("mode", mode),
      lassoOp: (op) => {
        this.stickyOp = op;
      },
      help: () => this.toggleHelp(),
      fullscreen: () => void this.toggleFullscreen(),
      clearFilter: () => void this.filterCategory("", null, false),
      reset: () => this.scatter?.reset(),
      pointSize: (size) => this.model.save("point_size", size),
      opacity: (opacity) => this.model.save("opacity", opacity),
      moreLike: () => void this.panel.showMoreLike(),
      clear: () => this.clearSelection(),
    });
    this.search = new SearchBox({
      find: (text) => this.requests.request("find", { text }, { timeoutMs: SEARCH_TIMEOUT_MS }),
      found: (position) => {
        const xy = this.xyOf(position);
        if (xy) this.scatter?.zoomTo(xy[0], xy[1]);
      },
    });
    this.controls = new Controls(config.color_columns ?? [], config.layouts ?? [], {
      colorBy: (column) => void this.colorBy(column),
      zoomToSelection: () => this.scatter?.zoomToPositions(this.selectedLocal()),
      exportData: (what, format) => void this.exportData(what, format),
      layout: (name) => this.model.save("layout_name", name),
    });
    this.toolbar.el.append(this.controls.el, this.search.el);
    if (config.image_kind !== "none") this.controls.el.after(this.mapImages.control);
    this.labelBar = new LabelBar(
      {
        label: (label) => void this.labelFocused(label),
        undo: () => void this.undoRedo("undo"),
        redo: () => void this.undoRedo("redo"),
        labelSelection: (label) => void this.labelSelection(label),
        strategy: (strategy) => this.model.save("strategy", strategy),
      },
      config.confirm_over,
    );

    const body = element("div", "gw-body");
    this.scale.append(this.scaleLabel);
    this.scale.title = "Zoom (1: the whole map); the 2-D map's axes have no physical unit";
    this.plot.append(this.canvas, this.legend, this.scale, this.toolbar.filterStatus, this.tooltip.el, this.status, this.viewer.el, this.help);
    this.help.hidden = true;
    this.help.append(...helpText().map(([keys, what]) => {
      const row = element("div", "gw-help-row");
      row.append(element("kbd", "gw-help-keys", keys), element("span", "", what));
      return row;
    }));
    this.help.addEventListener("click", () => this.toggleHelp());
    this.splitter.title = "Drag to widen or narrow the panel";
    this.splitter.addEventListener("pointerdown", this.onSplitterDown);
    // The sky's graticule and the clusters' names over the map (overlay.ts).
    const overlay = new MapOverlay({
      view: () => this.scatter?.screenTransform(this.x, this.y) ?? null,
      point: (position) => this.xyOf(position),
      thumbnail: config.image_kind === "none" ? null : (position) => this.thumbnails.get(position),
      selectCluster: (cluster) => void this.requests.request("select_cluster", { cluster }),
    });
    this.canvas.after(this.mapImages.canvas, overlay.el);
    this.canvas.before(this.density.el);
    this.density.el.hidden = true;
    overlay.set(this.model.get("_overlay"));
    this.model.on(["change:_overlay"], () => overlay.set(this.model.get("_overlay")));
    body.append(this.plot, this.splitter, this.panel.panel.el);
    this.root.append(this.toolbar.el, this.labelBar.el, body);
    this.root.tabIndex = 0;
    this.root.dataset.state = "loading";
    el.append(this.root);
    this.applyHeight();

    this.model.onMessage((content, buffers) => this.receive(content, buffers));
    this.model.on(["change:_points", "change:point_budget"], () => this.scheduleDrawPoints());
    this.model.on(["change:layout_name"], () => this.detail && this.scheduleDrawPoints());
    this.model.on(["change:_color", "change:_color_meta"], () => this.scheduleRecolor());
    this.model.on(["change:_color_meta"], () => this.controls.setColor(this.colorMeta));
    this.model.on(["change:layout_name"], () => this.controls.setLayout(this.model.get("layout_name")));
    this.model.on(["change:_selection"], () => this.syncSelectionFromModel());
    this.model.on(["change:_filter", "change:_filter_meta"], () => this.scheduleFilter());
    this.model.on(["change:_focus", "change:k"], () => this.syncFocusFromModel());
    this.model.on(["change:mode"], () => this.applyMode());
    this.model.on(["change:point_size", "change:opacity"], () => this.applyStyle());
    this.model.on(["change:height"], () => this.applyHeight());
    this.model.on(["change:_label_meta"], () => this.syncLabelMeta());
    this.model.on(["change:_learn"], () => this.syncLearn());
    this.model.on(["change:strategy"], () => this.labelBar.setStrategy(this.model.get("strategy")));
    this.model.on(["change:show_images"], () => this.mapImages.setSetting(this.showImages));
    this.model.on(["change:_selection", "change:_focus", "change:_filter", "change:_label_meta"], () => this.mapImages.update());

    this.root.addEventListener("keydown", this.onKeyDown);
    for (const type of ["mousedown", "pointerdown"] as const) this.root.addEventListener(type, this.keepModifiedPress);
    this.plot.addEventListener("pointermove", this.onPointerMove);
    this.plot.addEventListener("pointerleave", this.onPointerLeave);
    this.canvas.addEventListener("pointerdown", this.onPointerDown, { capture: true });
    // Before regl-scatterplot's own click handler, which would select the clicked point.
    this.plot.addEventListener("click", this.onClick, { capture: true });
    // Before regl-scatterplot's own mouseup listener (window, bubbling), which ends its lasso.
    window.addEventListener("mouseup", this.onLassoEnd, { capture: true });

    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(this.plot);

    this.toolbar.setMode(this.model.get("mode"));
    this.controls.setColor(this.colorMeta);
    this.controls.setLayout(this.model.get("layout_name"));
    this.applyStyle();
    this.updateCount();
    this.syncLabelMeta();
    this.labelBar.setLearn(this.model.get("_learn"));
    this.labelBar.setStrategy(this.model.get("strategy"));
    this.mapImages.setSetting(this.showImages);
    void this.start();
  }

  // -- start, drawing and colors --------------------------------------------------------------

  private async start(): Promise<void> {
    const { width, height } = this.size();
    try {
      this.scatter = await ScatterAdapter.create(
        this.canvas,
        { width, height, pointSize: this.model.get("point_size"), opacity: this.model.get("opacity") },
        {
          select: (points) => this.syncSelectionToModel(keepShown(this.toGlobal(points), this.shown)),
          deselect: () => this.syncSelectionToModel([]),
          // Over a thumbnail in the map, the pointer is that galaxy's, not the points' under it.
          hover: (position) => this.overImage || this.hover(this.loaded ? this.loaded.positions[position] : position),
          unhover: () => this.overImage || this.unhover(),
          view: () => {
            this.showZoom();
            this.viewMoved();
            this.mapImages.update();
          },
        },
      );
    } catch (error) {
      this.fail(`Cannot draw the scatter plot (WebGL unavailable?): ${String(error)}`);
      return;
    }
    if (this.destroyed) return;
    this.applyTheme();
    this.applyMode();
    if (this.model.get("_label_meta").classes.length > 0) void this.labels.refresh();
    this.syncFilter();
    await this.drawPoints();
    this.syncFocusFromModel();
    this.showZoom();
  }

  private drawPointsPending = false;

  /** `_points`, the point budget and the layout may change together: draw once per batch. */
  private scheduleDrawPoints(): void {
    if (this.drawPointsPending) return;
    this.drawPointsPending = true;
    queueMicrotask(() => {
      this.drawPointsPending = false;
      void this.drawPoints();
    });
  }

  private async drawPoints(): Promise<void> {
    if (!this.scatter) return;
    this.root.dataset.state = "loading";
    this.status.hidden = false;
    const wasDetail = this.detail !== null;
    this.detail?.dispose();
    this.detail = null;
    this.loaded = null;
    if (this.n > this.model.get("point_budget")) {
      await this.startDetail();
      return;
    }
    this.scatter.setSeeThrough(false);
    this.density.el.hidden = true;
    delete this.root.dataset.detail;
    try {
      ({ x: this.x, y: this.y } = this.model.xy());
    } catch (error) {
      this.fail(String(error));
      return;
    }
    if (wasDetail) this.syncFilter(); // the filter on every point again, not on the loaded ones
    this.drawnColors.signature = ""; // new points: draw them whatever the colors
    await this.recolor();
    if (this.destroyed) return;
    this.status.hidden = true;
    this.root.dataset.state = "ready";
    this.mapImages.update();
  }

  // -- level of detail beyond the point budget (detail.ts) ---------------------------------------

  /** Draw the density and the sample, then the points in view as the view moves. */
  private async startDetail(): Promise<void> {
    const scatter = this.scatter;
    if (!scatter) return;
    const detail = new LevelOfDetail(
      {
        request: (kind, params, signal, timeoutMs) => this.requests.request(kind, params, { signal, timeoutMs }),
        loaded: (points) => void this.showLoaded(detail, points),
        densityChanged: () => this.paintDensity(),
        failed: (message) => this.notify(message),
      },
      this.model.get("point_budget"),
      this.model.get("layout_name"),
    );
    this.detail = detail;
    this.root.dataset.detail = "density";
    scatter.setSeeThrough(true);
    this.density.el.hidden = false;
    this.x = this.y = new Float32Array(0);
    this.paintDensity();
    this.densityOf = null;
    this.syncSelectionDensity();
    await detail.start();
  }

  /** Draw the points `detail` loaded (the sample, with those in view). */
  private async showLoaded(detail: LevelOfDetail, points: LoadedPoints): Promise<void> {
    if (detail !== this.detail || this.destroyed) return;
    // The same points again (a view whose points are all loaded already): nothing to redraw.
    if (!this.loaded?.equals(points)) {
      this.loaded = points;
      ({ x: this.x, y: this.y } = points);
      this.root.dataset.loaded = String(points.length);
      // A filter's mask follows the new points (without one, nothing to redraw: the draw below does).
      if (this.shown || this.shownLoaded) this.syncFilter();
      this.drawnColors.signature = ""; // new points: draw them whatever the colors
      await this.recolor();
      if (detail !== this.detail || this.destroyed) return;
    }
    this.status.hidden = true;
    this.root.dataset.state = "ready";
    const view = detail.viewAnswered;
    if (view) performance.mark(VIEW_MARKS.drawn);
    this.root.dataset.detail = view ? "view" : "sample";
    // How many of the points in view are drawn (the others are density only), e.g. "50000 of 212345".
    if (view) this.root.dataset.inView = `${view.count} of ${view.total}`;
    else delete this.root.dataset.inView;
    this.paintDensity();
  }

  /** Pan or zoom: move the density with the points, and load the points in view. */
  private viewMoved(): void {
    const detail = this.detail;
    if (!detail) return;
    this.paintDensity();
    const { width, height } = this.size();
    const view = this.scatter?.screenTransform(this.x, this.y) ?? null;
    if (view) detail.viewChanged(viewRectangle(view, width, height));
  }

  private densityFrame = 0;

  /** Paint the density layers once in the next animation frame (views change many times a frame). */
  private paintDensity(): void {
    if (this.densityFrame) return;
    this.densityFrame = requestAnimationFrame(() => {
      this.densityFrame = 0;
      this.paintDensityNow();
    });
  }

  private paintDensityNow(): void {
    const detail = this.detail;
    if (!detail || this.destroyed) return;
    const { width, height } = this.size();
    const view = (this.x.length > 0 ? this.scatter?.screenTransform(this.x, this.y) : null) ?? resetView(width, height);
    const dark = this.dark === true;
    this.density.keep([detail.all, detail.selection]);
    this.density.paint(
      [
        [detail.all, dark ? [190, 190, 190] : [90, 90, 90], 0.7],
        [detail.selection, dark ? [255, 255, 255] : [0, 0, 0], 0.9],
      ],
      view,
      width,
      height,
    );
  }

  /** (x, y) of `position` when its point is here, else null. */
  private xyOf(position: number): [number, number] | null {
    if (this.loaded) return this.loaded.xyOf(position);
    return position >= 0 && position < this.x.length ? [this.x[position], this.y[position]] : null;
  }

  /** Global positions of the scatter's indices. */
  private toGlobal(points: ArrayLike<number>): ArrayLike<number> {
    return this.loaded ? this.loaded.globalsOf(points) : points;
  }

  private recolorPending = false;
  /** What the drawn colors were made of: color meta (but counts), classes, `_color` value. */
  private drawnColors: { signature: string; raw: DataView | null } = { signature: "", raw: null };

  /** Color trait and its metadata usually change together: redraw once per batch. */
  private scheduleRecolor(): void {
    if (this.recolorPending) return;
    this.recolorPending = true;
    queueMicrotask(() => {
      this.recolorPending = false;
      void this.recolor();
    });
  }

  private async recolor(): Promise<void> {
    const scatter = this.scatter;
    if (!scatter || this.x.length === 0) return;
    const meta = this.colorMeta;
    const classes = this.model.get("_label_meta").classes;
    renderLegend(this.legend, meta, classes, this.model.get("_label_meta").counts, (category, only) =>
      void this.filterCategory(meta.kind === "categorical" ? meta.column : "", category, only),
    );
    // A new count of missing (unlabelled) points alone changes no color: keep the points.
    const { missing: _, ...coloring } = { missing: 0, ...meta };
    const colors = this.model.rawColors();
    const signature = JSON.stringify([coloring, classes]);
    if (signature === this.drawnColors.signature && colors === this.drawnColors.raw) return;
    this.drawnColors = { signature, raw: colors };
    try {
      this.codes = pointCodes(meta, this.model.colors(meta), this.labels.codes, classes.length, this.loaded?.positions ?? null);
    } catch (error) {
      this.fail(String(error));
      return;
    }
    await scatter.setColors(colorList(meta, classes), meta.kind !== "none", largerCodes(meta, classes));
    await scatter.draw(this.x, this.y, this.codes);
    this.raiseLabelled();
    if (this.destroyed) return;
    this.syncSelectionFromModel();
    this.drawFocus();
  }

  private filterPending = false;

  /** `_filter` and its meta change together: apply them once per batch. */
  private scheduleFilter(): void {
    if (this.filterPending) return;
    this.filterPending = true;
    queueMicrotask(() => {
      this.filterPending = false;
      this.syncFilter();
    });
  }

  /** Dim or hide what the filter leaves out, and say how many are shown. */
  private syncFilter(): void {
    const meta: FilterMeta = this.model.get("_filter_meta") ?? { mode: "none", shown: this.n, description: "" };
    try {
      this.shown = shownOf(meta, this.model.filterPositions(), this.n);
    } catch (error) {
      this.notify(`Cannot apply the filter: ${String(error)}`);
      this.shown = null;
    }
    this.toolbar.setFilter(filterText(meta, this.n));
    this.root.dataset.filter = this.shown?.mode ?? "none";
    this.shownLoaded = this.loaded ? localShown(this.shown, this.loaded) : this.shown;
    void this.scatter?.setFilter(this.shownLoaded);
  }

  /** The color menu: Python colors (and `_color_meta` comes back); a refusal is shown. */
  private async colorBy(column: string | null): Promise<void> {
    const reply = await this.requests.request("color_by", { column });
    if (reply.ok || this.destroyed) return;
    this.notify(`Cannot color by ${column}: ${reply.reason}`);
    this.controls.setColor(this.colorMeta);
  }

  /** A legend entry clicked: show only that category, or hide it (the kernel filters). */
  private async filterCategory(column: string, category: string | null, only: boolean): Promise<void> {
    const reply = await this.requests.request("filter_category", { column, category, only });
    if (!reply.ok && !this.destroyed) this.notify(`Cannot filter: ${reply.reason}`);
  }

  /** Download the selection or the labels as a file, as the kernel writes them. */
  private async exportData(what: ExportWhat, format: ExportFormat): Promise<void> {
    const reply = await this.requests.request("export", { what, format }, { timeoutMs: SAVE_TIMEOUT_MS });
    if (this.destroyed) return;
    if (!reply.ok) {
      this.notify(`Cannot export the ${what}: ${reply.reason}`);
      return;
    }
    const url = URL.createObjectURL(new Blob([reply.data.slice()], { type: reply.mime }));
    const link = element("a", "gw-download");
    link.href = url;
    link.download = reply.filename;
    this.root.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  private get showImages(): ShowImages {
    return this.model.get("show_images") ?? "auto";
  }

  private get colorMeta(): ColorMeta {
    return this.model.get("_color_meta");
  }

  private size(): { width: number; height: number } {
    return {
      width: Math.max(1, this.plot.clientWidth || 640),
      height: Math.max(1, this.plot.clientHeight || 480),
    };
  }

  private resize(): void {
    if (!this.scatter) return;
    const { width, height } = this.size();
    this.scatter.resize(width, height);
    this.applyTheme();
    this.paintDensity();
  }

  private applyHeight(): void {
    this.root.style.height = `${this.model.get("height")}px`;
  }

  /** Match JupyterLab's light or dark theme (CSS variables, light fallback). */
  private applyTheme(): void {
    const scatter = this.scatter;
    if (!scatter) return;
    const dark = luminance(getComputedStyle(this.root).backgroundColor) < 0.4;
    this.root.classList.toggle("gw-dark", dark);
    if (dark === this.dark) return;
    this.dark = dark;
    scatter.setTheme(dark);
    const meta = this.colorMeta;
    const classes = this.model.get("_label_meta").classes;
    void scatter.setColors(colorList(meta, classes), meta.kind !== "none", largerCodes(meta, classes));
    this.drawFocus();
  }

  private applyMode(): void {
    const mode = this.model.get("mode");
    this.toolbar.setMode(mode);
    this.scatter?.setMode(mode);
  }

  private applyStyle(): void {
    const pointSize = this.model.get("point_size");
    const opacity = this.model.get("opacity");
    this.toolbar.setPointSize(pointSize);
    this.toolbar.setOpacity(opacity);
    this.scatter?.setStyle(pointSize, opacity);
  }

  /** A lasting error: the widget cannot show its data. */
  private fail(message: string): void {
    this.root.dataset.state = "error";
    this.status.hidden = false;
    this.status.classList.add("gw-error");
    this.status.textContent = message;
  }

  /** A passing error (a refused selection, a kernel error event) in the status line. */
  private notify(message: string): void {
    if (this.root.dataset.state === "error") return;
    clearTimeout(this.noticeTimer);
    this.status.hidden = false;
    this.status.classList.add("gw-error");
    this.status.textContent = message;
    this.root.dataset.notice = message;
    this.noticeTimer = setTimeout(() => {
      this.status.hidden = this.root.dataset.state === "ready";
      this.status.classList.remove("gw-error");
      delete this.root.dataset.notice;
    }, NOTICE_MS);
  }

  /** A custom message: a reply to one of our requests, or an event. */
  private receive(content: unknown, buffers: DataView[]): void {
    if (this.requests.handle(content, buffers)) return;
    let event: ReturnType<typeof decodeEvent>;
    try {
      event = decodeEvent(content, buffers, this.n);
    } catch (error) {
      this.notify(`Malformed message from the kernel: ${String(error)}`);
      return;
    }
    if (event?.kind === "labels") this.labels.apply(event);
    else if (event?.kind === "error") this.notify(event.message);
    else if (event?.kind === "zoom_to_selection") this.scatter?.zoomToPositions(this.selectedLocal());
  }

  // -- selection -------------------------------------------------------------------------------

  /** The selection, not expanded (selected.ts): beyond the point budget it can be most of 76M. */
  private get selected(): Selected {
    try {
      return this.model.selected();
    } catch (error) {
      this.notify(`Cannot read the selection: ${String(error)}`);
      return Selected.none;
    }
  }

  /** The selection's sorted positions (4 bytes a selected galaxy: for the page's own tools). */
  private get selection(): Uint32Array {
    return this.selected === Selected.none ? new Uint32Array(0) : this.selected.positions();
  }

  /** The scatter's indices of the selected points drawn. */
  private selectedLocal(): Uint32Array {
    return this.loaded ? this.selected.indicesIn(this.loaded.positions) : this.selected.positions();
  }

  /** The selection whose density was asked for (beyond the budget), so that a load asks again only for a new one. */
  private densityOf: Selected | null = null;

  /** Beyond the budget: ask for the density of a new selection (not again for the same one). */
  private syncSelectionDensity(): void {
    const selected = this.selected;
    if (!this.detail || this.savingPlotSelection || (this.densityOf?.equals(selected) ?? selected.count === 0)) return;
    this.densityOf = selected;
    void this.detail.selectionChanged(selected.count);
  }

  /**
   * Save a selection the plot shows already, or that the caller shows next. A selection too
   * large to send is refused with a notice, and the plot goes back to the selection in force.
   */
  private syncSelectionToModel(positions: ArrayLike<number>): boolean {
    const sorted = sortedPositions(positions);
    if (this.selected.equals(Selected.of(sorted))) return true; // counts first: no expanding of a large one
    this.savingPlotSelection = true;
    try {
      this.model.saveSelection(sorted);
      return true;
    } catch (error) {
      this.notify(error instanceof Error ? error.message : String(error));
      queueMicrotask(() => this.syncSelectionFromModel());
      return false;
    } finally {
      this.savingPlotSelection = false;
      this.updateCount();
    }
  }

  private syncSelectionFromModel(): void {
    const selected = this.selected;
    this.updateCount();
    this.panel.selectionChanged(selected);
    this.syncSelectionDensity();
    const scatter = this.scatter;
    if (this.savingPlotSelection || !scatter?.drawn) return;
    const local = this.selectedLocal();
    if (!this.loaded && samePositions(scatter.selected(), local)) return;
    void scatter.select(local);
  }

  private clearSelection(): void {
    this.syncSelectionToModel([]);
    this.syncSelectionFromModel();
  }

  private updateCount(): void {
    const count = this.selected.count;
    this.toolbar.setCount(count, this.n);
    this.controls.setSelected(count);
    this.labelBar.setSelected(count);
  }

  /**
   * A lasso (or box) ends: select the points inside it (shift adds, alt or ctrl removes), send the
   * selection to the kernel, then show it in the plot. regl-scatterplot would select the same
   * points (same rule, see lasso.ts), but only after a slower hit test and a selection update that
   * the kernel would wait for: its lasso is ended without them. A lasso of one vertex is left to it.
   */
  private readonly onLassoEnd = (event: MouseEvent): void => {
    const polygon = this.scatter?.takeLasso();
    if (!polygon) return;
    this.pointerDown = null; // a lasso that closes where it started is not a click
    if (this.detail) {
      // Not every point is here: the kernel finds them all (map_lasso), and the selection follows.
      void this.lassoInKernel(polygon, lassoOp(event, this.stickyOp));
      return;
    }
    const lassoed = keepShown(pointsInPolygon(this.x, this.y, polygon), this.shown);
    this.syncSelectionToModel(combineSelection(this.selection, lassoed, lassoOp(event, this.stickyOp)));
    this.syncSelectionFromModel();
    void this.requests.request("lasso", { polygon });
  };

  private async lassoInKernel(polygon: number[], mode: LassoOp): Promise<void> {
    this.root.dataset.lasso = "kernel";
    const reply = await this.requests.request("map_lasso", { mode, polygon: Float32Array.from(polygon) }, { timeoutMs: SAVE_TIMEOUT_MS });
    delete this.root.dataset.lasso;
    if (!reply.ok && !this.destroyed) this.notify(`Cannot select: ${reply.reason}`);
    else void this.requests.request("lasso", { polygon });
  }

  /** Shift-click: add the galaxy to the selection (if the filter shows it), or take it out. */
  private toggleSelected(position: number): void {
    if (this.shown?.mask[position] === 0 && !this.selected.has(position)) return;
    this.syncSelectionToModel(toggled(this.selection, position));
    this.syncSelectionFromModel();
  }

  // -- focus -----------------------------------------------------------------------------------

  private syncFocusFromModel(): void {
    this.drawFocus();
    const focus = this.model.get("_focus");
    void this.focusCard.show(focus);
    if (!this.viewer.el.hidden) {
      if (focus < 0) this.viewer.el.hidden = true;
      else void this.viewer.show(focus);
    }
    this.panel.focusChanged();
  }

  /** Show the galaxy at `position` in the map: pan if it is out of view, never zoom. */
  private panTo(position: number): void {
    const scatter = this.scatter;
    const xy = this.xyOf(position);
    if (!scatter || !xy) return;
    const view = scatter.screenTransform(this.x, this.y);
    const [x, y] = xy;
    const screen: [number, number] | null = view ? [view[0] * x + view[1] * y + view[2], view[3] * x + view[4] * y + view[5]] : null;
    scatter.panTo(x, y, screen);
  }

  /** Ring the focused galaxy's neighbors in the map (null: no rings). */
  private ringNeighbors(positions: Uint32Array | null): void {
    const points: [number, number][] = [];
    for (const p of positions ?? []) {
      const xy = this.xyOf(p);
      if (xy) points.push(xy);
    }
    this.scatter?.ring(points);
  }

  private showZoom(): void {
    const zoom = this.scatter?.zoom();
    this.scaleLabel.textContent = zoom === undefined ? "" : `zoom ×${zoom < 10 ? zoom.toFixed(1) : Math.round(zoom)}`;
  }

  private drawFocus(): void {
    const focus = this.model.get("_focus");
    this.scatter?.focus(this.xyOf(focus));
  }

  // -- labels ----------------------------------------------------------------------------------

  private labelsChanged(change: LabelChange): void {
    this.panel.refreshBadges();
    this.mapImages.update();
    if (this.colorMeta.kind !== "label" || !this.scatter || this.x.length === 0) return;
    if (change === "all" || this.loaded) {
      this.drawnColors.signature = "";
      this.scheduleRecolor();
      return;
    }
    updateLabelColors(this.codes, change, this.labels.codes, this.model.get("_label_meta").classes.length);
    void this.scatter.draw(this.x, this.y, this.codes);
    this.raiseLabelled();
  }

  /** Colored by label, the labelled galaxies are drawn on top of the unlabelled ones. */
  private readonly raiseLabelled = debounce(() => {
    if (!this.scatter || this.destroyed) return;
    const count = this.x.length;
    if (this.colorMeta.kind !== "label") {
      void this.scatter.drawOnTop(null, count);
      return;
    }
    const codes = this.labels.codes;
    const positions = this.loaded?.positions;
    const labelled: number[] = [];
    for (let i = 0; i < count; i++) if (codes[positions ? positions[i] : i] !== UNLABELLED) labelled.push(i);
    void this.scatter.drawOnTop(Uint32Array.from(labelled), count);
  }, RAISE_LABELLED_MS);

  private syncLabelMeta(): void {
    const meta = this.model.get("_label_meta");
    if (this.colorMeta.kind === "label") renderLegend(this.legend, this.colorMeta, meta.classes, meta.counts, () => {});
    this.labelBar.update(meta);
    this.panel.enableModes(meta.classes.length > 0);
    if (meta.classes.length > 0 && this.labels.version < 0 && this.scatter) void this.labels.refresh();
  }

  private syncLearn(): void {
    const learn = this.model.get("_learn");
    const changed = learn.suggestions_version !== this.suggestionsVersion;
    this.suggestionsVersion = learn.suggestions_version;
    this.labelBar.setLearn(learn);
    if (changed) this.panel.suggestionsChanged();
  }

  private suggestionsVersion = -1;

  /** Label the gallery's marked tiles if there are any, else the focused galaxy. */
  private async labelFocused(label: string | null): Promise<void> {
    const marked = await this.panel.markedPositions();
    if (marked) {
      this.labelBar.setSaved("saving");
      this.panel.gallery.clearMarks();
      this.showSaved(await this.requests.request("label", { positions: marked, label }, { timeoutMs: SAVE_TIMEOUT_MS }));
      return;
    }
    const focus = this.model.get("_focus");
    if (focus < 0) {
      this.labelBar.setSaved("error", "click a galaxy first");
      return;
    }
    this.labelBar.setSaved("saving");
    if (this.panel.showsSuggestions) this.panel.walk(1, true);
    else if (this.panel.showsSelection) this.panel.walk(1);
    const positions = Uint32Array.of(focus);
    this.showSaved(await this.requests.request("label", { positions, label }, { timeoutMs: SAVE_TIMEOUT_MS }));
  }

  private async labelSelection(label: string | null): Promise<void> {
    this.labelBar.setSaved("saving");
    this.showSaved(await this.requests.request("label_selection", { label }, { timeoutMs: SAVE_TIMEOUT_MS }));
  }

  private async undoRedo(kind: "undo" | "redo"): Promise<void> {
    this.labelBar.setSaved("saving");
    this.showSaved(await this.requests.request(kind, {}, { timeoutMs: SAVE_TIMEOUT_MS }));
  }

  private showSaved(reply: Reply<"label" | "label_selection" | "undo" | "redo">): void {
    if (this.destroyed) return;
    if (reply.ok && reply.saved) this.labelBar.setSaved("saved");
    else this.labelBar.setSaved("error", `not saved: ${reply.ok ? "unknown error" : reply.reason}`);
  }

  // -- pointer, keyboard and tooltip -----------------------------------------------------------

  /** A press with a modifier key is the widget's (shift-lasso, alt-lasso, ctrl/shift-click on a
   * tile): a notebook host must not take it for its own (JupyterLab selects cells on shift). */
  private readonly keepModifiedPress = (event: MouseEvent): void => {
    if (event.shiftKey || event.altKey || event.ctrlKey || event.metaKey) event.stopPropagation();
  };

  private readonly onPointerDown = (event: PointerEvent): void => {
    this.root.focus({ preventScroll: true });
    this.pointerDown = [event.clientX, event.clientY];
    this.travel = 0;
    this.scatter?.setRemoveKey(event.ctrlKey);
  };

  /** Plain click (or tap) focuses the galaxy under the pointer, shift-click toggles it in the
   * selection; the selection is otherwise left alone (regl-scatterplot would replace it). The
   * galaxy is the hovered one, or with no hover first (a tap, a quick click) the nearest one. */
  private readonly onClick = (event: MouseEvent): void => {
    if (event.target !== this.canvas) return;
    event.stopPropagation();
    const start = this.pointerDown;
    this.pointerDown = null;
    if (!start) return;
    const travel = Math.max(this.travel, Math.hypot(event.clientX - start[0], event.clientY - start[1]));
    if (travel > CLICK_TRAVEL_PX) return;
    const image = this.imageAt(event);
    const position = image >= 0 ? image : this.hovered >= 0 ? this.hovered : this.pick(event.clientX, event.clientY);
    if (position < 0) return;
    if (event.shiftKey) this.toggleSelected(position);
    else if (!event.altKey && !event.ctrlKey) this.model.save("_focus", position);
  };

  /** The galaxy nearest the page pixel (clientX, clientY) within PICK_RADIUS_PX, −1 for none. */
  private pick(clientX: number, clientY: number): number {
    const view = this.scatter?.screenTransform(this.x, this.y);
    if (!view) return -1;
    const rect = this.canvas.getBoundingClientRect();
    const shown = this.shownLoaded;
    const visible = shown?.mode === "hide" ? (p: number) => shown.mask[p] === 1 : undefined;
    const local = nearestWithin(this.x, this.y, view, clientX - rect.left, clientY - rect.top, PICK_RADIUS_PX, visible);
    return local >= 0 && this.loaded ? this.loaded.positions[local] : local;
  }

  private readonly onKeyDown = (event: KeyboardEvent): void => {
    const target = event.target;
    if (target instanceof HTMLSelectElement || target instanceof HTMLInputElement) return;
    if (event.key === "Escape") {
      event.stopPropagation();
      if (!this.help.hidden) this.help.hidden = true;
      else if (!this.viewer.el.hidden) this.toggleViewer();
      else this.clearSelection();
      return;
    }
    const action = keyAction(event, this.model.get("_label_meta"), this.panel.columns);
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
        this.panel.walk(action.step);
        break;
      case "open":
        if (this.model.get("_focus") >= 0) this.panel.setMode("neighbors");
        break;
      case "view":
        this.toggleViewer();
        break;
      case "help":
        this.toggleHelp();
        break;
      case "refuse":
        this.labelBar.setSaved("error", action.message);
        break;
    }
  };

  private readonly onPointerMove = (event: PointerEvent): void => {
    const start = this.pointerDown;
    if (start) this.travel = Math.max(this.travel, Math.hypot(event.clientX - start[0], event.clientY - start[1]));
    const rect = this.plot.getBoundingClientRect();
    this.tooltip.moveTo(event.clientX - rect.left, event.clientY - rect.top, rect.width, rect.height);
    // Over a thumbnail in the map, hover is that galaxy's (as over its point).
    const image = this.imageAt(event);
    if (image >= 0 && image !== this.hovered) this.hover(image);
    else if (image < 0 && this.overImage) this.unhover();
    this.overImage = image >= 0;
  };

  /** Whether the pointer was over a thumbnail in the map at its last move. */
  private overImage = false;

  /** The galaxy whose thumbnail in the map is under the pointer, −1 for none. */
  private imageAt(event: MouseEvent): number {
    const rect = this.canvas.getBoundingClientRect();
    return this.mapImages.at(event.clientX - rect.left, event.clientY - rect.top);
  }

  private readonly onPointerLeave = (): void => this.unhover();

  private readonly requestHover = debounce((position: number) => void this.showTooltip(position), HOVER_DELAY_MS);

  private hover(position: number): void {
    this.hovered = position;
    this.requestHover(position);
  }

  private unhover(): void {
    this.hovered = -1;
    this.requestHover.cancel();
    this.hoverRequest.cancel();
    this.tooltip.hide();
  }

  private async showTooltip(position: number): Promise<void> {
    const thumbnail = this.model.config.image_kind === "none" ? null : this.thumbnails.get(position);
    const reply = await this.requests.request("hover", { position }, { signal: this.hoverRequest.next() });
    if (this.hovered !== position || this.destroyed || !reply.ok) return;
    this.tooltip.show(reply.id, reply.fields, thumbnail);
  }

  // -- overlays, full screen and the panel's width ---------------------------------------------

  /** Open or close the large image view of the focused galaxy. */
  private toggleViewer(): void {
    const focus = this.model.get("_focus");
    const open = this.viewer.el.hidden && focus >= 0;
    this.viewer.el.hidden = !open;
    if (open) void this.viewer.show(focus);
    this.root.focus({ preventScroll: true });
  }

  private toggleHelp(): void {
    this.help.hidden = !this.help.hidden;
    this.root.focus({ preventScroll: true });
  }

  /** The widget alone on the screen (the browser's full screen), or back. */
  private async toggleFullscreen(): Promise<void> {
    if (document.fullscreenElement === this.root) await document.exitFullscreen();
    else await this.root.requestFullscreen();
  }

  private readonly onSplitterDown = (event: PointerEvent): void => {
    event.preventDefault();
    event.stopPropagation();
    const panel = this.panel.panel.el;
    const startX = event.clientX;
    const startWidth = panel.getBoundingClientRect().width;
    const max = this.root.clientWidth - 120;
    const move = (e: PointerEvent): void => {
      const width = Math.min(max, Math.max(180, startWidth + startX - e.clientX));
      panel.style.flexBasis = `${width}px`;
    };
    const up = (): void => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
  };

  // -- teardown --------------------------------------------------------------------------------

  destroy(): void {
    this.destroyed = true;
    clearTimeout(this.noticeTimer);
    this.model.dispose();
    window.removeEventListener("mouseup", this.onLassoEnd, { capture: true });
    this.requestHover.cancel();
    this.hoverRequest.cancel();
    this.raiseLabelled.cancel();
    this.detail?.dispose();
    cancelAnimationFrame(this.densityFrame);
    this.panel.dispose();
    this.focusCard.dispose();
    this.viewer.dispose();
    this.resizeObserver.disconnect();
    this.requests.dispose();
    this.mapImages.dispose();
    this.thumbnails.dispose();
    this.scatter?.destroy();
    this.scatter = null;
    this.root.remove();
  }
}

/** Relative luminance (0 dark … 1 light) of a CSS rgb()/rgba() color; transparent counts as light. */
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
