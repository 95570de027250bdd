// The neighbour panel: a grid of thumbnails of the focused galaxy's nearest neighbours.

import { formatNumber } from "./colors";
import { element } from "./dom";
import { loadInto, type Thumbnails } from "./thumbnails";

export interface Neighbour {
  index: number;
  id: string;
  distance: number;
}

export class NeighbourPanel {
  readonly el = element("div", "gw-panel");
  private readonly title = element("div", "gw-panel-title", "Click a galaxy to see its neighbours");
  private readonly grid = element("div", "gw-grid");
  private generation = 0;

  constructor(
    private readonly thumbnails: Thumbnails,
    private readonly onPick: (index: number) => void,
  ) {
    this.el.append(this.title, this.grid);
  }

  /** Placeholder tiles while the kernel answers. */
  loading(title: string, k: number): void {
    this.generation++;
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
    this.generation++;
    this.title.textContent = title;
    this.grid.replaceChildren(element("div", "gw-panel-message", text));
  }

  show(title: string, neighbours: Neighbour[]): void {
    const generation = ++this.generation;
    this.title.textContent = title;
    this.grid.replaceChildren(...neighbours.map((n) => this.tile(n, generation)));
  }

  private tile(neighbour: Neighbour, generation: number): HTMLElement {
    const tile = element("button", "gw-tile");
    tile.type = "button";
    tile.title = `${neighbour.id} (distance ${formatNumber(neighbour.distance)})`;
    tile.dataset.index = String(neighbour.index);
    const thumb = element("div", "gw-thumb gw-placeholder", "…");
    const caption = element("div", "gw-caption");
    caption.append(
      element("span", "gw-caption-id", neighbour.id),
      element("span", "gw-caption-distance", formatNumber(neighbour.distance)),
    );
    tile.append(thumb, caption);
    tile.addEventListener("click", () => this.onPick(neighbour.index));
    void this.fill(thumb, neighbour.index, generation);
    return tile;
  }

  private async fill(thumb: HTMLElement, index: number, generation: number): Promise<void> {
    const result = await this.thumbnails.get(index);
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
      fail(thumb, loaded.reason);
    }
  }
}

function fail(thumb: HTMLElement, reason: string): void {
  thumb.classList.add("gw-failed");
  thumb.textContent = reason;
  thumb.title = reason;
}
