// galwidget wire protocol v2, TypeScript side. galwidget/protocol/protocol.json defines it once for
// both languages; protocol.generated.ts (generated from it) holds the constants, the request, reply
// and event types and the definition as a runtime table, with the same names as in Python
// (galwidget/protocol/_wire.py). This module adds the encodings and the checks of what arrives.
//
// Synced traits (ModelState): `_points` float32 LE interleaved x, y per position in [-1, 1];
// `_color` uint8 per position (categorical code, or continuous bin 0…254; 255 = missing; empty for
// kinds "none" and "label"); `_selection` an encoded selection (below); JSON traits as typed here.
// Binary traits are decoded once, here, at the boundary: view code never sees a DataView.
//
// Selection encoding: an 8-byte header then the payload (which starts at offset 8, so uint32 views
// stay aligned). Byte 0 is the kind: 0 POSITIONS (sorted unique uint32 LE), 1 BITMASK (ceil(n/8)
// bytes, position p selected when bit p & 7, LSB first, of byte p >> 3 is set), 2 RUNS (uint32 LE
// pairs start, length; sorted, non-overlapping, non-adjacent, length ≥ 1). Bytes 1–3 are zero,
// bytes 4–7 the uint32 LE count of selected positions. The encoder picks the smallest encoding
// (≤ 8 + n/8 bytes); the decoder checks everything and throws a ProtocolError.
//
// Requests (browser → kernel): {type: "request", kind, view, request, ...params} (+ buffers);
// replies {type: "reply", kind, view, request, ok, ...fields} (+ buffers); {type: "cancel", view,
// request} drops a request the view no longer needs. `view` is the random id of the view that asks:
// every view of a widget receives every reply and takes only those naming it. Events (kernel → browser): {type: "event", kind: "labels",
// version, base_version} + [positions uint32, codes uint8], {type: "event", kind: "error", message}
// and {type: "event", kind: "zoom_to_selection"}.
// Label codes: 0 unlabelled, i + 1 class i, 255 a label outside the classes.

import type { AnyModel } from "@anywidget/types";
import { HEADER_BYTES, type KernelEvent, REQUESTS, type RequestMap, SelectionKind } from "./protocol.generated";

export {
  COLOR_BINS,
  type KernelEvent,
  MAX_MESSAGE_BYTES,
  MISSING_COLOR,
  OTHER_LABEL,
  PROTOCOL_VERSION,
  type RequestMap,
  SelectionKind,
  UNLABELLED,
} from "./protocol.generated";

/** A protocol violation: malformed trait, reply or event, or a message over the size bound. */
export class ProtocolError extends Error {
  override name = "ProtocolError";
}

// -- synced traits ---------------------------------------------------------------------------------

export type ImageKind = "url" | "bytes" | "none";
export type Mode = "lasso" | "box" | "pan";

export interface Config {
  protocol: number;
  n: number;
  id_column: string;
  image_kind: ImageKind;
  confirm_over: number;
  max_message_bytes: number;
  /** Meta columns a gallery order or a color map can use (absent in pages saved before). */
  numeric_columns?: string[];
  /** What the color menu offers: meta columns, and "label", "score" when labelling. */
  color_columns?: string[];
  /** The layout names the layout menu offers (absent in pages saved before). */
  layouts?: string[];
  /**
   * Where neighbors are found: "features" (the representations), or "layout" for data whose only
   * representation is its 2-D map (absent in pages saved before: "features").
   */
  neighbor_space?: "features" | "layout";
}

export type ColorMeta =
  | { kind: "none" }
  | { kind: "label"; column: string; missing: number }
  | { kind: "continuous"; column: string; min: number; max: number; missing: number }
  | { kind: "categorical"; column: string; categories: string[]; missing: number };

export interface LabelMeta {
  classes: string[];
  keys: string[];
  counts: number[];
  labelled: number;
  can_undo: boolean;
  can_redo: boolean;
  version: number;
  read_only: boolean;
}

/** `_filter_meta`: what a filter does to the galaxies it leaves out, and how many it shows. */
export interface FilterMeta {
  mode: "none" | "dim" | "hide";
  shown: number;
  description: string;
}

