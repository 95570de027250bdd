// The selection gallery: the selected galaxies as a virtualised grid of thumbnails in the side
// panel's "Selection" view. Only the tiles in view (plus a row above and below) exist in the DOM
// and load thumbnails; their positions arrive in pages of PAGE_SIZE from the kernel's
// `selection_page` request as the user scrolls, so 100k selected galaxies cost what a screenful
// does. Order (centroid distance, classifier score, a numeric meta column, random), tile size and
// a full-width option are chosen in the gallery's own controls. A click makes a tile current (the
// focused galaxy, which label keys act on); ctrl/shift-click marks several (tilemarks.ts) so that
// one key labels them all; "Mark page" marks the rows at least half in view; × takes a galaxy
// out of the selection. Tile index i is the i-th galaxy of the order; the maths is in virtualgrid.ts.

import { formatNumber } from "./colors";
import { element } from "./dom";
import { type BadgeOf, fail as failThumb, paintBadge } from "./panel";
import type { GalleryOrder } from "./protocol";
import type { Requests } from "./requests";
import { loadInto, type Thumbnails } from "./thumbnails";
import { TileMarks } from "./tilemarks";
import {
  type GridGeometry,
  gridGeometry,
  gridHeight,
  pageRange,
  pagesOf,
  scrollToShow,
  tileOffset,
  visibleRange,
} from "./virtualgrid";

/** Galaxies per `selection_page` request. */
export const PAGE_SIZE = 120;
const CAPTION = 16;
const GAP = 4;
const TILE_SIZES = { min: 48, max: 240, initial: 88 };

/** What the gallery needs from the rest of the widget. */
export interface GalleryHost {
  /** Focus a galaxy of the gallery (and pan to it), keeping the gallery as it is. */
  walkTo(position: number): void;
  removeFromSelection(position: number): void;
  /** Widen the panel to the widget's full width (the plot hides), or back. */
  setWide(wide: boolean): void;
  /** The panel's title line. */
  setTitle(text: string): void;
  badgeOf: BadgeOf;
}

interface Page {
  positions: Uint32Array;
  ids: string[];
  values: Float32Array;
}

interface TileView {
  el: HTMLElement;
  position: number;
  /** Cancels its thumbnail request when it scrolls out of view. */
  fetching: AbortController;
}

const ORDER_NAMES: [string, string][] = [
  ["centroid", "Nearest the centre"],
  ["score", "Classifier score"],
  ["random", "Random sample"],
];

export class SelectionGallery {
  readonly el = element("div", "gw-gallery");
  private readonly orderSelect = element("select", "gw-select gw-gallery-order");
  private readonly directionButton = button("↓", "Highest first (click: lowest first)");
  private readonly sizeInput = element("input", "gw-slider gw-gallery-size");
  private readonly markPageButton = button("Mark page", "Mark the tiles in view: a label key then labels them all");
  private readonly wideButton = button("Wide", "Widen the gallery to the full widget");
  private readonly viewport = element("div", "gw-gallery-viewport");
  private readonly spacer = element("div", "gw-gallery-spacer");
  private readonly note = element("div", "gw-panel-message gw-gallery-note");
  private readonly resizeObserver: ResizeObserver;
  private readonly marks = new TileMarks();
  private readonly tiles = new Map<number, TileView>();
  private pages = new Map<number, Page>();
  private pending = new Map<number, Promise<void>>();
  private generation = 0;
  /** Aborts this generation's page requests when the selection or the order changes. */
  private fetching = new AbortController();
  private total = 0;
  private geometry: GridGeometry = gridGeometry(300, TILE_SIZES.initial, CAPTION, GAP);
  private descending = true;
  private wide = false;
  private active = false;
  /** Index of the current tile (the focused galaxy), −1 for none. */
  private current = -1;
  private focused = -1;
  private frame = 0;

