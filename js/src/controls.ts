// Toolbar controls mirrored in Python: the color menu (a meta column, "label", "score", or one
// color; Python's `w.color_by`, sent as the `color_by` request and shown from `_color_meta`),
// "Zoom to selection" (Python's `w.zoom_to_selection()` sends the same action as an event) and,
// with more than one layout, the layout menu (the synced `layout_name`, Python's too).

import { element } from "./dom";
import type { ColorMeta } from "./protocol";

export type ExportWhat = "selection" | "labels";
export type ExportFormat = "csv" | "parquet";

export interface ControlActions {
  colorBy(column: string | null): void;
  /** Download the selection or the labels as the kernel gives them (`w.selected`, `w.labels`). */
  exportData(what: ExportWhat, format: ExportFormat): void;
  zoomToSelection(): void;
  layout(name: string): void;
}

/** The color menu's value for a color meta ("" for one color). */
export function colorChoice(meta: ColorMeta): string {
  return meta.kind === "none" ? "" : meta.column;
}

export class Controls {
  readonly el = element("div", "gw-controls");
  private readonly colorSelect = element("select", "gw-select gw-color-select");
  private readonly zoomButton = element("button", "gw-button gw-zoom-selection", "Zoom to selection");
  private readonly layoutSelect = element("select", "gw-select gw-layout-select");
  private readonly exportSelect = element("select", "gw-select gw-export");

  /** `layouts`: the layout names (no menu for fewer than two). */
  constructor(columns: readonly string[], layouts: readonly string[], actions: ControlActions) {
    const none = element("option", "", "one color");
    none.value = "";
    this.colorSelect.append(none);
    for (const column of columns) {
      const option = element("option", "", column);
      option.value = column;
      this.colorSelect.append(option);
    }
    this.colorSelect.title = "Color the galaxies by";
    this.colorSelect.addEventListener("change", () => actions.colorBy(this.colorSelect.value || null));
    this.zoomButton.type = "button";
    this.zoomButton.title = "Pan and zoom to the selected galaxies";
    this.zoomButton.addEventListener("click", () => actions.zoomToSelection());
    const label = element("label", "gw-labelled", "Color");
    label.append(this.colorSelect);
    const exports: [string, string][] = [
      ["", "Export…"],
      ["selection:csv", "selection as CSV"],
      ["selection:parquet", "selection as parquet"],
      ["labels:csv", "labels as CSV"],
      ["labels:parquet", "labels as parquet"],
    ];
    for (const [value, text] of exports) {
      const option = element("option", "", text);
      option.value = value;
      this.exportSelect.append(option);
    }
    this.exportSelect.title = "Download the selection (w.selected) or the labels (w.labels)";
    this.exportSelect.addEventListener("change", () => {
      const [what, format] = this.exportSelect.value.split(":");
      this.exportSelect.value = "";
      if (what && format) actions.exportData(what as ExportWhat, format as ExportFormat);
    });
    this.el.append(label, this.zoomButton, this.exportSelect);
    if (layouts.length > 1) {
      for (const name of layouts) {
        const option = element("option", "", name);
        option.value = name;
        this.layoutSelect.append(option);
      }
      this.layoutSelect.title = "Where the galaxies are drawn";
      this.layoutSelect.addEventListener("change", () => actions.layout(this.layoutSelect.value));
      const layoutLabel = element("label", "gw-labelled", "Layout");
      layoutLabel.append(this.layoutSelect);
      this.el.append(layoutLabel);
    }
  }

  /** Show the layout in force (chosen here or from Python). */
  setLayout(name: string): void {
    this.layoutSelect.value = name;
  }

  /** Show the coloring in force (set here or from Python). */
  setColor(meta: ColorMeta): void {
    const value = colorChoice(meta);
    if (![...this.colorSelect.options].some((o) => o.value === value)) {
      const option = element("option", "", value); // an array given from Python, say
      option.value = value;
      this.colorSelect.append(option);
    }
    this.colorSelect.value = value;
  }

  setSelected(count: number): void {
    this.zoomButton.disabled = count === 0;
  }
}
