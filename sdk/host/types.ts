// The JS shapes of describe()/decode() results: the wasmtime engine's
// (docs/native-api.md, "WebAssembly decoder engine"). The V8 path converts jco's
// shapes into these, so both engines can be compared value for value.
export interface DecoderInfo {
  name: string;
  version: string;
  subscriptions: { probe: string; kinds: number[]; streams: boolean }[];
  metrics: { name: string; kind: 'counter' | 'gauge' | 'histogram'; help: string; labels: string[]; buckets: number[] }[];
}
/** int/uint: number when |v| <= 2^53, else bigint (as the native engine does). */
export type FieldValue = string | number | bigint | boolean;
export interface DecodeOutput {
  metrics: { metric: number; labels: string[]; op: 'add' | 'set' | 'observe'; value: number }[];
  logs: { level: 'debug' | 'info' | 'warn' | 'error'; message: string; connection: bigint; fields: [string, FieldValue][] }[];
  annotations: { connection: bigint; key: string; value: string }[];
  streams: { connection: bigint; direction: 'egress' | 'ingress'; consumed: number }[];
}
/** What a test runner needs of an engine's instance. */
export interface Decoder {
  readonly engine: 'v8' | 'wasmtime';
  describe(): DecoderInfo;
  /** Throws an Error with code LF_ERR_DECODE (+ decodeError) for a decode-error
   *  result, LF_ERR_DECODER_FAULT (+ faultKind) when the guest traps. */
  decode(batch: Buffer): DecodeOutput;
}

export function codedError(code: string, message: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { code }, extra);
}
