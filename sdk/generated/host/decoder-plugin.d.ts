// world lightfoot:decoder/decoder-plugin@0.1.0
export type * as LightfootDecoderTypes010 from './interfaces/lightfoot-decoder-types.js'; // import lightfoot:decoder/types@0.1.0
export * as decoder from './interfaces/lightfoot-decoder-decoder.js'; // export lightfoot:decoder/decoder@0.1.0
