declare module 'lightfoot:decoder/types@0.2.0' {
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
   * --- Probe planning (the `probe-plugin` world), since 0.2.0. ---
   * A function symbol of the binary, from `.symtab` or `.dynsym`.
   */
  export interface Symbol {
    name: string,
    /**
     * File offset of the symbol's first byte (what a uprobe attaches to).
     */
    offset: bigint,
    /**
     * Virtual address in the ELF (st_value).
     */
    address: bigint,
    size: bigint,
  }
  /**
   * # Variants
   * 
   * ## `"executable"`
   * 
   * ## `"shared-library"`
   */
  export type BinaryKind = 'executable' | 'shared-library';
  /**
   * What the host read from a target binary (an executable or a shared
   * library it has mapped). `symbols` holds only the functions the module's
   * manifest asked for (its `symbols` interest list), so a plan call stays
   * small even for a 100 MB binary.
   */
  export interface BinaryInfo {
    path: string,
    kind: BinaryKind,
    /**
     * GNU build-id, lower-case hex.
     */
    buildId?: string,
    /**
     * DT_SONAME of a shared library (`libssl.so.3`).
     */
    soname?: string,
    /**
     * Number of function symbols in the binary (before the interest filter).
     */
    symbolCount: number,
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
  /**
   * # Variants
   * 
   * ## `"uprobe"`
   * 
   * A uprobe at `symbol + offset` (offset 0: the entry; for Go returns,
   * the offset of each RET instruction).
   * ## `"uretprobe"`
   * 
   * A uretprobe on the function. Never for Go code: the host refuses it
   * for a binary with a `go-version`.
   */
  export type AttachMode = 'uprobe' | 'uretprobe';
  export interface AttachSpec {
    /**
     * BPF program of the module's own object.
     */
    program: string,
    /**
     * One of `binary-info.symbols`.
     */
    symbol: string,
    /**
     * Bytes from the symbol's start; must stay inside the symbol.
     */
    offset: bigint,
    mode: AttachMode,
    /**
     * Low 32 bits of the BPF attach cookie (the host puts the binary's
     * config slot in the high 32 bits).
     */
    cookie: number,
  }
  /**
   * What to attach in one binary. `config` is written, per binary, into the
   * module's config map (its manifest names it) at the slot in the cookie's
   * high 32 bits: struct offsets and argument locations for the BPF side.
   */
  export interface ProbePlan {
    attach: Array<AttachSpec>,
    config: Uint8Array,
    /**
     * Shown by `lightfoot inspect`: where offsets came from, what was skipped.
     */
    notes: Array<string>,
  }
}
