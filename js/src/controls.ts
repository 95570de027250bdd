// Toolbar controls mirrored in Python: the colour menu (a meta column, "label", "score", or one
// colour; Python's `w.color_by`, sent as the `color_by` request and shown from `_color_meta`) and
// "Zoom to selection" (Python's `w.zoom_to_selection()` sends the same action as an event).

import { element } from "./dom";
import type { ColorMeta } from "./protocol";

export interface ControlActions {
  colorBy(column: string | null): void;
  zoomToSelection(): void;
}

/** The colour menu's value for a colour meta ("" for one colour). */
export function colorChoice(meta: ColorMeta): string {
  return meta.kind === "none" ? "" : meta.column;
}

export class Controls {
  readonly el = element("div", "gw-controls");
  private readonly colorSelect = element("select", "gw-select gw-color-select");
  private readonly zoomButton = element("button", "gw-button gw-zoom-selection", "Zoom to selection");

  constructor(columns: readonly string[], actions: ControlActions) {
    const none = element("option", "", "one colour");
    none.value = "";
    this.colorSelect.append(none);
    for (const column of columns) {
      const option = element("option", "", column);
      option.value = column;
      this.colorSelect.append(option);
    }
    this.colorSelect.title = "Colour the galaxies by";
    this.colorSelect.addEventListener("change", () => actions.colorBy(this.colorSelect.value || null));
    this.zoomButton.type = "button";
    this.zoomButton.title = "Pan and zoom to the selected galaxies";
    this.zoomButton.addEventListener("click", () => actions.zoomToSelection());
    const label = element("label", "gw-labelled", "Colour");
    label.append(this.colorSelect);
    this.el.append(label, this.zoomButton);
  }

  /** Show the colouring in force (set here or from Python). */
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
