// Color bar (continuous values) or legend (categories, label classes with their counts) in HTML
// over the plot; clicking its title folds it away so it never hides points for good, clicking a
// category shows only it (alt/ctrl-click hides it), as Python's `w.filter` does.

import { colorList, formatNumber, gradientCss, MISSING_COLOR, UNLABELLED_COLOR, viridis } from "./colors";
import { element } from "./dom";
import type { ColorMeta } from "./protocol";

/** What a click on a category's entry does: show only it, or hide it (alt/ctrl-click). */
export type LegendPick = (category: string, only: boolean) => void;

/**
 * `classes`: the label classes, listed when coloring by label (`missing`: the unlabelled), with
 * `counts` per class. `pick`: categories (not classes) filter the map when clicked.
 */
export function renderLegend(
  el: HTMLElement,
  meta: ColorMeta,
  classes: readonly string[],
  counts: readonly number[],
  pick: LegendPick,
): void {
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
  } else if (meta.kind === "label") {
    const colors = colorList(meta, classes);
    classes.forEach((name, i) => el.append(swatch(colors[i + 1], `${name} (${(counts[i] ?? 0).toLocaleString("en-US")})`)));
  } else {
    const colors = colorList(meta, classes);
    meta.categories.forEach((name, i) => {
      const row = swatch(colors[i], name);
      row.classList.add("gw-legend-pick");
      row.dataset.category = name;
      row.title = "Click: show only this; alt- or ctrl-click: hide it; the filter line's × shows all";
      row.addEventListener("click", (event) => pick(name, !(event.altKey || event.ctrlKey || event.metaKey)));
      el.append(row);
    });
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