export interface LearnState {
  status: "off" | "waiting" | "training" | "ready";
  message: string;
  suggestions_version: number;
  report: Record<string, unknown> | null;
}

/** `_overlay`: the sky layout's grid lines (interleaved x, y in `_points` space) and the
 * clusters' names at their representative galaxies (see overlay.ts). */
export interface OverlayState {
  graticule: number[][];
  clusters: { cluster: number; name: string; position: number }[];
}

/** `show_images`: thumbnails in the map when zoomed in (placement.ts decides), always, or never. */
export type ShowImages = "auto" | "always" | "never";

/** Every synced trait, as the widget manager hands it over (bytes traits as DataView). */
export interface ModelState {
  _config: Config;
  _points: DataView;
  _color: DataView;
  _color_meta: ColorMeta;
  _selection: DataView;
  _focus: number;
  _label_meta: LabelMeta;
  _learn: LearnState;
  _filter: DataView;
  _filter_meta: FilterMeta;
  _overlay: OverlayState;
  k: number;
  mode: Mode;
  point_size: number;
  opacity: number;
  height: number;
  strategy: string;
  target: string | null;
  /** The layout shown, one of `_config.layouts`. */
  layout_name: string;
  /** Most points drawn; a map of more is a density plus the points in view (detail.ts). */
  point_budget: number;
  /** Thumbnails in the map (placement.ts): "auto" | "always" | "never". */
  show_images: ShowImages;
}

export type Model = AnyModel<ModelState>;

/** A bytes trait or buffer as hosts deliver it (ipywidgets: DataView; others: buffers, arrays). */
export type Binary = DataView | ArrayBuffer | ArrayBufferView | null | undefined;

export function bytesOf(value: Binary): Uint8Array {
  if (value == null) return new Uint8Array(0);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw new ProtocolError(`expected binary data, got ${typeof value}`);
}

/** The bytes as `width`-byte values: a view when aligned, else an aligned copy. */
function alignedBuffer(bytes: Uint8Array, width: number, what: string): [ArrayBufferLike, number] {
  if (bytes.byteLength % width !== 0) {
    throw new ProtocolError(`${what}: ${bytes.byteLength} bytes is not a whole number of ${width}-byte values`);
  }
  if (bytes.byteOffset % width === 0) return [bytes.buffer, bytes.byteOffset];
  return [bytes.slice().buffer, 0];
}

export function uint32Of(value: Binary, what = "uint32 buffer"): Uint32Array {
  const bytes = bytesOf(value);
  const [buffer, offset] = alignedBuffer(bytes, 4, what);
  return new Uint32Array(buffer, offset, bytes.byteLength / 4);
}

export function float32Of(value: Binary, what = "float32 buffer"): Float32Array {
  const bytes = bytesOf(value);
  const [buffer, offset] = alignedBuffer(bytes, 4, what);
  return new Float32Array(buffer, offset, bytes.byteLength / 4);
}

/** `_points`: x and y columns of n positions. */
export function decodePoints(value: Binary, n: number): { x: Float32Array; y: Float32Array } {
  const xy = float32Of(value, "_points");
  if (xy.length !== 2 * n) throw new ProtocolError(`_points holds ${xy.length / 2} points, expected ${n}`);
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = xy[2 * i];
    y[i] = xy[2 * i + 1];
  }
  return { x, y };
}

/** `_color`: one uint8 code per position, or null for kinds without a color buffer. */
export function decodeColors(value: Binary, meta: ColorMeta, n: number): Uint8Array | null {
  if (meta.kind === "none" || meta.kind === "label") return null;
  const codes = bytesOf(value);
  if (codes.length !== n) throw new ProtocolError(`_color holds ${codes.length} codes, expected ${n}`);
  return codes;
}

// -- selection encoding ----------------------------------------------------------------------------

const HEADER = HEADER_BYTES;

/** Number of runs of consecutive positions in sorted unique `positions`. */
function countRuns(positions: Uint32Array): number {
  let runs = positions.length > 0 ? 1 : 0;
  for (let i = 1; i < positions.length; i++) if (positions[i] !== positions[i - 1] + 1) runs++;
  return runs;
}