  constructor(
    private readonly requests: Requests,
    private readonly thumbnails: Thumbnails,
    private readonly host: GalleryHost,
    numericColumns: readonly string[],
  ) {
    for (const [value, text] of ORDER_NAMES) this.orderSelect.append(option(value, text));
    for (const column of numericColumns) this.orderSelect.append(option(`column:${column}`, column));
    this.orderSelect.title = "Order of the selected galaxies";
    this.orderSelect.addEventListener("change", () => this.reorder());
    this.directionButton.addEventListener("click", () => {
      this.descending = !this.descending;
      this.directionButton.textContent = this.descending ? "↓" : "↑";
      this.directionButton.title = this.descending ? "Highest first (click: lowest first)" : "Lowest first (click: highest first)";
      this.reorder();
    });
    this.directionButton.hidden = true;
    Object.assign(this.sizeInput, { type: "range", min: String(TILE_SIZES.min), max: String(TILE_SIZES.max), step: "8" });
    this.sizeInput.value = String(TILE_SIZES.initial);
    this.sizeInput.title = "Thumbnail size";
    this.sizeInput.addEventListener("input", () => this.render());
    this.markPageButton.addEventListener("click", () => this.markPage());
    this.wideButton.addEventListener("click", () => this.setWide(!this.wide));
    const size = element("label", "gw-labelled", "Size");
    size.append(this.sizeInput);
    const controls = element("div", "gw-gallery-controls");
    controls.append(this.orderSelect, this.directionButton, size, this.markPageButton, this.wideButton);
    this.viewport.append(this.spacer);
    this.viewport.tabIndex = -1;
    this.el.append(controls, this.note, this.viewport);
    this.el.hidden = true;
    this.viewport.addEventListener("scroll", () => this.scheduleRender(), { passive: true });
    this.resizeObserver = new ResizeObserver(() => this.scheduleRender());
    this.resizeObserver.observe(this.viewport);
  }

  /** Tiles per row, for the up/down arrow keys. */
  get columns(): number {
    return this.geometry.columns;
  }

  /** Show the gallery (and load the selection) or hide it. */
  setActive(active: boolean): void {
    this.active = active;
    this.el.hidden = !active;
    if (active) this.reload();
    else {
      this.setWide(false);
      this.clear();
    }
  }

  /** The selection changed: start again from its first page (keeping the order and scroll). */
  reload(): void {
    if (!this.active) return;
    this.clear();
    this.note.hidden = false;
    this.note.textContent = "Loading the selection…";
    void this.fetchPage(0);
  }

  /** The focused galaxy changed: make its tile current if it is in the gallery. */
  markCurrent(position: number): void {
    this.focused = position;
    if (this.current >= 0 && this.positionAt(this.current) === position) return this.paint();
    this.current = this.indexOf(position);
    this.paint();
  }

  /** Move the current tile by `step` (arrow keys), loading its page if needed. */
  async walk(step: number): Promise<void> {
    if (this.total === 0) return;
    const next = this.current < 0 ? (step > 0 ? 0 : -1) : Math.min(this.total - 1, Math.max(0, this.current + step));
    if (next < 0 || next === this.current) return;
    const generation = this.generation;
    await this.fetchPage(Math.floor(next / PAGE_SIZE));
    const position = this.positionAt(next);
    if (generation !== this.generation || position < 0) return;
    this.current = next;
    this.viewport.scrollTop = scrollToShow(next, this.viewport.scrollTop, this.viewport.clientHeight, this.geometry);
    this.host.walkTo(position);
    this.render();
  }

  /** Positions of the marked tiles (loading their pages), or null when none is marked. */
  async markedPositions(): Promise<Uint32Array | null> {
    const indices = this.marks.indices();
    if (indices.length === 0) return null;
    const generation = this.generation;
    const pages = [...new Set(indices.map((i) => Math.floor(i / PAGE_SIZE)))];
    await Promise.all(pages.map((p) => this.fetchPage(p)));
    if (generation !== this.generation) return null;
    const positions = indices.map((i) => this.positionAt(i));
    return positions.includes(-1) ? null : Uint32Array.from(positions);
  }

  /** Unmark every tile (after a label applied to them). */
  clearMarks(): void {
    this.marks.clear();
    this.paint();
  }

