#![no_main]
//! Message bytes through mail::summarize / mail::view into the App and
//! ui::draw on a TestBackend: no panic, no forbidden char on screen.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    popview_fuzz::checks::mail_render(data);
});