/** Byte size of each encoding of a selection: [POSITIONS, BITMASK, RUNS]. */
export function selectionSizes(positions: Uint32Array, n: number): [number, number, number] {
  return [HEADER + 4 * positions.length, HEADER + Math.ceil(n / 8), HEADER + 8 * countRuns(positions)];
}

/**
 * Encode sorted, unique positions (all < n) in the smallest of the three encodings (ties go to the
 * lower kind). An empty selection is kind POSITIONS, count 0 (8 bytes).
 */
export function encodeSelection(positions: Uint32Array, n: number): Uint8Array<ArrayBuffer> {
  const count = positions.length;
  if (count > 0 && positions[count - 1] >= n) {
    throw new ProtocolError(`selected position ${positions[count - 1]} is not below n = ${n}`);
  }
  const sizes = selectionSizes(positions, n);
  const kind = count === 0 ? 0 : sizes.indexOf(Math.min(...sizes));
  const out = new Uint8Array(sizes[kind]);
  out[0] = kind;
  const header = new DataView(out.buffer);
  header.setUint32(4, count, true);
  if (kind === SelectionKind.POSITIONS) {
    new Uint32Array(out.buffer, HEADER, count).set(positions);
  } else if (kind === SelectionKind.BITMASK) {
    const mask = out.subarray(HEADER);
    for (let i = 0; i < count; i++) {
      const p = positions[i];
      mask[p >>> 3] |= 1 << (p & 7);
    }
  } else {
    const runs = new Uint32Array(out.buffer, HEADER, (sizes[2] - HEADER) / 4);
    let r = 0;
    let start = positions[0];
    for (let i = 1; i <= count; i++) {
      if (i === count || positions[i] !== positions[i - 1] + 1) {
        runs[r++] = start;
        runs[r++] = positions[i - 1] - start + 1;
        if (i < count) start = positions[i];
      }
    }
  }
  return out;
}

/**
 * An encoded selection, checked whole but not expanded: a bitmask or runs of tens of millions of
 * galaxies stay as they came (a 76M-galaxy bitmask is 9.5 MB; its positions would be 300 MB).
 */
export type ParsedSelection =
  | { kind: typeof SelectionKind.POSITIONS; count: number; positions: Uint32Array }
  | { kind: typeof SelectionKind.BITMASK; count: number; mask: Uint8Array }
  | { kind: typeof SelectionKind.RUNS; count: number; runs: Uint32Array };

/** Check an encoded selection of positions < n (everything its header and payload claim). */
export function parseSelection(value: Binary, n: number): ParsedSelection {
  const data = bytesOf(value);
  if (data.length === 0) return { kind: SelectionKind.POSITIONS, count: 0, positions: new Uint32Array(0) };
  if (data.length < HEADER) throw new ProtocolError(`selection of ${data.length} bytes is shorter than its 8-byte header`);
  const kind = data[0];
  if (data[1] !== 0 || data[2] !== 0 || data[3] !== 0) throw new ProtocolError("selection header: reserved bytes 1-3 are not zero");
  const count = new DataView(data.buffer, data.byteOffset, HEADER).getUint32(4, true);
  if (count > n) throw new ProtocolError(`selection count ${count} exceeds n = ${n}`);
  const payload = data.subarray(HEADER);
  switch (kind) {
    case SelectionKind.POSITIONS:
      return { kind: SelectionKind.POSITIONS, count, positions: checkPositions(payload, count, n) };
    case SelectionKind.BITMASK:
      return { kind: SelectionKind.BITMASK, count, mask: checkBitmask(payload, count, n) };
    case SelectionKind.RUNS:
      return { kind: SelectionKind.RUNS, count, runs: checkRuns(payload, count, n) };
    default:
      throw new ProtocolError(`unknown selection kind ${kind}`);
  }
}

/** Decode an encoded selection of positions < n into sorted unique positions; checks everything. */
export function decodeSelection(value: Binary, n: number): Uint32Array {
  return expandSelection(parseSelection(value, n));
}

