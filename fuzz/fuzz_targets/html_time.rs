#![no_main]
//! HTML through popview::html::to_text must finish in bounded time: the
//! check panics (a finding) when one input takes longer than
//! `checks::HTML_TIME_LIMIT`, not only when it crashes.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    popview_fuzz::checks::html_time(data);
});
