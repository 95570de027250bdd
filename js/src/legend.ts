// Color bar (continuous values) or legend (categories, label classes) in HTML over the plot;
// clicking its title folds it away so it never hides points for good.

import { categoryColor, formatNumber, gradientCss, MISSING_COLOR, UNLABELLED_COLOR, viridis } from "./colors";
import { element } from "./dom";
import type { ColorMeta } from "./protocol";

/** `classes`: the label classes, listed when coloring by label (`missing`: the unlabelled). */
export function renderLegend(el: HTMLElement, meta: ColorMeta, classes: readonly string[]): void {
  el.replaceChildren();
  el.hidden = meta.kind === "none";
  if (meta.kind === "none") return;
  const title = element("div", "gw-legend-title", meta.column);
  title.title = "Click to fold or unfold the legend";
  title.addEventListener("click", () => el.classList.toggle("gw-legend-folded"));
  el.append(title);
  if (meta.kind === "continuous") {
    const bar = element("div", "gw-colorbar");
    bar.style.background = gradientCss(viridis(16));
    const ticks = element("div", "gw-colorbar-ticks");
    ticks.append(element("span", "", formatNumber(meta.min)), element("span", "", formatNumber(meta.max)));
    el.append(bar, ticks);
  } else {
    const names = meta.kind === "label" ? classes : meta.categories;
    names.forEach((name, i) => el.append(swatch(categoryColor(i), name)));
  }
  if (meta.kind === "label") {
    el.append(swatch(UNLABELLED_COLOR, `unlabelled (${meta.missing.toLocaleString("en-US")})`));
  } else if (meta.missing > 0) {
    el.append(swatch(MISSING_COLOR, `missing (${meta.missing.toLocaleString("en-US")})`));
  }
}

function swatch(color: string, label: string): HTMLElement {
  const row = element("div", "gw-legend-row");
  const chip = element("span", "gw-swatch");
  chip.style.background = color;
  row.append(chip, element("span", "gw-legend-label", label));
  return row;
}
