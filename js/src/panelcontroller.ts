// The panel controller: what the side panel shows (the focused galaxy's neighbors, galaxies like
// the selection, the active-learning suggestions, or the selection gallery), the requests behind
// it (a newer one cancels the stale one), and walking along its tiles with the keyboard. Shown
// suggestions make the first one current (the first label key labels it); shown neighbors are
// ringed in the map.

import { debounce } from "./debounce";
import { SelectionGallery } from "./gallery";
import { walk } from "./labels";
import { NeighborPanel, PANEL_COLUMNS, type PanelMode, type Tile } from "./panel";
import { type Failure, UNLABELLED } from "./protocol";
import { Latest, type Requests } from "./requests";
import { Selected } from "./selected";
import type { Thumbnails } from "./thumbnails";

/** What the controller needs from the rest of the widget. */
export interface PanelHost {
  focus(): number;
  /** Focus a galaxy (the `_focus` trait). */
  setFocus(position: number): void;
  panTo(position: number): void;
  /** The focused galaxy's neighbors (null: none shown), to mark them in the map. */
  showNeighbors(positions: Uint32Array | null): void;
  k(): number;
  strategy(): string;
  /** Why there are no suggestions yet (the `_learn` message). */
  learnMessage(): string;
  selectedCount(): number;
  labelCode(position: number): number;
  badgeOf(position: number): { name: string; color: string } | null;
  removeFromSelection(position: number): void;
  /** Widen the panel to the full widget (the plot hides), or back. */
  setWide(wide: boolean): void;
  /** Numeric meta columns the gallery can be ordered by. */
  numericColumns: readonly string[];
  /** Said after "Neighbors of …" (e.g. that they are neighbors in the 2-D map), or "". */
  neighborNote: string;
}

/** A lasso may change the selection many times a second: reload the gallery once it settles. */
const GALLERY_RELOAD_MS = 150;

export class PanelController {
  readonly panel: NeighborPanel;
  readonly gallery: SelectionGallery;
  private mode: PanelMode = "neighbors";
  /** The galaxy the keyboard walked to: its focus keeps the panel as it is. */
  private walkedTo = -1;
  private readonly latest = new Latest();

  constructor(
    private readonly requests: Requests,
    thumbnails: Thumbnails,
    private readonly host: PanelHost,
  ) {
    this.panel = new NeighborPanel(
      thumbnails,
      (position) => (this.mode === "neighbors" ? this.pick(position) : this.walkTo(position)),
      (mode) => this.setMode(mode),
      (position) => host.badgeOf(position),
    );
    this.gallery = new SelectionGallery(
      requests,
      thumbnails,
      {
        walkTo: (position) => this.walkTo(position),
        removeFromSelection: (position) => host.removeFromSelection(position),
        setWide: (wide) => host.setWide(wide),
        setTitle: (title) => this.panel.setTitle(title),
        badgeOf: (position) => host.badgeOf(position),
      },
      host.numericColumns,
    );
  }

  get showsSuggestions(): boolean {
    return this.mode === "suggestions";
  }

  get showsSelection(): boolean {
    return this.mode === "selection";
  }

  /** Tiles per row of what the panel shows (the up/down arrows move by a row). */
  get columns(): number {
    return this.mode === "selection" ? this.gallery.columns : PANEL_COLUMNS;
  }

  /** The selection may have changed (here or in Python): the gallery shows the new one. */
  selectionChanged(selection: Selected): void {
    if (selection.equals(this.selection)) return;
    this.selection = selection;
    if (this.mode === "selection") this.reloadGallery();
  }

  /** The selection the gallery shows (or showed last). */
  private selection = Selected.none;

  private readonly reloadGallery = debounce(() => this.gallery.reload(), GALLERY_RELOAD_MS);

  /** Positions of the gallery tiles marked for labelling together, or null when none are. */
  async markedPositions(): Promise<Uint32Array | null> {
    return this.mode === "selection" ? this.gallery.markedPositions() : null;
  }

  /** Redraw every tile's label badge. */
  refreshBadges(): void {
    this.panel.refreshBadges();
    this.gallery.refreshBadges();
  }

  /** The focus changed (here or in Python): follow it unless the keyboard walked there. */
  focusChanged(): void {
    const focus = this.host.focus();
    this.panel.markCurrent(focus);
    this.gallery.markCurrent(focus);
    if (focus < 0 || focus === this.walkedTo || this.mode !== "neighbors") return;
    this.walkedTo = -1;
    void this.showNeighbors(focus);
  }

