/// <reference path="./interfaces/lightfoot-decoder-decoder.d.ts" />
/// <reference path="./interfaces/lightfoot-decoder-types.d.ts" />
declare module 'lightfoot:decoder/decoder-plugin@0.2.0' {
  export type * as LightfootDecoderTypes020 from 'lightfoot:decoder/types@0.2.0'; // import lightfoot:decoder/types@0.2.0
  export * as decoder from 'lightfoot:decoder/decoder@0.2.0'; // export lightfoot:decoder/decoder@0.2.0
}
