// Twin of ../kitchen-sink-c/src/decoder.c (see there): every output shape.
import { ADD, Batch, COUNTER, DecodeError, DecoderInfo, ERROR, GAUGE, HISTOGRAM, INGRESS, OBSERVE, Output, SET, WARN } from "lightfoot-sdk";

export function describe(): DecoderInfo {
  const info = new DecoderInfo("kitchen-sink", "1.2.3-é")
    .subscribe("tcp", [1, 2, 255], true)
    .subscribe("openssl");
  info.metric("lightfoot_ks_total", COUNTER, "c", ["kind", "nü"]);
  info.metric("lightfoot_ks_level", GAUGE, "");
  info.metric("lightfoot_ks_seconds", HISTOGRAM, "h", [], [0.001, 0.5, 10]);
  return info;
}

export function decode(batch: Batch, out: Output): DecodeError | null {
  const it = batch.records();
  while (it.next()) {
    const rec = it.rec;
    if (rec.at(0) == 0xee) return DecodeError.malformed("bad kind ü");
    out.metric(0, [rec.at(0).toString(), "ü"], ADD, <f64>rec.len);
    out.metric(1, [], SET, -1.5);
    out.metric(2, [], OBSERVE, 0.25);
    out.log(WARN, "rec", u64.MAX_VALUE)
      .str("s", "ünï").int("i", -9007199254740993).int("neg", -5)
      .uint("u", u64.MAX_VALUE).uint("small", 42).float("f", 1.5).bool("b", true).bool("nb", false).str("empty", "");
    out.log(ERROR, "", 0);
    out.annotate(9223372036854775808, "k", "v");
    out.stream(5, INGRESS, rec.len);
  }
  return null;
}
