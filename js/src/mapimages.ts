// Thumbnails in the map: when few enough galaxies are in view (placement.ts decides, by the
// `show_images` setting, how many are in view and the zoom), their thumbnails are drawn at their
// points on a 2-D canvas over the WebGL one, sized with the zoom, without overlapping (the others
// stay points). Images come through the widget's thumbnail channel and cache (every image source:
// URLs, files, kernel-rendered bytes), are decoded off the main thread (createImageBitmap, or
// <img>.decode for URLs the page may not read) into small bitmaps kept in an LRU, a few requests
// at a time, and requests for images no longer placed are cancelled. Work happens at most once an
// animation frame. The focused galaxy's image has a thick outline, selected ones an outline in the
// selection's color, labelled ones a badge in their label's color. The canvas takes no pointer
// events: the widget asks `at()` which image is under the pointer (hover, click).

import { element } from "./dom";
import type { Affine } from "./pick";
import {
  countLimit,
  galaxiesInView,
  imageAt,
  imageSize,
  type Placed,
  placeImages,
  SHOW_IMAGES,
  type ShowImages,
  showsImages,
  Tier,
} from "./placement";
import type { Thumbnail } from "./thumbnails";

export interface MapImagesHost {
  /** Point space → canvas pixels now; null before the first draw. */
  view(): Affine | null;
  /** How far the view is zoomed in (1: the whole map). */
  zoom(): number;
  /** The points drawn (the layout shown). */
  points(): { x: Float32Array; y: Float32Array; positions: Uint32Array | null };
  /** The thumbnails of `positions`, asked for in one request (`signal` cancels it). */
  thumbnails(positions: number[], signal: AbortSignal): Promise<Thumbnail>[];
  focus(): number;
  /** Whether a galaxy is selected (cheap: asked of every galaxy in view). */
  selected(position: number): boolean;
  /** Whether a galaxy is labelled (cheap: asked of every galaxy in view). */
  labelled(position: number): boolean;
  /** The label badge of a galaxy (null: unlabelled). */
  badge(position: number): { name: string; color: string } | null;
  /** Whether a galaxy is shown (the filter). */
  shown(position: number): boolean;
  dark(): boolean;
  /** The toolbar's menu changed the setting. */
  setShowImages(setting: ShowImages): void;
}

/**
 * Thumbnails a request asks for, and requests in flight at once: few messages (each is work for
 * JupyterLab's main thread too), while the kernel's image threads all stay busy.
 */
const BATCH = 4;
const MAX_IN_FLIGHT = 4;
/** Decoded images kept (bitmaps of BITMAP_PX², about 37 kB each). */
const BITMAP_CACHE = 1200;
/** Bitmaps are made this size (device pixels); the largest image is MAX_IMAGE_PX CSS pixels. */
const BITMAP_PX = 128;
const FOCUS_COLOR = "#ff9f1c";
const SELECTED_COLOR = { light: "#000000", dark: "#ffffff" };

const MENU_TEXT: Record<ShowImages, string> = {
  auto: "Images: auto",
  always: "Images: always",
  never: "Images: never",
};

export class MapImages {
  readonly canvas = element("canvas", "gw-map-images");
  /** The toolbar's menu: auto / always / never. */
  readonly control = element("select", "gw-select gw-show-images");
  private readonly context: CanvasRenderingContext2D | null;
  private setting: ShowImages = "auto";
  private placed: Placed[] = [];
  private size = 0;
  private bitmaps = new Map<number, ImageBitmap>();
  private failed = new Set<number>();
  /** Requests in flight: the positions each asks for. */
  private inFlight = new Map<AbortController, number[]>();
  private frame = 0;
  /** Whether the placement must be made again (view, points, marks) or only the drawing. */
  private stale = true;
  private disposed = false;

  constructor(private readonly host: MapImagesHost) {
    this.context = this.canvas.getContext("2d");
    this.canvas.dataset.images = "0";
    for (const setting of SHOW_IMAGES) {
      const option = element("option", "", MENU_TEXT[setting]);
      option.value = setting;
      this.control.append(option);
    }
    this.control.title = "Thumbnails in the map: when zoomed in on few galaxies (auto), whenever they fit (always), or never";
    this.control.addEventListener("change", () => this.host.setShowImages(this.control.value as ShowImages));
  }

