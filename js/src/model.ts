// The typed model boundary: JSON traits as ModelState types them, binary traits decoded once per
// value (protocol.ts) and cached until the trait changes, the selection encoded and size-checked
// on its way out, and the view's listeners removed in one go when it closes.

import {
  type ColorMeta,
  checkMessageSize,
  type Config,
  decodeColors,
  decodePoints,
  decodeSelection,
  encodeSelection,
  type Model,
  type ModelState,
} from "./protocol";
import { Selected } from "./selected";

type BinaryTrait = "_points" | "_color" | "_selection" | "_filter";
type JsonTrait = Exclude<keyof ModelState, BinaryTrait>;
type Change = `change:${keyof ModelState}`;

/** One decoded value, recomputed only when the raw trait value is a different object. */
class Decoded<T> {
  private raw: unknown = undefined;
  private value: T | undefined;

  constructor(private readonly decode: (raw: DataView) => T) {}

  get(raw: DataView): T {
    if (this.value === undefined || raw !== this.raw) {
      this.value = this.decode(raw);
      this.raw = raw;
    }
    return this.value;
  }

  put(raw: DataView, value: T): void {
    this.raw = raw;
    this.value = value;
  }
}

export class SyncedModel {
  readonly config: Config;
  private readonly listeners: [string, () => void][] = [];
  private readonly points: Decoded<{ x: Float32Array; y: Float32Array }>;
  private readonly selectionValue: Decoded<Selected>;
  private readonly filterValue: Decoded<Uint32Array>;

  constructor(private readonly model: Model) {
    this.config = model.get("_config");
    const n = this.config.n;
    this.points = new Decoded((raw) => decodePoints(raw, n));
    this.selectionValue = new Decoded((raw) => Selected.decode(raw, n));
    this.filterValue = new Decoded((raw) => decodeSelection(raw, n));
  }

  get<K extends JsonTrait>(name: K): ModelState[K] {
    return this.model.get(name);
  }

  /** Set a JSON trait and send it to the kernel. */
  save<K extends JsonTrait>(name: K, value: ModelState[K]): void {
    this.model.set(name, value);
    this.model.save_changes();
  }

  /** `_points` as x and y columns; throws ProtocolError when malformed. */
  xy(): { x: Float32Array; y: Float32Array } {
    return this.points.get(this.model.get("_points"));
  }

  /** `_color` codes for the current color meta (null for kinds without a buffer). */
  colors(meta: ColorMeta): Uint8Array | null {
    return decodeColors(this.model.get("_color"), meta, this.config.n);
  }

  /** The `_color` value as delivered (its identity tells whether it changed). */
  rawColors(): DataView {
    return this.model.get("_color");
  }

  /** `_selection` (not expanded: see selected.ts); throws ProtocolError when malformed. */
  selected(): Selected {
    return this.selectionValue.get(this.model.get("_selection"));
  }

  /** `_selection` as sorted unique positions; throws ProtocolError when malformed. */
  selection(): Uint32Array {
    return this.selected().positions();
  }

  /** `_filter`: the positions a filter shows (empty without one); throws ProtocolError when malformed. */
  filterPositions(): Uint32Array {
    return this.filterValue.get(this.model.get("_filter"));
  }

  /**
   * Encode and send a selection (sorted unique positions). Throws ProtocolError, sending nothing,
   * when the encoding is over the message size bound.
   */
  saveSelection(positions: Uint32Array): void {
    const data = encodeSelection(positions, this.config.n);
    checkMessageSize(data.byteLength, this.config.max_message_bytes, "the selection");
    const view = new DataView(data.buffer);
    this.selectionValue.put(view, Selected.of(positions)); // no need to decode what we just encoded
    this.model.set("_selection", view);
    this.model.save_changes();
  }

  /** A custom message to the kernel. */
  send(content: Record<string, unknown>, buffers: Uint8Array<ArrayBuffer>[]): void {
    this.model.send(content, undefined, buffers);
  }

  on(events: Change[], callback: () => void): void {
    for (const event of events) {
      this.model.on(event, callback);
      this.listeners.push([event, callback]);
    }
  }

  onMessage(callback: (content: unknown, buffers: DataView[]) => void): void {
    this.model.on("msg:custom", callback);
    this.listeners.push(["msg:custom", callback as () => void]);
  }

  dispose(): void {
    for (const [event, callback] of this.listeners) this.model.off(event as Change, callback);
    this.listeners.length = 0;
  }
}
