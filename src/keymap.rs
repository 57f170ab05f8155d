//! Key -> [`Action`] table: compiled-in defaults patched by the config.
//!
//! Key strings look like `"d"`, `"G"`, `"shift-j"` (= `"J"`), `"ctrl-d"`,
//! `"alt-x"`, `"F5"`, `"pgdn"`, `"enter"`, `"space"`. The value `"none"`
//! removes a default binding. The help screen is generated from this table.

use std::collections::{BTreeMap, HashMap};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::action::Action;

/// A key with its modifiers, normalised (shift is folded into the
/// character: `shift-j` and `J` are the same key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl Key {
    pub fn new(code: KeyCode, mods: KeyModifiers) -> Key {
        let relevant = KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT;
        let mut mods = mods & relevant;
        let code = match code {
            KeyCode::Char(c) => {
                mods.remove(KeyModifiers::SHIFT);
                if mods.contains(KeyModifiers::CONTROL) {
                    // Terminals report ctrl-d as 'd' + CONTROL; some as 'D'.
                    KeyCode::Char(c.to_ascii_lowercase())
                } else {
                    KeyCode::Char(c)
                }
            }
            KeyCode::BackTab => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            other => other,
        };
        Key { code, mods }
    }

    pub fn from_event(ev: &KeyEvent) -> Key {
        Key::new(ev.code, ev.modifiers)
    }

    /// Parse a key string from the config.
    pub fn parse(s: &str) -> Result<Key, String> {
        let bad = || {
            format!(
                "unknown key {s:?}: write a character (\"d\", \"G\", \"$\"), a name (\"enter\", \"esc\", \
                 \"tab\", \"space\", \"up\", \"pgdn\", \"home\", \"F5\" ...) with optional \"ctrl-\", \
                 \"alt-\", \"shift-\" in front"
            )
        };
        let mut rest = s;
        let mut mods = KeyModifiers::NONE;
        loop {
            let lower = rest.to_ascii_lowercase();
            let (prefix, m) = if lower.starts_with("ctrl-") {
                ("ctrl-", KeyModifiers::CONTROL)
            } else if lower.starts_with("alt-") {
                ("alt-", KeyModifiers::ALT)
            } else if lower.starts_with("shift-") {
                ("shift-", KeyModifiers::SHIFT)
            } else {
                break;
            };
            if rest.len() == prefix.len() {
                return Err(bad());
            }
            mods |= m;
            rest = &rest[prefix.len()..];
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (None, _) => return Err(bad()),
            (Some(c), None) => {
                if mods.contains(KeyModifiers::SHIFT) && c.is_alphabetic() {
                    mods.remove(KeyModifiers::SHIFT);
                    KeyCode::Char(c.to_uppercase().next().unwrap_or(c))
                } else {
                    KeyCode::Char(c)
                }
            }
            _ => {
                let name = rest.to_ascii_lowercase();
                match name.as_str() {
                    "enter" | "return" => KeyCode::Enter,
                    "esc" | "escape" => KeyCode::Esc,
                    "tab" if mods.contains(KeyModifiers::SHIFT) => KeyCode::BackTab,
                    "tab" => KeyCode::Tab,
                    "backtab" => KeyCode::BackTab,
                    "backspace" | "bs" => KeyCode::Backspace,
                    "space" => KeyCode::Char(' '),
                    "up" => KeyCode::Up,
                    "down" => KeyCode::Down,
                    "left" => KeyCode::Left,
                    "right" => KeyCode::Right,
                    "home" => KeyCode::Home,
                    "end" => KeyCode::End,
                    "pgup" | "pageup" => KeyCode::PageUp,
                    "pgdn" | "pagedown" | "pgdown" => KeyCode::PageDown,
                    "del" | "delete" => KeyCode::Delete,
                    "ins" | "insert" => KeyCode::Insert,
                    f if f.starts_with('f') => match f[1..].parse::<u8>() {
                        Ok(n @ 1..=24) => KeyCode::F(n),
                        _ => return Err(bad()),
                    },
                    _ => return Err(bad()),
                }
            }
        };
        Ok(Key::new(code, mods))
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("alt-")?;
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            f.write_str("shift-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::F(n) => write!(f, "F{n}"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("shift-tab"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Up => f.write_str("up"),
            KeyCode::Down => f.write_str("down"),
            KeyCode::Left => f.write_str("left"),
            KeyCode::Right => f.write_str("right"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::Delete => f.write_str("del"),
            KeyCode::Insert => f.write_str("ins"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// The compiled-in bindings (mutt/vim habits).
pub const DEFAULT_BINDINGS: &[(&str, Action)] = &[
    ("j", Action::Down),
    ("down", Action::Down),
    ("k", Action::Up),
    ("up", Action::Up),
    ("pgdn", Action::PageDown),
    ("space", Action::PageDown),
    ("pgup", Action::PageUp),
    ("ctrl-d", Action::HalfPageDown),
    ("ctrl-u", Action::HalfPageUp),
    ("g", Action::Top),
    ("home", Action::Top),
    ("G", Action::Bottom),
    ("end", Action::Bottom),
    ("enter", Action::Open),
    ("esc", Action::Back),
    ("J", Action::NextMessage),
    ("K", Action::PrevMessage),
    ("d", Action::Mark),
    ("u", Action::Unmark),
    ("U", Action::UnmarkPattern),
    ("D", Action::MarkPattern),
    ("l", Action::Limit),
    ("T", Action::TagPattern),
    ("ctrl-t", Action::UntagPattern),
    ("t", Action::ToggleTag),
    (";", Action::TagPrefix),
    ("z", Action::UndoBulk),
    ("M", Action::Review),
    ("c", Action::Accounts),
    ("$", Action::Commit),
    ("q", Action::Quit),
    ("ctrl-c", Action::Quit),
    ("x", Action::QuitDiscard),
    ("ctrl-z", Action::Suspend),
    ("/", Action::Filter),
    ("n", Action::NextMatch),
    ("N", Action::PrevMatch),
    ("o", Action::Sort),
    ("O", Action::ReverseSort),
    ("r", Action::CheckMail),
    ("F5", Action::CheckMail),
    ("s", Action::Save),
    ("tab", Action::NextAttachment),
    ("v", Action::Raw),
    ("h", Action::FullHeaders),
    ("?", Action::Help),
    ("|", Action::Pipe),
    ("m", Action::OpenPart),
    ("ctrl-b", Action::Links),
    ("C", Action::Copy),
];

/// The live key table.
#[derive(Clone, Debug)]
pub struct Keymap {
    /// Bindings in a stable order (defaults first, then added keys).
    bindings: Vec<(Key, Action)>,
    lookup: HashMap<Key, Action>,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap::defaults()
    }
}

impl Keymap {
    pub fn defaults() -> Keymap {
        let mut km = Keymap {
            bindings: Vec::new(),
            lookup: HashMap::new(),
        };
        for (k, a) in DEFAULT_BINDINGS {
            let key = Key::parse(k).expect("default key strings parse");
            km.bind(key, Some(*a));
        }
        km
    }

    /// The defaults patched by `overrides` (key string -> action name, or
    /// `"none"` to unbind). Errors quote the bad entry and say what works.
    pub fn with_overrides(overrides: &BTreeMap<String, String>) -> Result<Keymap, String> {
        let mut km = Keymap::defaults();
        for (k, a) in overrides {
            let key = Key::parse(k).map_err(|e| format!("[keys] {e}"))?;
            let action = match a.as_str() {
                "none" | "" => None,
                name => Some(Action::from_name(name).ok_or_else(|| {
                    let known: Vec<_> = Action::ALL.iter().map(|a| a.name()).collect();
                    format!(
                        "[keys] {k:?} = {a:?}: unknown action {a:?}; use \"none\" to unbind or one of: {}",
                        known.join(", ")
                    )
                })?),
            };
            km.bind(key, action);
        }
        Ok(km)
    }

    fn bind(&mut self, key: Key, action: Option<Action>) {
        self.bindings.retain(|(k, _)| *k != key);
        self.lookup.remove(&key);
        if let Some(a) = action {
            self.bindings.push((key, a));
            self.lookup.insert(key, a);
        }
    }

    pub fn action_for(&self, ev: &KeyEvent) -> Option<Action> {
        self.lookup.get(&Key::from_event(ev)).copied()
    }

    /// The keys bound to `action`, as strings, in binding order.
    pub fn keys_for(&self, action: Action) -> Vec<String> {
        self.bindings
            .iter()
            .filter(|(_, a)| *a == action)
            .map(|(k, _)| k.to_string())
            .collect()
    }

    /// The first key bound to `action`, for hints ("?" if unbound).
    pub fn hint(&self, action: Action) -> String {
        self.keys_for(action)
            .into_iter()
            .next()
            .unwrap_or_else(|| "(unbound)".to_string())
    }

    /// Every (action, keys) pair, in the help order; unbound actions included
    /// with no keys.
    pub fn help_table(&self) -> Vec<(Action, Vec<String>)> {
        Action::ALL
            .into_iter()
            .map(|a| (a, self.keys_for(a)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn defaults_resolve() {
        let km = Keymap::defaults();
        assert_eq!(
            km.action_for(&ev(KeyCode::Char('j'), KeyModifiers::NONE)),
            Some(Action::Down)
        );
        // Terminals send 'J' with SHIFT.
        assert_eq!(
            km.action_for(&ev(KeyCode::Char('J'), KeyModifiers::SHIFT)),
            Some(Action::NextMessage)
        );
        assert_eq!(
            km.action_for(&ev(KeyCode::Char('d'), KeyModifiers::CONTROL)),
            Some(Action::HalfPageDown)
        );
        assert_eq!(
            km.action_for(&ev(KeyCode::F(5), KeyModifiers::NONE)),
            Some(Action::CheckMail)
        );
    }

    #[test]
    fn parse_and_display() {
        for (s, shown) in [
            ("shift-j", "J"),
            ("ctrl-d", "ctrl-d"),
            ("F5", "F5"),
            ("pgdn", "pgdn"),
            ("space", "space"),
            ("-", "-"),
            ("ctrl--", "ctrl--"),
            ("alt-x", "alt-x"),
            ("shift-tab", "shift-tab"),
        ] {
            assert_eq!(Key::parse(s).unwrap().to_string(), shown, "{s}");
        }
        for bad in ["", "ctrl-", "F99", "bogus", "ctrl-bogus"] {
            let err = Key::parse(bad).unwrap_err();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn overrides_patch_defaults() {
        let mut o = BTreeMap::new();
        o.insert("D".to_string(), "mark".to_string());
        o.insert("d".to_string(), "none".to_string());
        o.insert("ctrl-n".to_string(), "next_message".to_string());
        let km = Keymap::with_overrides(&o).unwrap();
        assert_eq!(
            km.action_for(&ev(KeyCode::Char('d'), KeyModifiers::NONE)),
            None
        );
        assert_eq!(
            km.action_for(&ev(KeyCode::Char('D'), KeyModifiers::SHIFT)),
            Some(Action::Mark)
        );
        assert_eq!(km.keys_for(Action::Mark), vec!["D"]);
        assert_eq!(km.keys_for(Action::NextMessage), vec!["J", "ctrl-n"]);

        let mut o = BTreeMap::new();
        o.insert("d".to_string(), "delet".to_string());
        let err = Keymap::with_overrides(&o).unwrap_err();
        assert!(err.contains("\"delet\"") && err.contains("mark"), "{err}");
    }
}
