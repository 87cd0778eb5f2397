// lightfoot AssemblyScript guest library: import from "lightfoot-sdk".
// A decoder's entry file exports `describe(): DecoderInfo` and
// `decode(batch: Batch, out: Output): DecodeError | null`; `lightfoot-sdk build`
// wraps them in the canonical ABI exports (abi.ts).
export * from "./span";
export * from "./msgpack";
export * from "./batch";
export * from "./output";