/** The sorted unique positions of a checked selection. */
export function expandSelection(parsed: ParsedSelection): Uint32Array {
  const positions = parsed.kind === SelectionKind.POSITIONS ? parsed.positions : new Uint32Array(parsed.count);
  if (parsed.kind === SelectionKind.BITMASK) {
    const mask = parsed.mask;
    let k = 0;
    for (let b = 0; b < mask.length; b++) {
      let byte = mask[b];
      const base = b << 3;
      while (byte !== 0) {
        positions[k++] = base + 31 - Math.clz32(byte & -byte);
        byte &= byte - 1;
      }
    }
  } else if (parsed.kind === SelectionKind.RUNS) {
    const runs = parsed.runs;
    let k = 0;
    for (let r = 0; r < runs.length; r += 2) {
      const stop = runs[r] + runs[r + 1];
      for (let p = runs[r]; p < stop; p++) positions[k++] = p;
    }
  }
  return positions;
}

function checkPositions(payload: Uint8Array, count: number, n: number): Uint32Array {
  if (payload.length !== 4 * count) {
    throw new ProtocolError(`POSITIONS selection: ${payload.length} payload bytes for count ${count}`);
  }
  const positions = uint32Of(payload, "POSITIONS selection");
  for (let i = 1; i < count; i++) {
    if (positions[i] <= positions[i - 1]) {
      throw new ProtocolError(`POSITIONS selection is not sorted and unique at entry ${i}`);
    }
  }
  if (count > 0 && positions[count - 1] >= n) {
    throw new ProtocolError(`POSITIONS selection: position ${positions[count - 1]} is not below n = ${n}`);
  }
  return positions;
}

/** Set bits of each byte value. */
const BITS_SET = Uint8Array.from({ length: 256 }, (_, byte) => {
  let bits = 0;
  for (let b = byte; b !== 0; b &= b - 1) bits++;
  return bits;
});

function checkBitmask(mask: Uint8Array, count: number, n: number): Uint8Array {
  if (mask.length !== Math.ceil(n / 8)) {
    throw new ProtocolError(`BITMASK selection: ${mask.length} bytes, expected ${Math.ceil(n / 8)} for n = ${n}`);
  }
  if (n % 8 !== 0 && mask[mask.length - 1] >>> (n % 8) !== 0) {
    throw new ProtocolError(`BITMASK selection: bits set past n = ${n}`);
  }
  let set = 0;
  for (let b = 0; b < mask.length; b++) set += BITS_SET[mask[b]];
  if (set !== count) throw new ProtocolError(`BITMASK selection holds ${set} positions, its count says ${count}`);
  return mask;
}

function checkRuns(payload: Uint8Array, count: number, n: number): Uint32Array {
  if (payload.length % 8 !== 0) throw new ProtocolError(`RUNS selection: ${payload.length} payload bytes is not whole pairs`);
  const runs = uint32Of(payload, "RUNS selection");
  let total = 0;
  let end = -1; // end (exclusive) of the previous run
  for (let r = 0; r < runs.length; r += 2) {
    const start = runs[r];
    const length = runs[r + 1];
    if (length === 0) throw new ProtocolError(`RUNS selection: run ${r / 2} is empty`);
    if (start <= end) throw new ProtocolError(`RUNS selection: run ${r / 2} is not after the previous one, or adjacent to it`);
    end = start + length;
    if (end > n) throw new ProtocolError(`RUNS selection: run ${r / 2} ends past n = ${n}`);
    total += length;
  }
  if (total !== count) throw new ProtocolError(`RUNS selection holds ${total} positions, its count says ${count}`);
  return runs;
}

/** Throws unless a message of `bytes` fits the bound (`what` names it in the error). */
export function checkMessageSize(bytes: number, max: number, what: string): void {
  if (bytes > max) {
    const mb = (x: number) => (x / 1024 / 1024).toFixed(1);
    throw new ProtocolError(`${what} needs ${mb(bytes)} MB, over the ${mb(max)} MB message limit: not sent`);
  }
}

// -- requests and replies --------------------------------------------------------------------------

interface Neighbors {
  ids: string[];
  positions: Uint32Array;
  distances: Float32Array;
}

