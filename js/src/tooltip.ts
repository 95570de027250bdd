// Hover tooltip: thumbnail, id and a few catalogue values of the point under the mouse.

import { element } from "./dom";
import { loadInto, type Thumbnail } from "./thumbnails";

export class Tooltip {
  readonly el = element("div", "gw-tooltip");
  private generation = 0;

  /** Show the tooltip for one point; `thumbnail` fills in when it arrives. */
  show(id: string, fields: [string, string][], thumbnail: Promise<Thumbnail> | null): void {
    const generation = ++this.generation;
    const rows = element("div", "gw-tooltip-fields");
    for (const [name, value] of fields) {
      const row = element("div", "gw-tooltip-row");
      row.append(element("span", "gw-tooltip-name", name), element("span", "gw-tooltip-value", value));
      rows.append(row);
    }
    const thumb = element("div", "gw-tooltip-thumb");
    this.el.replaceChildren(thumb, element("div", "gw-tooltip-id", id), rows);
    this.el.classList.add("gw-visible");
    if (!thumbnail) {
      thumb.remove();
      return;
    }
    void thumbnail.then(async (result) => {
      if (generation !== this.generation) return;
      if (!result.ok) {
        thumb.textContent = result.reason;
        return;
      }
      const img = element("img", "gw-img");
      img.alt = "";
      const loaded = await loadInto(img, result.src);
      if (generation !== this.generation) return;
      if (loaded.ok) thumb.replaceChildren(img);
      else thumb.textContent = loaded.reason;
    });
  }

  /** Place the tooltip next to (x, y) in the plot's pixel coordinates, inside its bounds. */
  moveTo(x: number, y: number, width: number, height: number): void {
    const box = this.el.getBoundingClientRect();
    const left = x + 14 + box.width > width ? x - 14 - box.width : x + 14;
    const top = Math.min(Math.max(0, y + 14), Math.max(0, height - box.height));
    this.el.style.transform = `translate(${Math.max(0, left)}px, ${top}px)`;
  }

  hide(): void {
    this.generation++;
    this.el.classList.remove("gw-visible");
  }
}
