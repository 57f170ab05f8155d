//! `cache_bodies`: an account setting, off unless written; a size with K,
//! M or G, or `0`/`"off"` for off; anything else is an error that says
//! what to write.

use std::path::Path;

use popview::config;

fn cache_bodies(line: &str) -> Result<Option<u64>, String> {
    let text = format!("[accounts.work]\nhost = \"pop.example.com\"\nusername = \"me\"\n{line}\n");
    config::parse(&text, Path::new("/etc/popview/config.toml"))
        .map(|c| c.account(Some("work")).unwrap().cache_bodies)
        .map_err(|e| e.to_string())
}

#[test]
fn off_unless_written_and_sizes_read_as_written() {
    assert_eq!(cache_bodies(""), Ok(None));
    assert_eq!(cache_bodies("cache_bodies = \"200M\""), Ok(Some(200 << 20)));
    assert_eq!(cache_bodies("cache_bodies = \"1G\""), Ok(Some(1 << 30)));
    assert_eq!(cache_bodies("cache_bodies = 65536"), Ok(Some(65536)));
    for off in ["0", "\"0\"", "\"off\"", "\"OFF\"", "false", "\"0M\""] {
        assert_eq!(
            cache_bodies(&format!("cache_bodies = {off}")),
            Ok(None),
            "{off}"
        );
    }
}

#[test]
fn a_bad_value_says_what_to_write() {
    for bad in ["\"lots\"", "-5", "\"200X\"", "true", "[1]"] {
        let e = cache_bodies(&format!("cache_bodies = {bad}")).unwrap_err();
        assert!(e.contains("cache_bodies"), "{bad}: {e}");
        assert!(
            e.contains("\"200M\"") && e.contains("\"off\""),
            "{bad}: {e}"
        );
    }
}