  /** The `show_images` setting. */
  setSetting(setting: ShowImages): void {
    this.setting = setting;
    this.control.value = setting;
    this.update();
  }

  /** The view, points, selection, focus, labels or filter changed: place the images again. */
  update(): void {
    this.stale = true;
    this.schedule();
  }

  /** The galaxy whose image is under canvas pixel (x, y); −1 for none. */
  at(x: number, y: number): number {
    if (this.placed.length === 0) return -1;
    return imageAt(this.placed.filter(({ position }) => this.bitmaps.has(position)), this.size, x, y);
  }

  private schedule(): void {
    if (!this.frame && !this.disposed) this.frame = requestAnimationFrame(this.tick);
  }

  private readonly tick = (): void => {
    this.frame = 0;
    if (this.disposed) return;
    if (this.stale) {
      this.stale = false;
      this.place();
      this.load();
    }
    this.draw();
  };

  /** Choose the images to show for the current view. */
  private place(): void {
    const view = this.host.view();
    const { width, height } = this.cssSize();
    // The points drawn: every galaxy (index = position), or beyond the point budget the loaded
    // ones, whose global positions `loaded` gives (detail.ts).
    const { x, y, positions: loaded } = this.host.points();
    const positionOf = (index: number) => (loaded ? loaded[index] : index);
    if (!view || this.setting === "never" || x.length === 0) {
      this.placed = [];
      return;
    }
    const zoom = this.host.zoom();
    const limit = countLimit(this.setting, zoom);
    if (limit === 0) {
      this.placed = [];
      return;
    }
    const focus = this.host.focus();
    const selected = (p: number) => this.host.selected(p);
    const tierOf = (p: number): Tier =>
      p === focus ? Tier.Focus : selected(p) ? Tier.Selected : this.host.labelled(p) ? Tier.Labelled : Tier.Other;
    const tier = (index: number) => tierOf(positionOf(index));
    const shown = (index: number) => this.host.shown(positionOf(index));
    const inView = galaxiesInView(x, y, view, { width, height, tier, shown, maxCount: limit });
    const show = inView.count <= limit && showsImages(this.setting, inView.count, zoom);
    this.size = imageSize(zoom);
    const placed = show ? placeImages(inView, this.size) : [];
    this.placed = loaded ? placed.map((image) => ({ ...image, position: loaded[image.position] })) : placed;
  }

  /** Ask for the placed images not loaded yet (in placing order); cancel those no longer placed. */
  private load(): void {
    const wanted = new Set(this.placed.map((image) => image.position));
    const asked = new Set<number>();
    for (const [controller, positions] of this.inFlight) {
      if (positions.some((position) => wanted.has(position))) positions.forEach((position) => asked.add(position));
      else {
        controller.abort(); // none of its images is placed any more
        this.inFlight.delete(controller);
      }
    }
    const next: number[] = [];
    for (const { position } of this.placed) {
      if (this.bitmaps.has(position) || this.failed.has(position) || asked.has(position)) continue;
      next.push(position);
      if (next.length >= BATCH * (MAX_IN_FLIGHT - this.inFlight.size)) break;
    }
    for (let start = 0; start < next.length && this.inFlight.size < MAX_IN_FLIGHT; start += BATCH) {
      const positions = next.slice(start, start + BATCH);
      const controller = new AbortController();
      this.inFlight.set(controller, positions);
      const thumbnails = this.host.thumbnails(positions, controller.signal);
      const done = positions.map((position, i) => this.fetch(position, thumbnails[i], controller.signal));
      void Promise.all(done).finally(() => {
        this.inFlight.delete(controller);
        if (!this.disposed && !controller.signal.aborted) {
          this.load(); // the next ones
          this.schedule();
        }
      });
    }
  }

  private async fetch(position: number, pending: Promise<Thumbnail>, signal: AbortSignal): Promise<void> {
    const thumbnail = await pending;
    if (signal.aborted) return;
    if (!thumbnail.ok) {
      this.failed.add(position);
      return;
    }
    try {
      const bitmap = await decode(thumbnail.src);
      if (this.disposed) {
        bitmap.close();
        return;
      }
      this.remember(position, bitmap);
      this.schedule(); // draw it
    } catch {
      this.failed.add(position);
    }
  }

