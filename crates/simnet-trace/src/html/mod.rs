//! `--format html`: one self-contained page to step through a run.
//!
//! The page is a pure function of the trace, like every other renderer:
//! the run's records, compacted into one JSON document
//! ([`data::page_data`]), embedded with the viewer's script and style in a
//! single HTML file that needs no network and opens from disk. The viewer
//! (`viewer.js`) does everything interactive in the browser: the cursor,
//! the sequence diagram, the socket tables at the cursor, the packet
//! details, filters and search.
//!
//! What the page holds per event is what the viewer shows of it: the text
//! timeline's line, the fields its panels need and, for packets, the
//! captured bytes (headers whole, the payload up to [`PAYLOAD_BYTES`]) so
//! the details pane can decode them like Wireshark's middle pane. Event
//! `i` of the page is line `i + 1` of `--format jsonl` (line 0 is the
//! `run_start` header), which is how the browser tests compare the two.

mod data;

use simnet_core::SimTime;
use simnet_core::trace::Trace;

/// How many payload bytes of each packet the page keeps (the headers are
/// always kept whole). Enough for an HTTP request line and its headers, a
/// WebSocket frame header, a TLS record header; the rest of a full-sized
/// segment would triple the page for nothing a reader looks at.
pub const PAYLOAD_BYTES: usize = 256;

/// What the page says about the run besides its trace.
#[derive(Clone, Debug, Default)]
pub struct HtmlMeta {
    /// The scenario's name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// The seed of the run.
    pub seed: u64,
    /// Its expectations and their verdicts, in the scenario's order.
    pub expectations: Vec<HtmlExpectation>,
}

/// One expectation's verdict, as the page lists it.
#[derive(Clone, Debug)]
pub struct HtmlExpectation {
    /// What was claimed.
    pub label: String,
    /// Whether it held.
    pub passed: bool,
    /// What the run showed.
    pub observed: String,
    /// When it was decided: the time it names, or `None` for a claim over
    /// the whole run (decided when the run ended).
    pub at: Option<SimTime>,
}

const STYLE: &str = include_str!("viewer.css");
const SCRIPT: &str = include_str!("viewer.js");

/// Renders the page.
pub fn render_html(trace: &Trace, meta: &HtmlMeta) -> String {
    let data = data::page_data(trace, meta);
    let title = escape_html(&format!("simnet: {}", meta.name));
    let mut page = String::with_capacity(data.len() + STYLE.len() + SCRIPT.len() + 4096);
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    page.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    // Nothing may be fetched: the page is whole on its own.
    page.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:\">\n",
    );
    page.push_str(&format!("<title>{title}</title>\n<style>\n"));
    page.push_str(STYLE);
    page.push_str("</style>\n</head>\n<body>\n<noscript>This page needs JavaScript to show the run.</noscript>\n");
    page.push_str("<script id=\"simnet-data\" type=\"application/json\">");
    page.push_str(&escape_script(&data));
    page.push_str("</script>\n<script>\n");
    page.push_str(SCRIPT);
    page.push_str("</script>\n</body>\n</html>\n");
    page
}

/// Text safe inside HTML element content and attribute values.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON safe inside a `<script>` element: the HTML parser ends the element
/// at the first `</` followed by `script`, and treats `<!--` specially, so
/// every `<` is written as the JSON escape `\u003c` (JSON text only has `<`
/// inside strings, where the escape means the same character).
fn escape_script(json: &str) -> String {
    json.replace('<', "\\u003c")
}

#[cfg(test)]
mod tests;