/** Orders of the selection gallery (galwidget.widget._gallery). */
export type GalleryOrder = Params<"selection_page">["order"];

/** The `find` reply (galwidget.search.Found). */
export type Found = RequestMap["find"]["reply"];

interface Saved {
  saved: boolean;
  version: number;
}

export type RequestKind = keyof RequestMap;
export type Params<K extends RequestKind> = RequestMap[K]["params"];
export interface Failure {
  ok: false;
  reason: string;
  /** The view cancelled it (superseded or no longer needed). */
  cancelled: boolean;
}
export type Reply<K extends RequestKind> = ({ ok: true } & RequestMap[K]["reply"]) | Failure;

/** A message's JSON content and binary buffers. */
export interface Message {
  content: Record<string, unknown>;
  buffers: Uint8Array<ArrayBuffer>[];
}

/** The names of a request kind's buffers, in order (protocol.json). */
function bufferNames(kind: RequestKind): string[] {
  const spec = REQUESTS[kind];
  return "buffers" in spec ? Object.keys(spec.buffers) : [];
}

/** The wire form of a request from view `view`: the kind's buffer parameters travel as buffers. */
export function encodeRequest<K extends RequestKind>(kind: K, view: string, request: number, params: Params<K>): Message {
  const content: Record<string, unknown> = { type: "request", kind, view, request };
  const names = bufferNames(kind);
  const fields: Record<string, unknown> = params;
  for (const [key, value] of Object.entries(fields)) if (!names.includes(key)) content[key] = value;
  const buffers = names.map((name) => {
    const value = fields[name];
    if (!(value instanceof Uint32Array || value instanceof Float32Array)) {
      throw new ProtocolError(`${kind} request: parameter ${name} is not a Uint32Array or Float32Array`);
    }
    return new Uint8Array(value.slice().buffer);
  });
  return { content, buffers };
}

/** Size of a message on the wire, for the size bound (JSON text plus buffers). */
export function messageBytes({ content, buffers }: Message): number {
  return JSON.stringify(content).length + buffers.reduce((sum, b) => sum + b.byteLength, 0);
}

type Content = Record<string, unknown>;
type ReplyDecoder<K extends RequestKind> = (content: Content, buffers: DataView[], n: number) => RequestMap[K]["reply"];

