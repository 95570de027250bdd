// The side panel: a grid of thumbnails, either the focused galaxy's nearest neighbors or the
// active-learning suggestion queue, with label badges and the keyboard's current tile; or, in the
// "selection" mode, a body of its own (the selection gallery, gallery.ts) in place of the grid.

import { formatNumber } from "./colors";
import { element } from "./dom";
import { loadInto, type Thumbnails } from "./thumbnails";

export interface Tile {
  position: number;
  id: string;
  /** Distance (neighbors) or score (suggestions); null when there is none. */
  value: number | null;
}

export type PanelMode = "neighbors" | "suggestions" | "selection";

/** Label badge of a tile (null: unlabelled). */
export type BadgeOf = (position: number) => { name: string; color: string } | null;

export const PANEL_COLUMNS = 3;

export class NeighborPanel {
  readonly el = element("div", "gw-panel");
  private readonly header = element("div", "gw-panel-header");
  private readonly title = element("div", "gw-panel-title", "Click a galaxy to see its neighbors");
  private readonly toggle = element("div", "gw-group gw-panel-modes");
  private readonly grid = element("div", "gw-grid");
  private readonly modeButtons = new Map<PanelMode, HTMLButtonElement>();
  private generation = 0;
  /** Aborts the thumbnail requests of the tiles shown last (stale once the panel changes). */
  private fetching = new AbortController();
  private shown: Tile[] = [];
  private current = -1;

  constructor(
    private readonly thumbnails: Thumbnails,
    private readonly onPick: (position: number) => void,
    private readonly onMode: (mode: PanelMode) => void,
    private readonly badgeOf: BadgeOf,
  ) {
    const modes: [PanelMode, string][] = [
      ["neighbors", "Neighbors"],
      ["suggestions", "Suggestions"],
      ["selection", "Selection"],
    ];
    for (const [mode, text] of modes) {
      const b = element("button", "gw-button", text);
      b.type = "button";
      b.dataset.panelMode = mode;
      b.addEventListener("click", () => this.onMode(mode));
      this.modeButtons.set(mode, b);
      this.toggle.append(b);
    }
    this.enableModes(false);
    this.header.append(this.title, this.toggle);
    this.el.append(this.header, this.grid);
    this.grid.style.gridTemplateColumns = `repeat(${PANEL_COLUMNS}, 1fr)`;
  }

  /** The tiles shown, in order (empty while loading or showing a message). */
  get tiles(): readonly Tile[] {
    return this.shown;
  }

  /** Offer the Suggestions mode (only when labelling is on). */
  enableModes(enabled: boolean): void {
    const suggestions = this.modeButtons.get("suggestions");
    if (suggestions) suggestions.hidden = !enabled;
  }

  /** Show `body` in place of the tile grid (null: the grid again). */
  showBody(body: HTMLElement | null): void {
    this.grid.hidden = body !== null;
    if (body && body.parentElement !== this.el) this.el.append(body);
  }

  /** Put `el` (the focused galaxy's card) between the header and the tiles. */
  addAboveTiles(el: HTMLElement): void {
    this.header.after(el);
  }

  setTitle(title: string): void {
    this.title.textContent = title;
  }

  setMode(mode: PanelMode): void {
    for (const [m, b] of this.modeButtons) b.classList.toggle("gw-active", m === mode);
  }

  /** Placeholder tiles while the kernel answers. */
  loading(title: string, k: number): void {
    this.nextGeneration();
    this.shown = [];
    this.title.textContent = title;
    this.grid.replaceChildren(
      ...Array.from({ length: k }, () => {
        const tile = element("div", "gw-tile gw-loading-tile");
        tile.append(element("div", "gw-thumb gw-placeholder", "…"));
        return tile;
      }),
    );
  }

  message(title: string, text: string): void {
    this.nextGeneration();
    this.shown = [];
    this.title.textContent = title;
    this.grid.replaceChildren(element("div", "gw-panel-message", text));
  }