  private remember(position: number, bitmap: ImageBitmap): void {
    this.bitmaps.get(position)?.close();
    this.bitmaps.delete(position);
    this.bitmaps.set(position, bitmap);
    while (this.bitmaps.size > BITMAP_CACHE) {
      const [oldest, old] = this.bitmaps.entries().next().value as [number, ImageBitmap];
      old.close();
      this.bitmaps.delete(oldest);
    }
  }

  /** Draw the placed images that are loaded, with their marks. */
  private draw(): void {
    const context = this.context;
    if (!context) return;
    const { width, height } = this.cssSize();
    const ratio = window.devicePixelRatio || 1;
    const [w, h] = [Math.round(width * ratio), Math.round(height * ratio)];
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);
    const size = this.size;
    const half = size / 2;
    const focus = this.host.focus();
    const contrast = this.host.dark() ? SELECTED_COLOR.dark : SELECTED_COLOR.light;
    let drawn = 0;
    for (const { position, x, y } of this.placed) {
      const bitmap = this.bitmaps.get(position);
      if (!bitmap) continue;
      drawn++;
      context.drawImage(bitmap, x - half, y - half, size, size);
      const badge = this.host.badge(position);
      if (badge) {
        const text = badge.name.slice(0, 12);
        context.font = "bold 10px sans-serif";
        const tw = Math.min(context.measureText(text).width + 6, size);
        context.fillStyle = badge.color;
        context.fillRect(x - half, y + half - 13, tw, 13);
        context.fillStyle = "#ffffff";
        context.fillText(text, x - half + 3, y + half - 3, size - 6);
        context.strokeStyle = badge.color;
        context.lineWidth = 2;
        context.strokeRect(x - half + 1, y - half + 1, size - 2, size - 2);
      }
      if (this.host.selected(position)) {
        // The selection's color outside, its opposite inside: seen on light and dark skies alike.
        context.lineWidth = 2;
        context.strokeStyle = contrast;
        context.strokeRect(x - half - 1, y - half - 1, size + 2, size + 2);
        context.strokeStyle = contrast === SELECTED_COLOR.light ? SELECTED_COLOR.dark : SELECTED_COLOR.light;
        context.strokeRect(x - half + 1, y - half + 1, size - 2, size - 2);
      }
      if (position === focus) {
        context.strokeStyle = FOCUS_COLOR;
        context.lineWidth = 3;
        context.strokeRect(x - half - 2.5, y - half - 2.5, size + 5, size + 5);
      }
    }
    // For the page and its tests: how many images are drawn, and where (position:x:y, pixels).
    this.canvas.dataset.images = String(drawn);
    this.canvas.dataset.placed = String(this.placed.length);
    this.canvas.dataset.size = String(Math.round(size));
    this.canvas.dataset.drawn = this.placed
      .filter(({ position }) => this.bitmaps.has(position))
      .map(({ position, x, y }) => `${position}:${Math.round(x)}:${Math.round(y)}`)
      .join(" ");
  }

  private cssSize(): { width: number; height: number } {
    return { width: this.canvas.clientWidth || 1, height: this.canvas.clientHeight || 1 };
  }

  dispose(): void {
    this.disposed = true;
    cancelAnimationFrame(this.frame);
    for (const controller of this.inFlight.keys()) controller.abort();
    this.inFlight.clear();
    for (const bitmap of this.bitmaps.values()) bitmap.close();
    this.bitmaps.clear();
  }
}

/**
 * A small bitmap of the image at `src`, decoded off the main thread: object and data URLs are
 * read and decoded by createImageBitmap; other URLs (which the page may not be allowed to read)
 * through an <img>'s decode().
 */
async function decode(src: string): Promise<ImageBitmap> {
  const resize: ImageBitmapOptions = { resizeWidth: BITMAP_PX, resizeHeight: BITMAP_PX, resizeQuality: "medium" };
  if (src.startsWith("blob:") || src.startsWith("data:")) {
    const blob = await (await fetch(src)).blob();
    return createImageBitmap(blob, resize);
  }
  const img = new Image();
  img.decoding = "async";
  img.src = src;
  await img.decode();
  return createImageBitmap(img, resize);
}
