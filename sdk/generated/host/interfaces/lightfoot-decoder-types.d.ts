/** @module Interface lightfoot:decoder/types@0.1.0 **/
/**
 * Prometheus metric types a decoder may declare.
 * # Variants
 * 
 * ## `"counter"`
 * 
 * ## `"gauge"`
 * 
 * ## `"histogram"`
 */
export type MetricKind = 'counter' | 'gauge' | 'histogram';
export interface MetricDecl {
  /**
   * Full Prometheus name, `lightfoot_` prefixed, base units (`_bytes`, `_seconds`).
   */
  name: string,
  kind: MetricKind,
  help: string,
  /**
   * Label names, in the order `metric-update.labels` gives values.
   */
  labels: Array<string>,
  /**
   * Histogram bucket upper bounds, ascending; empty for other kinds.
   */
  buckets: Float64Array,
}
/**
 * Records a decoder consumes: a probe (`tcp`, `openssl`, …) and the record
 * kinds (first byte of each record) it wants; an empty list means all.
 * With `streams`, the decoder also gets the probe's payload bytes as
 * reassembled per-connection streams (batch key `streams`).
 */
export interface Subscription {
  probe: string,
  kinds: Uint8Array,
  streams: boolean,
}
export interface DecoderInfo {
  /**
   * Unique name, `[a-z][a-z0-9-]*`.
   */
  name: string,
  /**
   * Semantic version of the decoder itself.
   */
  version: string,
  subscriptions: Array<Subscription>,
  metrics: Array<MetricDecl>,
}
/**
 * # Variants
 * 
 * ## `"add"`
 * 
 * counter or gauge: value added (counters reject negative values)
 * ## `"set"`
 * 
 * gauge: value replaces the current one
 * ## `"observe"`
 * 
 * histogram: one observation
 */
export type UpdateOp = 'add' | 'set' | 'observe';
export interface MetricUpdate {
  /**
   * Index into `decoder-info.metrics`.
   */
  metric: number,
  /**
   * One value per declared label, in declaration order.
   */
  labels: Array<string>,
  op: UpdateOp,
  value: number,
}
/**
 * # Variants
 * 
 * ## `"debug"`
 * 
 * ## `"info"`
 * 
 * ## `"warn"`
 * 
 * ## `"error"`
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type FieldValue = FieldValueStr | FieldValueInt | FieldValueUint | FieldValueFloat | FieldValueBoolean;
export interface FieldValueStr {
  tag: 'str',
  val: string,
}
export interface FieldValueInt {
  tag: 'int',
  val: bigint,
}
export interface FieldValueUint {
  tag: 'uint',
  val: bigint,
}
export interface FieldValueFloat {
  tag: 'float',
  val: number,
}
export interface FieldValueBoolean {
  tag: 'boolean',
  val: boolean,
}
export interface Field {
  key: string,
  value: FieldValue,
}
/**
 * A structured event, written by the host as one log line.
 */
export interface LogEvent {
  level: LogLevel,
  /**
   * Short event name (`open`, `close`, `goaway`, …).
   */
  message: string,
  /**
   * The connection it is about (socket cookie), 0 when none.
   */
  connection: bigint,
  fields: Array<Field>,
}
/**
 * A fact about a connection (`protocol` = `h2`), kept by the host and
 * attached to that connection's later events.
 */
export interface Annotation {
  connection: bigint,
  key: string,
  value: string,
}
/**
 * # Variants
 * 
 * ## `"egress"`
 * 
 * ## `"ingress"`
 */
export type Direction = 'egress' | 'ingress';
/**
 * How many bytes of a stream's pending data the decoder consumed; the host
 * keeps the rest and puts it in front of that stream's next segment.
 */
export interface StreamProgress {
  connection: bigint,
  direction: Direction,
  consumed: number,
}
export interface DecodeOutput {
  metrics: Array<MetricUpdate>,
  logs: Array<LogEvent>,
  annotations: Array<Annotation>,
  streams: Array<StreamProgress>,
}
export type DecodeError = DecodeErrorUnsupported | DecodeErrorMalformed;
/**
 * A batch this decoder does not understand (unknown probe or schema).
 */
export interface DecodeErrorUnsupported {
  tag: 'unsupported',
  val: string,
}
/**
 * A batch that is not valid msgpack or not laid out as documented.
 */
export interface DecodeErrorMalformed {
  tag: 'malformed',
  val: string,
}
/**
 * --- Reserved for probe-owning decoders (the `probe-plugin` world). ---
 */
export interface Symbol {
  name: string,
  /**
   * File offset of the symbol in the binary.
   */
  offset: bigint,
  size: bigint,
}
/**
 * What the host read from a target binary.
 */
export interface BinaryInfo {
  path: string,
  buildId?: string,
  /**
   * `go1.22.5` for Go binaries.
   */
  goVersion?: string,
  /**
   * Module path and version, from Go build info or package metadata.
   */
  modules: Array<[string, string]>,
  symbols: Array<Symbol>,
  /**
   * Struct member offsets from DWARF, keyed `package.Type.field`.
   */
  memberOffsets: Array<[string, number]>,
}
export interface AttachSpec {
  /**
   * BPF program in the probe's object.
   */
  program: string,
  symbol: string,
  /**
   * Bytes from the symbol's start: 0 for entry, RET instructions for
   * returns (never a uretprobe on Go code).
   */
  offset: bigint,
  cookie: bigint,
}
/**
 * Which functions to probe and which rodata constants to write.
 */
export interface ProbePlan {
  attach: Array<AttachSpec>,
  constants: Array<[string, Uint8Array]>,
}
