#![no_main]
//! A whole client session against canned server replies cut from the input.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    popview_fuzz::checks::client_session(data);
});
