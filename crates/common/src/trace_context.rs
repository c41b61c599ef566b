//! W3C Trace Context (`traceparent`), carried in HTTP and Kafka headers so one trace follows a
//! notification from the subscriber through every consumer.
//!
//! Format: `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`.

use rand::RngCore;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub sampled: bool,
}

impl TraceParent {
    /// A new trace (root span).
    pub fn new_root() -> Self {
        let mut rng = rand::rng();
        let mut trace_id = [0u8; 16];
        let mut span_id = [0u8; 8];
        while trace_id == [0u8; 16] {
            rng.fill_bytes(&mut trace_id);
        }
        while span_id == [0u8; 8] {
            rng.fill_bytes(&mut span_id);
        }
        Self { trace_id, span_id, sampled: true }
    }

    /// A child span of this one (same trace, new span id).
    pub fn child(&self) -> Self {
        let mut span_id = [0u8; 8];
        while span_id == [0u8; 8] {
            rand::rng().fill_bytes(&mut span_id);
        }
        Self { span_id, ..*self }
    }

    /// Continues `header` when it is a valid `traceparent`, else starts a new trace.
    pub fn continue_or_start(header: Option<&str>) -> Self {
        header.and_then(Self::parse).map(|p| p.child()).unwrap_or_else(Self::new_root)
    }

    pub fn parse(header: &str) -> Option<Self> {
        let mut parts = header.trim().split('-');
        let version = parts.next()?;
        let trace = parts.next()?;
        let span = parts.next()?;
        let flags = parts.next()?;
        // Version 00 has exactly four fields; later versions may append more.
        if version.len() != 2 || version == "ff" || (version == "00" && parts.next().is_some()) {
            return None;
        }
        let trace_id: [u8; 16] = decode_hex(trace)?.try_into().ok()?;
        let span_id: [u8; 8] = decode_hex(span)?.try_into().ok()?;
        let flags = decode_hex(flags)?;
        if flags.len() != 1 || trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(Self { trace_id, span_id, sampled: flags[0] & 1 == 1 })
    }

    pub fn trace_id_hex(&self) -> String {
        encode_hex(&self.trace_id)
    }

    pub fn span_id_hex(&self) -> String {
        encode_hex(&self.span_id)
    }

    pub fn header_value(&self) -> String {
        format!("00-{}-{}-{:02x}", self.trace_id_hex(), self.span_id_hex(), u8::from(self.sampled))
    }

    /// This span as events carry it in their payload (`fitex.v1.TraceContext`).
    pub fn to_proto(&self) -> fitex_proto::TraceContext {
        fitex_proto::TraceContext { traceparent: self.header_value(), tracestate: String::new() }
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    // Lower-case only, as the specification requires.
    if !text.len().is_multiple_of(2)
        || !text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok()).collect()
}

fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn parses_and_prints_the_specification_example() {
        let parent = TraceParent::parse(EXAMPLE).unwrap();
        assert_eq!(parent.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(parent.span_id_hex(), "00f067aa0ba902b7");
        assert!(parent.sampled);
        assert_eq!(parent.header_value(), EXAMPLE);
    }

    #[test]
    fn a_child_keeps_the_trace_and_changes_the_span() {
        let parent = TraceParent::parse(EXAMPLE).unwrap();
        let child = TraceParent::continue_or_start(Some(EXAMPLE));
        assert_eq!(child.trace_id, parent.trace_id);
        assert_ne!(child.span_id, parent.span_id);
    }

    #[test]
    fn invalid_headers_start_a_new_trace() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad}");
        }
        let fresh = TraceParent::continue_or_start(Some("garbage"));
        assert_eq!(TraceParent::parse(&fresh.header_value()), Some(fresh));
    }
}
