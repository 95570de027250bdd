// What is drawn over the map, from the kernel's `_overlay`: the sky layout's RA/Dec graticule (SVG
// polylines in point space) and each cluster's name with its representative galaxy's thumbnail at
// that galaxy's point; a click on a cluster's name selects the cluster (the `select_cluster`
// request). Placed through the scatter's current view (point space → canvas pixels), re-placed on
// every animation frame while there is something to draw (pan and zoom move it with the points).

import type { Affine } from "./pick";
import type { OverlayState } from "./protocol";
import type { Thumbnail } from "./thumbnails";

export interface OverlayHost {
  /** The map from point space to canvas pixels now; null before the first draw. */
  view(): Affine | null;
  /** The point of `position` in the layout shown. */
  point(position: number): [number, number] | null;
  /** The thumbnail of `position`; null when the data has no images. */
  thumbnail: ((position: number) => Promise<Thumbnail>) | null;
  selectCluster(cluster: number): void;
}

const SVG = "http://www.w3.org/2000/svg";

/** Canvas pixels of point-space (x, y) under `view`. */
export function project(view: Affine, x: number, y: number): [number, number] {
  const [a, b, c, d, e, f] = view;
  return [a * x + b * y + c, d * x + e * y + f];
}

/** The SVG `points` attribute of an interleaved x, y line under `view` (pixels, 1 decimal). */
export function polylinePoints(view: Affine, line: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i + 1 < line.length; i += 2) {
    const [px, py] = project(view, line[i], line[i + 1]);
    parts.push(`${px.toFixed(1)},${py.toFixed(1)}`);
  }
  return parts.join(" ");
}

export class MapOverlay {
  readonly el = document.createElement("div");
  private readonly svg = document.createElementNS(SVG, "svg");
  private lines: SVGPolylineElement[] = [];
  private marks: { el: HTMLButtonElement; position: number }[] = [];
  private state: OverlayState = { graticule: [], clusters: [] };
  private frame = 0;

  constructor(private readonly host: OverlayHost) {
    this.el.className = "gw-overlay";
    this.svg.classList.add("gw-graticule");
    this.el.append(this.svg);
  }

  /** Show `state` (replacing what was shown). */
  set(state: OverlayState | undefined): void {
    this.state = state ?? { graticule: [], clusters: [] };
    for (const line of this.lines) line.remove();
    for (const mark of this.marks) mark.el.remove();
    this.lines = this.state.graticule.map(() => {
      const line = document.createElementNS(SVG, "polyline");
      this.svg.append(line);
      return line;
    });
    this.marks = this.state.clusters.map(({ cluster, name, position }) => {
      const el = document.createElement("button");
      el.className = "gw-cluster-mark";
      el.dataset.cluster = String(cluster);
      el.title = `${name}: click to select this cluster`;
      const label = document.createElement("span");
      label.textContent = name;
      el.append(label);
      el.addEventListener("click", (event) => {
        event.stopPropagation();
        this.host.selectCluster(cluster);
      });
      void this.host.thumbnail?.(position).then((thumb) => {
        if (!thumb.ok) return;
        const img = document.createElement("img");
        img.src = thumb.src;
        img.alt = name;
        el.prepend(img);
      });
      this.el.append(el);
      return { el, position };
    });
    this.render();
    if (!this.frame && (this.lines.length || this.marks.length)) this.frame = requestAnimationFrame(this.tick);
  }

  private readonly tick = (): void => {
    this.frame = 0;
    if (!this.el.isConnected && this.el.dataset.shown) return; // the widget is gone
    this.render();
    if (this.lines.length || this.marks.length) this.frame = requestAnimationFrame(this.tick);
  };

  /** Place everything under the current view (hidden without one). */
  render(): void {
    const view = this.host.view();
    this.el.hidden = !view;
    if (!view) return;
    this.el.dataset.shown = "1";
    this.state.graticule.forEach((line, i) => {
      const points = polylinePoints(view, line);
      if (this.lines[i].getAttribute("points") !== points) this.lines[i].setAttribute("points", points);
    });
    for (const { el, position } of this.marks) {
      const point = this.host.point(position);
      el.hidden = !point;
      if (!point) continue;
      const [px, py] = project(view, point[0], point[1]);
      el.style.transform = `translate(${px.toFixed(1)}px, ${py.toFixed(1)}px) translate(-50%, -50%)`;
    }
  }
}
