//! PURE: the one rule for a leading `~` in a path the user wrote (in the
//! config, at a save prompt, as a command's argument): `~` and `~/…` are
//! the home directory, `~user/…` is refused (write the full path, as
//! popview does not look users up), anything else is left as it is.

use std::path::{Path, PathBuf};

/// `text` with a leading `~` or `~/` put in `home`. `Err` says why it
/// can't be: `~user`, or no home directory known.
pub fn expand_tilde(text: &str, home: Option<&Path>) -> Result<PathBuf, String> {
    let Some(rest) = text.strip_prefix('~') else {
        return Ok(PathBuf::from(text));
    };
    if !(rest.is_empty() || rest.starts_with('/')) {
        return Err("only \"~/\" is expanded (not \"~user/\"): write the full path".into());
    }
    let home = home.ok_or("\"~\" can't be expanded: no home directory is known")?;
    Ok(home.join(rest.trim_start_matches('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tilde_is_home_and_nothing_else_changes() {
        let h = Some(Path::new("/home/a"));
        assert_eq!(expand_tilde("~", h).unwrap(), PathBuf::from("/home/a"));
        assert_eq!(expand_tilde("~/", h).unwrap(), PathBuf::from("/home/a"));
        assert_eq!(
            expand_tilde("~/Mail/inbox", h).unwrap(),
            PathBuf::from("/home/a/Mail/inbox")
        );
        for same in ["/a/~/b", "Mail", "./~", "", "$HOME/x"] {
            assert_eq!(expand_tilde(same, h).unwrap(), PathBuf::from(same));
        }
        assert!(expand_tilde("~bob/x", h).unwrap_err().contains("~user"));
        assert!(expand_tilde("~/x", None).unwrap_err().contains("no home"));
        assert!(expand_tilde("/x", None).is_ok());
    }
}