  /** Redraw every shown tile's label badge. */
  refreshBadges(): void {
    for (const tile of this.tiles.values()) {
      const badge = tile.el.querySelector<HTMLElement>(".gw-badge");
      if (badge) paintBadge(badge, this.host.badgeOf(tile.position));
    }
  }

  dispose(): void {
    cancelAnimationFrame(this.frame);
    this.resizeObserver.disconnect();
    this.clear();
  }

  // -- pages -----------------------------------------------------------------------------------

  private get order(): { order: GalleryOrder; column: string | null } {
    const value = this.orderSelect.value;
    if (value.startsWith("column:")) return { order: "column", column: value.slice("column:".length) };
    return { order: value as GalleryOrder, column: null };
  }

  private reorder(): void {
    this.directionButton.hidden = this.order.order !== "column";
    this.viewport.scrollTop = 0;
    this.reload();
  }

  private clear(): void {
    this.generation++;
    this.fetching.abort();
    this.fetching = new AbortController();
    this.pages = new Map();
    this.pending = new Map();
    this.marks.clear();
    this.current = -1;
    for (const index of [...this.tiles.keys()]) this.dropTile(index);
  }

  /** Load page `page` of the order (once: a page asked for again waits for the same request). */
  private fetchPage(page: number): Promise<void> {
    if (this.pages.has(page)) return Promise.resolve();
    let loading = this.pending.get(page);
    if (!loading) {
      loading = this.loadPage(page);
      this.pending.set(page, loading);
    }
    return loading;
  }

  private async loadPage(page: number): Promise<void> {
    const generation = this.generation;
    const { order, column } = this.order;
    const params = { order, column, descending: this.descending, offset: page * PAGE_SIZE, limit: PAGE_SIZE };
    const reply = await this.requests.request("selection_page", params, { signal: this.fetching.signal });
    if (generation !== this.generation) return;
    this.pending.delete(page);
    if (!reply.ok) {
      if (!reply.cancelled) this.showNote(`Cannot show the selection: ${reply.reason}`);
      return;
    }
    this.total = reply.total;
    this.pages.set(page, { positions: reply.positions, ids: reply.ids, values: reply.values });
    const count = this.total.toLocaleString("en-US");
    this.host.setTitle(`Selection: ${count} ${this.total === 1 ? "galaxy" : "galaxies"}`);
    if (this.total === 0) this.showNote("Lasso or box-select galaxies to see them here");
    else this.note.hidden = true;
    if (this.current < 0 && this.focused >= 0) this.current = this.indexOf(this.focused);
    this.render();
  }

  private showNote(text: string): void {
    this.note.hidden = false;
    this.note.textContent = text;
  }

  private positionAt(index: number): number {
    const page = this.pages.get(Math.floor(index / PAGE_SIZE));
    const i = index % PAGE_SIZE;
    return page && i < page.positions.length ? page.positions[i] : -1;
  }

  /** Index of `position` among the loaded pages, −1 if not loaded (or not selected). */
  private indexOf(position: number): number {
    if (position < 0) return -1;
    for (const [page, data] of this.pages) {
      const i = data.positions.indexOf(position);
      if (i >= 0) return page * PAGE_SIZE + i;
    }
    return -1;
  }

  // -- drawing ---------------------------------------------------------------------------------

