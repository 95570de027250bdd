// The search box in the toolbar: an id (exact, or a prefix with a short completion list) or a sky
// position (decimal degrees, sexagesimal, an IAU name) goes to the kernel's `find` request, which
// focuses the galaxy found (galwidget/search.py parses the text); the box says what it found (and
// how far from the position asked for, in arcsec) and the host pans the scatter to it.

import { element } from "./dom";
import type { Found, Reply } from "./protocol";
import { MAX_QUERY_LENGTH } from "./protocol.generated";

export interface SearchHost {
  find(text: string): Promise<Reply<"find">>;
  /** The galaxy found (the kernel has focused it): pan and zoom to it. */
  found(position: number): void;
}


/** What the search box says about a `find` reply. */
export function describeFound(found: Found): string {
  if (found.match === "sky" && found.position < 0 && found.separation_arcsec !== null) {
    const away = formatArcsec(found.separation_arcsec);
    const within =
      found.radius_arcsec === null ? "the search radius" : formatArcsec(found.radius_arcsec);
    return `nothing within ${within} of ${found.query}; nearest is ${found.id ?? "?"} at ${away}`;
  }
  if (found.position < 0) {
    const count = found.n_completions.toLocaleString("en-US");
    return `${count} ids start with “${found.query}”: pick one`;
  }
  if (found.match === "sky" && found.separation_arcsec !== null) {
    return `${found.id}, ${formatArcsec(found.separation_arcsec)} from ${found.query}`;
  }
  return found.id ?? "";
}

/** An angle in arcsec, with the precision that matters (0.01″ near, 1″ far). */
export function formatArcsec(arcsec: number): string {
  const digits = arcsec < 10 ? 2 : arcsec < 100 ? 1 : 0;
  return `${arcsec.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })}″`;
}

export class SearchBox {
  readonly el = element("div", "gw-search");
  private readonly input = element("input", "gw-search-input");
  private readonly result = element("span", "gw-search-result");
  private readonly completions = element("div", "gw-search-completions");
  private asked = 0;

  constructor(private readonly host: SearchHost) {
    this.input.type = "search";
    this.input.maxLength = MAX_QUERY_LENGTH;
    this.input.placeholder = "Find id, ra dec, J…";
    this.input.title = "An id (or its start), or a sky position: 150.1 2.2 · 10:00:24 +02:12:00 · J100024.0+021200";
    this.input.setAttribute("aria-label", "Find a galaxy");
    this.input.addEventListener("keydown", (event) => {
      event.stopPropagation(); // typing is not labelling (nor a JupyterLab shortcut)
      if (event.key === "Enter") void this.find(this.input.value);
      else if (event.key === "Escape") this.completions.hidden = true;
    });
    this.completions.hidden = true;
    this.el.append(this.input, this.completions, this.result);
  }

  /** Ask the kernel for `text`; show what it found. */
  async find(text: string): Promise<void> {
    const query = text.trim();
    this.completions.hidden = true;
    if (!query) return;
    const asked = ++this.asked;
    this.result.classList.remove("gw-error");
    this.result.textContent = "…";
    const reply = await this.host.find(query);
    if (asked !== this.asked) return; // a newer search
    if (!reply.ok) {
      this.result.classList.add("gw-error");
      this.result.textContent = reply.reason;
      this.result.title = reply.reason;
      return;
    }
    this.result.textContent = describeFound(reply);
    this.result.title = this.result.textContent;
    if (reply.position >= 0) this.host.found(reply.position);
    else if (reply.match === "sky" && reply.id !== null) this.showCompletions([reply.id]);
    else this.showCompletions(reply.completions);
  }

  private showCompletions(ids: string[]): void {
    this.completions.replaceChildren(
      ...ids.map((id) => {
        const b = element("button", "gw-search-completion", id);
        b.type = "button";
        b.addEventListener("click", () => {
          this.input.value = id;
          void this.find(id);
        });
        return b;
      }),
    );
    this.completions.hidden = ids.length === 0;
  }
}