/** One decoder per kind: checks a reply's fields and buffers and types them. */
const REPLY_DECODERS: { [K in RequestKind]: ReplyDecoder<K> } = {
  neighbors: (c, b, n) => ({ ...neighbors(c, b, n), position: int(c, "position"), id: str(c, "id") }),
  centroid: (c, b, n) => ({ ...neighbors(c, b, n), count: int(c, "count") }),
  thumbnail: (c, b) => {
    if (typeof c.url === "string") return { url: c.url };
    if (b.length !== 1) throw new ProtocolError("thumbnail reply carries no image");
    return { mime: str(c, "mime"), image: bytesOf(b[0]) };
  },
  thumbnails: (c, b) => {
    const column = <T>(name: string, ok: (v: unknown) => v is T): T[] => {
      const values = c[name];
      if (!Array.isArray(values) || !values.every(ok)) throw new ProtocolError(`thumbnails reply: \`${name}\` is malformed`);
      return values;
    };
    const textOrNull = (v: unknown): v is string | null => v === null || typeof v === "string";
    const size = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;
    const urls = column("urls", textOrNull);
    const mimes = column("mimes", textOrNull);
    const reasons = column("reasons", textOrNull);
    const sizes = column("sizes", size);
    const images = bytesOf(buffer(b, 0, "thumbnails"));
    const counts = [mimes.length, reasons.length, sizes.length];
    if (counts.some((count) => count !== urls.length)) throw new ProtocolError("thumbnails reply: lists of different lengths");
    const total = sizes.reduce((sum, s) => sum + s, 0);
    if (total !== images.length) throw new ProtocolError(`thumbnails reply: sizes add up to ${total}, the buffer holds ${images.length} bytes`);
    return { urls, mimes, sizes, reasons, images };
  },
  image: (c, b) => {
    if (typeof c.url === "string") return { url: c.url };
    if (b.length !== 1) throw new ProtocolError("image reply carries no image");
    return { mime: str(c, "mime"), image: bytesOf(b[0]) };
  },
  hover: (c) => {
    const fields = c.fields;
    if (!Array.isArray(fields) || !fields.every((f) => Array.isArray(f) && f.length === 2)) {
      throw new ProtocolError("hover reply: `fields` is not a list of [column, text] pairs");
    }
    const sky = c.radec ?? null;
    if (sky !== null && !(Array.isArray(sky) && sky.length === 2 && sky.every((v) => typeof v === "number"))) {
      throw new ProtocolError("hover reply: `radec` is not [ra, dec]");
    }
    const radec: [number, number] | null = sky === null ? null : [sky[0], sky[1]];
    return { id: str(c, "id"), fields: fields.map(([name, text]) => [String(name), String(text)]), radec };
  },
  label: saved,
  label_selection: (c) => ({ ...saved(c), count: int(c, "count") }),
  undo: saved,
  redo: saved,
  labels: (c, b, n) => {
    const codes = bytesOf(buffer(b, 0, "labels"));
    if (codes.length !== n) throw new ProtocolError(`labels reply holds ${codes.length} codes, expected ${n}`);
    return { version: int(c, "version"), codes };
  },
  suggestions: (c, b, n) => {
    const ids = strings(c, "ids");
    const positions = positionsOf(buffer(b, 0, "suggestions"), ids.length, n, "suggestions");
    const scores = float32Of(buffer(b, 1, "suggestions"), "suggestion scores");
    if (scores.length !== ids.length) throw new ProtocolError("suggestions reply: one score per id expected");
    return { ids, suggestions_version: int(c, "suggestions_version"), positions, scores };
  },
  find: (c, _b, n) => {
    const match = str(c, "match");
    if (match !== "id" && match !== "sky" && match !== "prefix") throw new ProtocolError(`find reply: unknown match ${match}`);
    const position = int(c, "position");
    if (position < -1 || position >= n) throw new ProtocolError(`find reply: position ${position} is not below n = ${n}`);
    const separation = c.separation_arcsec;
    if (separation !== null && typeof separation !== "number") throw new ProtocolError("find reply: `separation_arcsec` is not a number");
    const radius = c.radius_arcsec ?? null;
    if (radius !== null && typeof radius !== "number") throw new ProtocolError("find reply: `radius_arcsec` is not a number");
    const id = c.id === null ? null : str(c, "id");
    return {
      query: str(c, "query"),
      match,
      position,
      id,
      completions: strings(c, "completions"),
      n_completions: int(c, "n_completions"),
      separation_arcsec: separation,
      radius_arcsec: radius,
    };
  },
  color_by: (c) => ({ column: c.column === null ? null : str(c, "column") }),
  select_cluster: (c) => ({ cluster: int(c, "cluster"), count: int(c, "count") }),
  selection_page: (c, b, n) => {
    const ids = strings(c, "ids");
    const positions = positionsOf(buffer(b, 0, "selection_page"), ids.length, n, "selection_page");
    const values = float32Of(buffer(b, 1, "selection_page"), "selection_page values");
    if (values.length !== ids.length) throw new ProtocolError("selection_page reply: one value per id expected");
    return { total: int(c, "total"), offset: int(c, "offset"), ids, positions, values };
  },
  map_view: (c, b, n) => {
    const count = int(c, "count");
    const positions = positionsOf(buffer(b, 0, "map_view"), count, n, "map_view");
    const points = float32Of(buffer(b, 1, "map_view"), "map_view points");
    if (points.length !== 2 * count) throw new ProtocolError("map_view reply: one x, y per position expected");
    return { layout: str(c, "layout"), total: int(c, "total"), count, next_rank: int(c, "next_rank"), positions, points };
  },
  map_density: (c, b) => {
    const size = int(c, "size");
    const density = bytesOf(buffer(b, 0, "map_density"));
    if (density.length !== size * size) throw new ProtocolError(`map_density reply: ${density.length} pixels, expected ${size * size}`);
    return { size, max: int(c, "max"), density };
  },
  map_lasso: (c) => ({ count: int(c, "count"), selected: int(c, "selected") }),
  lasso: (c) => ({ vertices: int(c, "vertices") }),
  filter_category: (c) => ({ shown: int(c, "shown") }),
  export: (c, b) => ({
    filename: str(c, "filename"),
    mime: str(c, "mime"),
    rows: int(c, "rows"),
    data: bytesOf(buffer(b, 0, "export")),
  }),
};

