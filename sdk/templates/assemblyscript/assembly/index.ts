// __NAME__: a lightfoot protocol decoder (scaffolded by `lightfoot-sdk new`).
//
// It counts the tcp probe's records by kind and the payload bytes it sees on
// each stream direction. Replace the body of decode() with your protocol.
// Build: `lightfoot-sdk build`; test: `lightfoot-sdk test` (fixtures/).
import { ADD, Batch, COUNTER, DEBUG, DecodeError, DecoderInfo, EGRESS, Output } from "lightfoot-sdk";

// Metric indices, in declaration order (the host validates updates against them).
const M_RECORDS: u32 = 0;
const M_STREAM_BYTES: u32 = 1;

export function describe(): DecoderInfo {
  const info = new DecoderInfo("__NAME__", "0.1.0").subscribe("tcp", [], true);
  info.metric("lightfoot___IDENT___records_total", COUNTER, "Probe records seen, by record kind.", ["kind"]);
  info.metric("lightfoot___IDENT___stream_bytes_total", COUNTER, "Payload bytes seen, by direction.", ["direction"]);
  return info;
}

// The batch is already validated (a malformed one never gets here).
export function decode(batch: Batch, out: Output): DecodeError | null {
  if (!batch.probe.equals("tcp")) return DecodeError.unsupported("only the tcp probe is supported");

  const records = batch.records();
  while (records.next()) {
    out.metric(M_RECORDS, [records.rec.at(0).toString()], ADD, 1);
  }

  const streams = batch.streams();
  while (streams.next()) {
    const seg = streams.seg;
    if (seg.data.len) out.metric(M_STREAM_BYTES, [seg.dir == EGRESS ? "egress" : "ingress"], ADD, <f64>seg.data.len);
    out.stream(seg.conn, seg.dir, seg.data.len); // everything consumed
  }

  const closed = batch.closed();
  while (closed.next()) {
    if (batch.logs) out.log(DEBUG, "closed", closed.conn).str("decoder", "__NAME__");
  }
  return null;
}
