#![no_main]
//! Arbitrary server bytes through LineBuffer, parse_status, BodyCollector,
//! Capabilities::parse and the LIST/UIDL/STAT line parsers.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    popview_fuzz::checks::response_reader(data);
});
