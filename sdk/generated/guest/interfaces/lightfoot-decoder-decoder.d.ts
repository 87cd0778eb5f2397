/// <reference path="./lightfoot-decoder-types.d.ts" />
declare module 'lightfoot:decoder/decoder@0.2.0' {
  /**
   * Called once after instantiation (and again after every restart).
   */
  export function describe(): DecoderInfo;
  /**
   * Decodes one msgpack batch (layout: sdk/docs/batch-format.md).
   */
  export function decode(batch: Uint8Array): DecodeOutput;
  export type DecoderInfo = import('lightfoot:decoder/types@0.2.0').DecoderInfo;
  export type DecodeOutput = import('lightfoot:decoder/types@0.2.0').DecodeOutput;
  export type DecodeError = import('lightfoot:decoder/types@0.2.0').DecodeError;
}
