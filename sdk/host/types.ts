// The JS shapes of describe()/decode() results: the wasmtime engine's
// (docs/native-api.md, "WebAssembly decoder engine"). The V8 path converts jco's
// shapes into these, so both engines can be compared value for value.
// One declaration of these shapes, next to the addon's API; types only, so the
// V8 path still runs without the addon.
export type { DecodeOutput, DecoderInfo, FieldValue } from '../../runtime/native/binding';
import type { DecodeOutput, DecoderInfo } from '../../runtime/native/binding';

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