  /** Label classes appeared or went: the Neighbors | Suggestions switch follows. */
  enableModes(enabled: boolean): void {
    this.panel.enableModes(enabled);
    this.panel.setMode(this.mode);
  }

  setMode(mode: PanelMode): void {
    this.mode = mode;
    if (mode !== "neighbors") this.host.showNeighbors(null);
    this.panel.setMode(mode);
    this.walkedTo = -1;
    const focus = this.host.focus();
    this.panel.showBody(mode === "selection" ? this.gallery.el : null);
    this.gallery.setActive(mode === "selection");
    if (mode === "selection") {
      this.latest.cancel();
      this.gallery.markCurrent(focus);
    } else if (mode === "suggestions") void this.showSuggestions();
    else if (focus >= 0) void this.showNeighbors(focus);
    else {
      this.latest.cancel();
      this.panel.message("Neighbors", "Click a galaxy to see its neighbors");
    }
  }

  /** New suggestions are ready: show them if the panel lists suggestions. */
  suggestionsChanged(): void {
    if (this.mode === "suggestions") void this.showSuggestions();
  }

  /** Move along the panel's tiles; `skipLabelled` passes over galaxies that have a label. */
  walk(step: number, skipLabelled = false): void {
    if (this.mode === "selection") {
      void this.gallery.walk(step);
      return;
    }
    const shown = this.panel.tiles;
    let at = shown.findIndex((t) => t.position === this.host.focus());
    for (;;) {
      const next = walk(shown.length, at, step);
      if (next < 0 || next === at) return;
      at = next;
      if (!skipLabelled || this.host.labelCode(shown[at].position) === UNLABELLED) break;
    }
    this.walkTo(shown[at].position);
  }

  async showMoreLike(): Promise<void> {
    if (this.mode === "selection") this.setMode("neighbors");
    const count = this.host.selectedCount();
    const signal = this.latest.next();
    this.panel.loading("Searching…", this.host.k());
    const reply = await this.requests.request("centroid", {}, { signal });
    if (signal.aborted) return;
    if (!reply.ok) return this.unavailable(reply);
    this.panel.show(`More like the ${count.toLocaleString("en-US")} selected`, tiles(reply.positions, reply.ids, reply.distances));
  }

  dispose(): void {
    this.latest.cancel();
    this.reloadGallery.cancel();
    this.gallery.dispose();
  }

  private async showNeighbors(position: number): Promise<void> {
    const signal = this.latest.next();
    this.panel.loading("Finding neighbors…", this.host.k());
    this.host.showNeighbors(null);
    const reply = await this.requests.request("neighbors", { position }, { signal });
    if (signal.aborted) return;
    if (!reply.ok) return this.unavailable(reply);
    this.panel.show(`Neighbors of ${reply.id}${this.host.neighborNote}`, tiles(reply.positions, reply.ids, reply.distances));
    this.host.showNeighbors(reply.positions);
  }

  private async showSuggestions(): Promise<void> {
    const signal = this.latest.next();
    const reply = await this.requests.request("suggestions", {}, { signal });
    if (signal.aborted || this.mode !== "suggestions") return;
    if (!reply.ok || reply.ids.length === 0) {
      const why = reply.ok ? this.host.learnMessage() || "label galaxies of two classes first" : reply.reason;
      this.panel.message("No suggestions yet", why);
      return;
    }
    this.panel.show(`Suggestions (${this.host.strategy()})`, tiles(reply.positions, reply.ids, reply.scores));
    // The label keys act on a suggestion shown: the first, unless the focus is one of them.
    if (!reply.positions.includes(this.host.focus())) this.walkTo(reply.positions[0]);
  }

  private unavailable(reply: Failure): void {
    if (!reply.cancelled) this.panel.message("Neighbors unavailable", reply.reason);
  }

  /** Focus a galaxy of the panel and pan to it, keeping the panel's list. */
  private walkTo(position: number): void {
    this.walkedTo = position;
    this.host.panTo(position);
    this.host.setFocus(position);
    this.panel.markCurrent(position);
  }

  private pick(position: number): void {
    this.walkedTo = -1;
    if (position === this.host.focus()) void this.showNeighbors(position);
    else this.host.setFocus(position);
    this.host.panTo(position);
  }
}

/** Panel tiles from a reply's positions, ids and one value per tile (NaN: none). */
function tiles(positions: Uint32Array, ids: string[], values: Float32Array): Tile[] {
  return ids.map((id, i) => ({ position: positions[i], id, value: Number.isNaN(values[i]) ? null : values[i] }));
}

