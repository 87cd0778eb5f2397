// What a decoder returns, as ordinary AssemblyScript objects; abi.ts lowers them
// into the canonical ABI layout after decode()/describe() return.

export const COUNTER: u8 = 0;
export const GAUGE: u8 = 1;
export const HISTOGRAM: u8 = 2;
export const ADD: u8 = 0;
export const SET: u8 = 1;
export const OBSERVE: u8 = 2;
export const DEBUG: u8 = 0;
export const INFO: u8 = 1;
export const WARN: u8 = 2;
export const ERROR: u8 = 3;

export class MetricDecl {
  constructor(public name: string, public kind: u8, public help: string,
              public labels: string[], public buckets: f64[]) {}
}
export class Subscription {
  constructor(public probe: string, public kinds: u8[], public streams: bool) {}
}

/** describe()'s result: `new DecoderInfo("name", "0.1.0").subscribe("tcp", [], true)`. */
export class DecoderInfo {
  subscriptions: Subscription[] = [];
  metrics: MetricDecl[] = [];
  constructor(public name: string, public version: string) {}
  /** kinds: record kinds wanted (empty = all); streams: also payload streams. */
  subscribe(probe: string, kinds: u8[] = [], streams: bool = false): DecoderInfo {
    this.subscriptions.push(new Subscription(probe, kinds, streams));
    return this;
  }
  /** Declares a metric; returns its index for Output.metric(). */
  metric(name: string, kind: u8, help: string, labels: string[] = [], buckets: f64[] = []): u32 {
    this.metrics.push(new MetricDecl(name, kind, help, labels, buckets));
    return <u32>(this.metrics.length - 1);
  }
}

export class MetricUpdate {
  constructor(public metric: u32, public labels: string[], public op: u8, public value: f64) {}
}

export const FIELD_STR: u8 = 0;
export const FIELD_INT: u8 = 1;
export const FIELD_UINT: u8 = 2;
export const FIELD_FLOAT: u8 = 3;
export const FIELD_BOOL: u8 = 4;

export class Field {
  /** bits: the int/uint/float/bool payload as raw 64 bits; str for FIELD_STR. */
  constructor(public key: string, public tag: u8, public str: string, public bits: u64) {}
}

export class LogEvent {
  fields: Field[] = [];
  constructor(public level: u8, public message: string, public connection: u64) {}
  str(key: string, v: string): LogEvent { this.fields.push(new Field(key, FIELD_STR, v, 0)); return this; }
  int(key: string, v: i64): LogEvent { this.fields.push(new Field(key, FIELD_INT, "", <u64>v)); return this; }
  uint(key: string, v: u64): LogEvent { this.fields.push(new Field(key, FIELD_UINT, "", v)); return this; }
  float(key: string, v: f64): LogEvent { this.fields.push(new Field(key, FIELD_FLOAT, "", reinterpret<u64>(v))); return this; }
  bool(key: string, v: bool): LogEvent { this.fields.push(new Field(key, FIELD_BOOL, "", v ? 1 : 0)); return this; }
}

export class Annotation {
  constructor(public connection: u64, public key: string, public value: string) {}
}
export class StreamProgress {
  constructor(public connection: u64, public direction: u8, public consumed: u32) {}
}

/** decode()'s output: append with metric()/log()/annotate()/stream(). */
export class Output {
  metrics: MetricUpdate[] = [];
  logs: LogEvent[] = [];
  annotations: Annotation[] = [];
  streams: StreamProgress[] = [];
  metric(metric: u32, labels: string[], op: u8, value: f64): void {
    this.metrics.push(new MetricUpdate(metric, labels, op, value));
  }
  log(level: u8, message: string, connection: u64 = 0): LogEvent {
    const ev = new LogEvent(level, message, connection);
    this.logs.push(ev);
    return ev;
  }
  annotate(connection: u64, key: string, value: string): void {
    this.annotations.push(new Annotation(connection, key, value));
  }
  /** How many bytes of this stream's data were consumed; the host keeps the rest.
   *  Report every segment: one left out counts as consumed = 0 (all kept, resent). */
  stream(connection: u64, direction: u8, consumed: u32): void {
    this.streams.push(new StreamProgress(connection, direction, consumed));
  }
}

export const UNSUPPORTED: u8 = 0;
export const MALFORMED: u8 = 1;

/** decode()'s error result: `return DecodeError.malformed("why")`. */
export class DecodeError {
  constructor(public kind: u8, public message: string) {}
  static malformed(message: string): DecodeError { return new DecodeError(MALFORMED, message); }
  static unsupported(message: string): DecodeError { return new DecodeError(UNSUPPORTED, message); }
}