  private scheduleRender(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  /** Lay out the tiles in view: create those missing, move those kept, drop the rest. */
  private render(): void {
    if (!this.active) return;
    const width = this.viewport.clientWidth - 2 * GAP;
    if (width <= 0) return;
    this.geometry = gridGeometry(width, Number(this.sizeInput.value), CAPTION, GAP);
    this.spacer.style.height = `${gridHeight(this.total, this.geometry)}px`;
    const { start, end } = visibleRange(this.viewport.scrollTop, this.viewport.clientHeight, this.total, this.geometry);
    for (const page of pagesOf(start, end, PAGE_SIZE)) if (!this.pages.has(page)) void this.fetchPage(page);
    for (const index of [...this.tiles.keys()]) if (index < start || index >= end) this.dropTile(index);
    for (let index = start; index < end; index++) {
      const position = this.positionAt(index);
      if (position < 0) continue;
      let tile = this.tiles.get(index);
      if (!tile || tile.position !== position) {
        if (tile) this.dropTile(index);
        tile = this.makeTile(index, position);
        this.tiles.set(index, tile);
        this.spacer.append(tile.el);
      }
      const { left, top } = tileOffset(index, this.geometry, GAP);
      Object.assign(tile.el.style, { left: `${left}px`, top: `${top}px`, width: `${this.geometry.tileWidth}px` });
    }
    this.paint();
  }

  private dropTile(index: number): void {
    const tile = this.tiles.get(index);
    if (!tile) return;
    tile.fetching.abort();
    tile.el.remove();
    this.tiles.delete(index);
  }

  /** Current and marked classes of the shown tiles. */
  private paint(): void {
    for (const [index, tile] of this.tiles) {
      tile.el.classList.toggle("gw-current", index === this.current);
      tile.el.classList.toggle("gw-marked", this.marks.has(index));
    }
    this.markPageButton.textContent = this.marks.size > 0 ? `Marked ${this.marks.size}` : "Mark page";
  }

  private makeTile(index: number, position: number): TileView {
    const page = this.pages.get(Math.floor(index / PAGE_SIZE)) as Page;
    const id = page.ids[index % PAGE_SIZE];
    const value = page.values[index % PAGE_SIZE];
    const text = Number.isNaN(value) ? "" : formatNumber(value);
    const el = element("div", "gw-tile gw-gallery-tile");
    el.dataset.position = String(position);
    el.dataset.index = String(index);
    el.title = `${id}${text ? ` (${text})` : ""}`;
    const thumb = element("div", "gw-thumb gw-placeholder", "…");
    const badge = element("span", "gw-badge");
    paintBadge(badge, this.host.badgeOf(position));
    const remove = button("×", "Remove from the selection");
    remove.classList.add("gw-tile-remove");
    remove.addEventListener("click", (event) => {
      event.stopPropagation();
      this.host.removeFromSelection(position);
    });
    const frame = element("div", "gw-thumb-frame");
    frame.append(thumb, badge, remove);
    const caption = element("div", "gw-caption");
    caption.append(element("span", "gw-caption-id", id), element("span", "gw-caption-distance", text));
    el.append(frame, caption);
    el.addEventListener("click", (event) => this.clickTile(index, position, event));
    const fetching = new AbortController();
    void this.fill(thumb, position, fetching.signal);
    return { el, position, fetching };
  }

  private clickTile(index: number, position: number, event: MouseEvent): void {
    this.marks.click(index, event);
    this.current = index;
    this.paint();
    this.host.walkTo(position);
  }

  private markPage(): void {
    const { start, end } = pageRange(this.viewport.scrollTop, this.viewport.clientHeight, this.total, this.geometry);
    this.marks.markRange(start, end);
    this.paint();
  }

  private setWide(wide: boolean): void {
    if (wide === this.wide) return;
    this.wide = wide;
    this.wideButton.classList.toggle("gw-active", wide);
    this.host.setWide(wide);
    this.scheduleRender();
  }

  private async fill(thumb: HTMLElement, position: number, signal: AbortSignal): Promise<void> {
    const result = await this.thumbnails.get(position, signal);
    if (signal.aborted) return;
    if (!result.ok) return failThumb(thumb, result.reason);
    const img = element("img", "gw-img");
    img.alt = "";
    const loaded = await loadInto(img, result.src);
    if (signal.aborted) return;
    if (!loaded.ok) return failThumb(thumb, loaded.reason, result.src);
    thumb.classList.remove("gw-placeholder");
    thumb.replaceChildren(img);
  }
}

function button(text: string, hint: string): HTMLButtonElement {
  const b = element("button", "gw-button", text);
  b.type = "button";
  b.title = hint;
  return b;
}

function option(value: string, text: string): HTMLOptionElement {
  const o = element("option", "", text);
  o.value = value;
  return o;
}
