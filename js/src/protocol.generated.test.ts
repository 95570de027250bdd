import { describe, expect, it } from "vitest";
import definition from "../../galwidget/protocol/protocol.json";
import * as generated from "./protocol.generated";
import { encodeRequest, isRequestKind, type RequestKind } from "./protocol";

describe("protocol.generated.ts", () => {
  it("holds protocol.json's requests and events as its runtime tables", () => {
    expect(generated.REQUESTS).toEqual(definition.requests);
    expect(generated.EVENTS).toEqual(definition.events);
  });

  it("holds protocol.json's version, constants and selection kinds under the same names", () => {
    expect(generated.PROTOCOL_VERSION).toBe(definition.version);
    const constants = generated as unknown as Record<string, unknown>;
    for (const [name, { value }] of Object.entries(definition.constants)) expect(constants[name]).toBe(value);
    expect(generated.SelectionKind).toEqual(definition.selection_kinds);
  });

  it("knows exactly the definition's request kinds, and sends their buffers in its order", () => {
    for (const kind of Object.keys(definition.requests)) expect(isRequestKind(kind)).toBe(true);
    expect(isRequestKind("dance")).toBe(false);
    for (const kind of Object.keys(definition.requests) as RequestKind[]) {
      const spec = definition.requests[kind];
      const names = "buffers" in spec ? Object.keys(spec.buffers) : [];
      const params = Object.fromEntries(names.map((name, i) => [name, new Uint32Array([i])]));
      const { buffers } = encodeRequest(kind, "v", 1, params as never);
      expect(buffers.map((b) => new Uint32Array(b.buffer)[0])).toEqual(names.map((_, i) => i));
    }
  });
});
