// A saved Explorer page (galwidget/html.py, `w.save_html(path)`): the widget's own front end,
// rendered on a static in-page model instead of a kernel, so the page opens offline from disk.
//
// The page holds `<script type="application/json" id="galwidget-page">` with a PageData object:
//   state       every synced JSON trait, as the kernel last sent it;
//   binary      every synced bytes trait, base64;
//   hover       {ids, columns, text, positions}: text[c][i] is column c's hover text of the
//               galaxy at position i, or, with `positions` (a map beyond its point budget: the
//               sample's sorted positions), of the galaxy at positions[i];
//   thumbnails  one URL (or data: URI) per galaxy as ids lists them, "" where none was saved;
//               null: no images;
//   labels      the label codes (uint8 per position), base64; null when there are no classes;
//   replies     kernel replies saved with the page (the focused galaxy's neighbors; beyond the
//               point budget the density layers, keyed by layer, and the sample's map_view,
//               which answers every map_view): kind, position, reply fields and base64 buffers.
// StaticModel has the model interface the front end uses (get/set/on/off/send/save_changes);
// its `send` answers hover, thumbnail(s) and labels requests and the saved replies from that data
// on the next tick and refuses the others: there is no kernel to search or to keep labels.

import type { AnyModel } from "@anywidget/types";
import type { ModelState } from "./protocol";
import widget from "./widget";

export interface PageData {
  state: Record<string, unknown>;
  binary: Record<string, string>;
  hover: { ids: string[]; columns: string[]; text: string[][]; positions?: number[] | null };
  thumbnails: string[] | null;
  labels: string | null;
  replies: SavedReply[];
}

export interface SavedReply {
  kind: string;
  /** The galaxy's position; a density's layer; "" for the sample's map_view. */
  position: number | string;
  content: Record<string, unknown>;
  buffers: string[];
}

type Callback = (...args: never[]) => void;
type Content = Record<string, unknown>;

export const NO_KERNEL = "not available in a saved page (no kernel)";

export function base64Bytes(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export class StaticModel implements AnyModel<ModelState> {
  readonly widget_manager = {
    get_model: () => Promise.reject(new Error(`other widgets are ${NO_KERNEL}`)),
  };
  private readonly values = new Map<string, unknown>();
  private readonly listeners = new Map<string, Set<Callback>>();
  private readonly labels: Uint8Array<ArrayBuffer> | null;
  private readonly replies = new Map<string, SavedReply>();

  constructor(private readonly data: PageData) {
    for (const [name, value] of Object.entries(data.state)) this.values.set(name, value);
    for (const [name, text] of Object.entries(data.binary)) {
      this.values.set(name, new DataView(base64Bytes(text).buffer));
    }
    this.labels = data.labels === null ? null : base64Bytes(data.labels);
    for (const reply of data.replies) this.replies.set(`${reply.kind} ${reply.position}`, reply);
  }

  get<K extends keyof ModelState>(key: K): ModelState[K] {
    return this.values.get(key) as ModelState[K];
  }

  set<K extends keyof ModelState>(key: K, value: ModelState[K]): void {
    this.values.set(key, value);
    this.emit(`change:${key}`, []);
  }

  save_changes(): void {}

  on(eventName: string, callback: Callback): void {
    const set = this.listeners.get(eventName) ?? new Set<Callback>();
    set.add(callback);
    this.listeners.set(eventName, set);
  }

  off(eventName?: string | null, callback?: Callback | null): void {
    if (!eventName) {
      this.listeners.clear();
    } else if (!callback) {
      this.listeners.delete(eventName);
    } else {
      this.listeners.get(eventName)?.delete(callback);
    }
  }

  send(content: Content): void {
    if (content.type !== "request" || typeof content.request !== "number") return; // e.g. cancel
    const [reply, buffers] = this.answer(content);
    const message = { type: "reply", kind: content.kind, view: content.view, request: content.request, ...reply };
    setTimeout(() => this.emit("msg:custom", [message, buffers.map((b) => new DataView(b.buffer))]), 0);
  }

  /** The reply fields and buffers to one request. */
  answer(request: Content): [Content, Uint8Array<ArrayBuffer>[]] {
    const position = request.position;
    const at = request.kind === "map_density" ? request.layer : request.kind === "map_view" ? "" : position;
    const saved = this.replies.get(`${String(request.kind)} ${String(at)}`);
    if (saved) return [{ ...saved.content, ok: true }, saved.buffers.map(base64Bytes)];
    const row = typeof position === "number" ? this.rowOf(position) : -1;
    if (request.kind === "hover" && row >= 0) {
      const { ids, columns, text } = this.data.hover;
      return [{ ok: true, id: ids[row], fields: columns.map((c, i) => [c, text[i][row]]) }, []];
    }
    if ((request.kind === "thumbnail" || request.kind === "image") && row >= 0) {
      const url = this.data.thumbnails?.[row];
      return url ? [{ ok: true, url }, []] : [{ ok: false, reason: "no thumbnail saved in this page" }, []];
    }
    if (request.kind === "thumbnails" && Array.isArray(request.positions)) {
      // The map's images: the saved URLs (or data: URIs) of each galaxy, one reply.
      const urls = request.positions.map((p) => (typeof p === "number" ? this.data.thumbnails?.[p] || null : null));
      const reasons = urls.map((url) => (url ? null : "no thumbnail saved in this page"));
      const none = urls.map(() => null);
      return [{ ok: true, urls, mimes: none, sizes: urls.map(() => 0), reasons }, [new Uint8Array(0)]];
    }
    if (request.kind === "labels" && this.labels !== null) {
      return [{ ok: true, version: this.get("_label_meta").version }, [this.labels]];
    }
    return [{ ok: false, reason: `${String(request.kind)}: ${NO_KERNEL}` }, []];
  }

  /** Where the page lists `position`'s id, hover text and thumbnail; −1 when it does not. */
  private rowOf(position: number): number {
    const { ids, positions } = this.data.hover;
    if (!positions) return position >= 0 && position < ids.length ? position : -1;
    let [lo, hi] = [0, positions.length - 1];
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (positions[mid] === position) return mid;
      if (positions[mid] < position) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  private emit(eventName: string, args: unknown[]): void {
    for (const callback of this.listeners.get(eventName) ?? []) {
      (callback as (...a: unknown[]) => void)(...args);
    }
  }
}

/** Render the page's saved Explorer into `#galwidget`. */
function main(): void {
  const source = document.getElementById("galwidget-page");
  const el = document.getElementById("galwidget");
  if (!source || !el) throw new Error("galwidget: this page has no saved Explorer");
  const data = JSON.parse(source.textContent ?? "") as PageData;
  widget.render({ model: new StaticModel(data), el });
}

if (typeof document !== "undefined" && document.getElementById("galwidget-page")) main();
