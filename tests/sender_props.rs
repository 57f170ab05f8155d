//! The one sender rule (`popview::mail::sender_label` / `address_label`,
//! used by the list, the reader and the CLI): a display name that holds
//! anything address-like never stands in for the real address.

use popview::mail::{HeaderSummary, address_label, looks_like_address, sender_label};
use proptest::prelude::*;

const ADDR: &str = "attacker@evil.example";

/// Tokens a spoofer puts in a display name.
fn address_like() -> impl Strategy<Value = String> {
    let domain = prop_oneof![
        Just("paypal.com".to_string()),
        Just("PayPal.com".to_string()),
        Just("paypal.com.".to_string()),
        Just("ｐａｙｐａｌ．ｃｏｍ".to_string()),
        Just("paypal。com".to_string()),
        Just("xn--pypal-4ve.com".to_string()),
        Just("bank.xn--p1ai".to_string()),
        Just("пример.рф".to_string()),
        Just("secure-login.bank.co.uk".to_string()),
        Just("10.0.0.1".to_string()),
        "[a-z]{2,10}\\.[a-z]{2,6}",
        "[A-Z][a-z]{1,8}\\.(com|org|net|DE|Bank)",
    ];
    prop_oneof![
        domain.clone(),
        domain.clone().prop_map(|d| format!("www.{d}")),
        domain.clone().prop_map(|d| format!("https://{d}/login")),
        domain.clone().prop_map(|d| format!("http://{d}")),
        domain.clone().prop_map(|d| format!("mailto:x@{d}")),
        domain.clone().prop_map(|d| format!("security@{d}")),
        domain.clone().prop_map(|d| format!("security＠{d}")),
        domain.clone().prop_map(|d| format!("security﹫{d}")),
        domain.clone().prop_map(|d| format!("<{d}>")),
        domain.clone().prop_map(|d| format!("‹{d}›")),
        domain.clone().prop_map(|d| format!("＜{d}＞")),
        domain.clone().prop_map(|d| format!("({d})")),
        domain.prop_map(|d| format!("\"{d}\"")),
    ]
}

/// A harmless-looking part of a name.
fn words() -> impl Strategy<Value = String> {
    "([A-Z][a-z]{0,8} ?){0,3}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_name_holding_an_address_like_token_never_replaces_the_address(
        before in words(),
        token in address_like(),
        after in words(),
        pad in "[ \t]{0,2}",
    ) {
        let name = format!("{pad}{before} {token}{pad} {after}");
        prop_assert!(looks_like_address(&name), "{:?}", name);
        prop_assert_eq!(sender_label(&name, ADDR), ADDR, "{:?}", name);
        let full = address_label(&name, ADDR);
        prop_assert!(full.starts_with(ADDR), "{:?} -> {:?}", name, full);
        let h = HeaderSummary {
            from_name: name.clone(),
            from_addr: ADDR.into(),
            ..HeaderSummary::default()
        };
        prop_assert_eq!(h.sender(), ADDR);
        // without any address the name is flagged, not trusted
        prop_assert!(sender_label(&name, "").ends_with("(no address)"));
    }

    #[test]
    fn a_plain_name_is_shown_as_the_name(name in "[A-Z][a-z]{1,10}( [A-Z][a-z]{1,10}){0,2}( Jr\\.)?") {
        prop_assert!(!looks_like_address(&name), "{:?}", name);
        prop_assert_eq!(sender_label(&name, ADDR), name.clone());
        prop_assert_eq!(address_label(&name, ADDR), format!("{name} <{ADDR}>"));
    }
}

#[test]
fn names_that_are_not_domains_stay_names() {
    for name in [
        "Dr. Who",
        "J.R.R. Tolkien",
        "Alice B. Example",
        "Müller, Jürgen",
        "Team e.g. ops",
        "Version 2.0",
        "日本 太郎",
    ] {
        assert!(!looks_like_address(name), "{name}");
        assert_eq!(sender_label(name, ADDR), name);
    }
}

#[test]
fn invisible_characters_cannot_hide_a_domain() {
    // sanitized first: zero-width and bidi characters go before the test
    for name in [
        "pay\u{200B}pal.c\u{200B}om",
        "paypal\u{2060}.com",
        "\u{202E}moc.lapyap",
    ] {
        let shown = sender_label(name, ADDR);
        assert!(
            shown == ADDR || !shown.contains("paypal"),
            "{name:?} -> {shown:?}"
        );
    }
    assert_eq!(sender_label("pay\u{200B}pal.c\u{200B}om", ADDR), ADDR);
}