  show(title: string, tiles: Tile[]): void {
    const generation = this.nextGeneration();
    this.shown = tiles;
    this.title.textContent = title;
    this.grid.replaceChildren(...tiles.map((t) => this.tile(t, generation)));
    this.markCurrent(this.current);
  }

  private nextGeneration(): number {
    this.fetching.abort();
    this.fetching = new AbortController();
    return ++this.generation;
  }

  /** Highlight the tile of galaxy `position` (the focused one), if shown, and scroll the panel
   * (never the page or the notebook around it) to show it. */
  markCurrent(position: number): void {
    this.current = position;
    for (const tile of this.grid.querySelectorAll<HTMLElement>(".gw-tile[data-position]")) {
      const isCurrent = Number(tile.dataset.position) === position;
      tile.classList.toggle("gw-current", isCurrent);
      if (isCurrent && !this.grid.hidden) scrollWithin(this.el, tile);
    }
  }

  /** Redraw every tile's label badge. */
  refreshBadges(): void {
    for (const tile of this.grid.querySelectorAll<HTMLElement>(".gw-tile[data-position]")) {
      const badge = tile.querySelector<HTMLElement>(".gw-badge");
      if (badge) paintBadge(badge, this.badgeOf(Number(tile.dataset.position)));
    }
  }

  private tile(item: Tile, generation: number): HTMLElement {
    const tile = element("button", "gw-tile");
    tile.type = "button";
    const value = item.value === null ? "" : formatNumber(item.value);
    tile.title = `${item.id}${value ? ` (${value})` : ""}`;
    tile.dataset.position = String(item.position);
    const thumb = element("div", "gw-thumb gw-placeholder", "…");
    const badge = element("span", "gw-badge");
    paintBadge(badge, this.badgeOf(item.position));
    const frame = element("div", "gw-thumb-frame");
    frame.append(thumb, badge);
    const caption = element("div", "gw-caption");
    caption.append(element("span", "gw-caption-id", item.id), element("span", "gw-caption-distance", value));
    tile.append(frame, caption);
    tile.addEventListener("click", () => this.onPick(item.position));
    void this.fill(thumb, item.position, generation);
    return tile;
  }

  private async fill(thumb: HTMLElement, position: number, generation: number): Promise<void> {
    const result = await this.thumbnails.get(position, this.fetching.signal);
    if (generation !== this.generation) return;
    if (!result.ok) {
      fail(thumb, result.reason);
      return;
    }
    const img = element("img", "gw-img");
    img.alt = "";
    const loaded = await loadInto(img, result.src);
    if (generation !== this.generation) return;
    if (loaded.ok) {
      thumb.classList.remove("gw-placeholder");
      thumb.replaceChildren(img);
    } else {
      fail(thumb, loaded.reason, result.src);
    }
  }
}

/** Scroll `container` (only it) so that `child` is wholly in view, moving as little as possible. */
function scrollWithin(container: HTMLElement, child: HTMLElement): void {
  const outer = container.getBoundingClientRect();
  const inner = child.getBoundingClientRect();
  if (inner.top < outer.top) container.scrollTop -= outer.top - inner.top;
  else if (inner.bottom > outer.bottom) container.scrollTop += Math.min(inner.bottom - outer.bottom, inner.top - outer.top);
}

/** Show a tile's label badge (hidden when unlabelled). */
export function paintBadge(badge: HTMLElement, label: { name: string; color: string } | null): void {
  badge.hidden = label === null;
  badge.textContent = label?.name ?? "";
  badge.style.background = label?.color ?? "";
}

/** Show why a thumbnail could not be shown, in its place; the URL (if any) on hover. */
export function fail(thumb: HTMLElement, reason: string, url = ""): void {
  thumb.classList.add("gw-failed");
  thumb.textContent = reason;
  thumb.title = url ? `${reason}\n${url}` : reason;
}
