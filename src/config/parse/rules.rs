//! `[rules.NAME]`: saved mutt patterns whose matches popview proposes to
//! mark (at start and after each new-mail check); nothing is marked until
//! the user applies the proposal. The pattern is checked here, so a typo
//! is an error naming the rule's key, not a surprise at the first listing.

use super::*;
use crate::config::Rule;
use crate::pattern::{Now, Pattern};

impl Cx<'_> {
    pub(super) fn rules(&mut self, key: &str, v: &Value<'_>) -> R<Vec<Rule>> {
        let table = self.table(key, v, "one [rules.NAME] table per rule")?;
        let mut rules = Vec::new();
        for (k, v) in entries(table) {
            let name = k.get_ref().as_ref();
            let key = join(key, name);
            let rule = self.table(&key, v, "pattern = \"~f jenkins ~d >30d\"")?;
            let mut pattern = None;
            for (k, v) in entries(rule) {
                let field = k.get_ref().as_ref();
                let key = join(&key, field);
                self.known(Section::Rule, &key, field, &k.span())?;
                match field {
                    "pattern" => {
                        let p = self.string(&key, v, "pattern = \"~f jenkins ~d >30d\"")?;
                        // Dates are resolved when the rule is applied; any
                        // clock serves to check the syntax.
                        let now = Now {
                            unix: 0,
                            offset_minutes: 0,
                        };
                        if let Err(e) = Pattern::parse(&p, now) {
                            return Err(self.bad(&key, v, e.to_string()));
                        }
                        if p.trim().is_empty() {
                            return Err(self.bad(
                                &key,
                                v,
                                "an empty pattern matches every message; write what to match, \
                                 e.g. \"~f jenkins\"",
                            ));
                        }
                        pattern = Some(p);
                    }
                    "action" => self.choice(&key, v, &[("mark", ())])?,
                    _ => return Err(self.unknown_key(&key, field, &k.span(), RULE_KEYS)),
                }
            }
            let pattern = pattern.ok_or_else(|| {
                self.invalid(
                    &k.span(),
                    &join(&key, "pattern"),
                    None,
                    "missing: every rule needs one, e.g. pattern = \"~f jenkins ~d >30d\"",
                )
            })?;
            rules.push(Rule {
                name: name.to_owned(),
                pattern,
            });
        }
        Ok(rules)
    }
}
