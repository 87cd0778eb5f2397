// world lightfoot:decoder/decoder-plugin@0.2.0
export type * as LightfootDecoderTypes020 from './interfaces/lightfoot-decoder-types.js'; // import lightfoot:decoder/types@0.2.0
export * as decoder from './interfaces/lightfoot-decoder-decoder.js'; // export lightfoot:decoder/decoder@0.2.0