/** Check and type a reply of `kind`; throws ProtocolError when it is malformed. */
export function decodeReply<K extends RequestKind>(
  kind: K,
  content: Content,
  buffers: DataView[],
  n: number,
): RequestMap[K]["reply"] {
  return (REPLY_DECODERS[kind] as ReplyDecoder<K>)(content, buffers, n);
}

export function isRequestKind(kind: unknown): kind is RequestKind {
  return typeof kind === "string" && Object.hasOwn(REQUESTS, kind);
}

function neighbors(c: Content, b: DataView[], n: number): Neighbors {
  const ids = strings(c, "ids");
  const positions = positionsOf(buffer(b, 0, "neighbors"), ids.length, n, "neighbors");
  const distances = float32Of(buffer(b, 1, "neighbors"), "distances");
  if (distances.length !== ids.length) throw new ProtocolError("neighbors reply: one distance per id expected");
  return { ids, positions, distances };
}

function saved(c: Content): Saved {
  if (typeof c.saved !== "boolean") throw new ProtocolError("reply field `saved` is not a boolean");
  return { saved: c.saved, version: int(c, "version") };
}

function buffer(buffers: DataView[], i: number, kind: string): DataView {
  if (buffers.length <= i) throw new ProtocolError(`${kind} reply: buffer ${i} is missing`);
  return buffers[i];
}

function positionsOf(value: Binary, length: number, n: number, what: string): Uint32Array {
  const positions = uint32Of(value, `${what} positions`);
  if (positions.length !== length) throw new ProtocolError(`${what}: ${positions.length} positions for ${length} ids`);
  for (const p of positions) if (p >= n) throw new ProtocolError(`${what}: position ${p} is not below n = ${n}`);
  return positions;
}

function int(c: Content, key: string): number {
  const value = c[key];
  if (typeof value !== "number" || !Number.isInteger(value)) throw new ProtocolError(`field \`${key}\` is not an integer`);
  return value;
}

function str(c: Content, key: string): string {
  const value = c[key];
  if (typeof value !== "string") throw new ProtocolError(`field \`${key}\` is not a string`);
  return value;
}

function strings(c: Content, key: string): string[] {
  const value = c[key];
  if (!Array.isArray(value)) throw new ProtocolError(`field \`${key}\` is not a list`);
  return value.map(String);
}

// -- events ----------------------------------------------------------------------------------------

/** The event of one kind (see KernelEvent in protocol.generated.ts). */
export type EventOf<K extends KernelEvent["kind"]> = Extract<KernelEvent, { kind: K }>;
export type LabelsEvent = EventOf<"labels">;
export type ErrorEvent = EventOf<"error">;
export type ZoomEvent = EventOf<"zoom_to_selection">;

/** The event a custom message carries, or null when it is not one; throws when malformed. */
export function decodeEvent(content: unknown, buffers: DataView[], n: number): KernelEvent | null {
  if (!isObject(content) || content.type !== "event") return null;
  if (content.kind === "error") return { kind: "error", message: str(content, "message") };
  if (content.kind === "zoom_to_selection") return { kind: "zoom_to_selection" };
  if (content.kind !== "labels") throw new ProtocolError(`unknown event kind ${String(content.kind)}`);
  const positions = uint32Of(buffer(buffers, 0, "labels event"), "labels event positions");
  const codes = bytesOf(buffer(buffers, 1, "labels event"));
  if (codes.length !== positions.length) throw new ProtocolError("labels event: one code per position expected");
  for (const p of positions) if (p >= n) throw new ProtocolError(`labels event: position ${p} is not below n = ${n}`);
  return { kind: "labels", version: int(content, "version"), base_version: int(content, "base_version"), positions, codes };
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
