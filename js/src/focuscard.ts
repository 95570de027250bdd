// The focused galaxy first: a card at the top of the side panel with its own image (larger than
// a tile), its id, its hover fields (catalogue values) and links out by ra/dec (links.ts). It
// follows `_focus`; a newer focus cancels the requests of the older one. The same card, large,
// is the image view over the map (space, or a click on the card's image).

import { element } from "./dom";
import { linkElement, skyLinks } from "./links";
import { fail } from "./panel";
import { Latest, type Requests } from "./requests";
import { loadInto, type Thumbnails } from "./thumbnails";

export class FocusCard {
  readonly el = element("div", "gw-focus-card");
  private readonly image = element("div", "gw-thumb gw-placeholder gw-focus-image", "…");
  private readonly id = element("div", "gw-focus-id");
  private readonly fields = element("div", "gw-focus-fields");
  private readonly links = element("div", "gw-focus-links");
  private readonly latest = new Latest();
  private position = -1;

  /** `onImage`: a click on the image; `large`: the image view (with a close button). */
  constructor(
    private readonly requests: Requests,
    private readonly thumbnails: Thumbnails | null,
    onImage: () => void,
    large = false,
  ) {
    const text = element("div", "gw-focus-text");
    text.append(this.id, this.fields, this.links);
    this.el.append(this.image, text);
    this.image.hidden = thumbnails === null;
    this.image.title = large ? "Close (space or Esc)" : "Large image (space)";
    this.image.addEventListener("click", onImage);
    if (large) {
      this.el.className = "gw-viewer";
      const close = element("button", "gw-button gw-viewer-close", "×");
      close.type = "button";
      close.title = "Close (space or Esc); arrows step through the panel, label keys label";
      close.addEventListener("click", onImage);
      text.prepend(close);
      text.append(element("div", "gw-viewer-hint", "← → step through the panel · 1–9 label · 0 remove · z undo · space or Esc close"));
    }
    this.el.hidden = true;
  }

  /** Show galaxy `position` (−1: hide the card). */
  async show(position: number): Promise<void> {
    if (position === this.position) return;
    this.position = position;
    const signal = this.latest.next();
    this.el.hidden = position < 0;
    if (position < 0) return;
    this.el.dataset.position = String(position);
    this.id.textContent = "…";
    this.fields.replaceChildren();
    this.links.replaceChildren();
    this.image.className = "gw-thumb gw-placeholder gw-focus-image";
    this.image.textContent = "…";
    const image = this.thumbnails?.get(position, signal);
    const reply = await this.requests.request("hover", { position }, { signal });
    if (signal.aborted) return;
    if (!reply.ok) {
      this.id.textContent = `galaxy ${position}: ${reply.reason}`;
      return;
    }
    this.id.textContent = reply.id;
    this.id.title = reply.id;
    for (const [name, value] of reply.fields) {
      const row = element("div", "gw-focus-field");
      row.append(element("span", "gw-focus-name", name), element("span", "gw-focus-value", value));
      this.fields.append(row);
    }
    if (reply.radec) {
      const [ra, dec] = reply.radec;
      this.links.append(element("span", "gw-focus-radec", `${ra.toFixed(5)} ${dec >= 0 ? "+" : ""}${dec.toFixed(5)}`));
      for (const link of skyLinks(ra, dec)) this.links.append(linkElement(link, "gw-focus-link"));
    }
    if (!image) return;
    const thumb = await image;
    if (signal.aborted) return;
    if (!thumb.ok) return fail(this.image, thumb.reason);
    const img = element("img", "gw-img");
    img.alt = reply.id;
    const loaded = await loadInto(img, thumb.src);
    if (signal.aborted) return;
    if (!loaded.ok) return fail(this.image, loaded.reason, thumb.src);
    this.image.classList.remove("gw-placeholder");
    this.image.replaceChildren(img);
  }

  dispose(): void {
    this.latest.cancel();
  }
}
