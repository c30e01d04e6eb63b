//! What `q=` asks for: the one reading of a search, shared by the SQL, live matching, the
//! in-memory references of the tests and the console's chip.
//!
//! A search is terms separated by spaces; `"a quoted phrase"` is one term, matched as written
//! (an unclosed quote runs to the end). An entry matches when every term is found, ignoring
//! case, inside one of its fields (actor id, name and email, action, resource type and id, IP,
//! user agent, and each value in its details; key names are not searched). Different terms may
//! be found in different fields; one term never spans two fields.

/// The terms of a search, in order, without quotes and without empty ones.
pub fn terms(q: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = q;
    loop {
        rest = rest.trim_start_matches(' ');
        if rest.is_empty() {
            return out;
        }
        let (term, after) = match rest.strip_prefix('"') {
            Some(quoted) => match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            },
            None => match rest.find([' ', '"']) {
                Some(end) => (&rest[..end], &rest[end..]),
                None => (rest, ""),
            },
        };
        let term = term.trim_matches(' ');
        if !term.is_empty() {
            out.push(term);
        }
        rest = after;
    }
}

/// Whether every term of `q` is, ignoring case, inside one of `fields`.
pub fn matches<'a>(q: &str, fields: impl IntoIterator<Item = &'a str> + Clone) -> bool {
    terms(q).into_iter().all(|term| {
        let term = term.to_lowercase();
        fields
            .clone()
            .into_iter()
            .any(|f| f.to_lowercase().contains(&term))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_phrases() {
        assert_eq!(terms("grace totp"), ["grace", "totp"]);
        assert_eq!(terms("  changed   region "), ["changed", "region"]);
        assert_eq!(
            terms("\"changed region\" grace"),
            ["changed region", "grace"]
        );
        assert_eq!(terms("a\"b c\"d"), ["a", "b c", "d"]);
        assert_eq!(terms("\"unclosed phrase"), ["unclosed phrase"]);
        assert_eq!(terms("\"\" \" \""), Vec::<&str>::new());
        assert_eq!(terms(""), Vec::<&str>::new());
    }

    #[test]
    fn every_term_in_some_field() {
        let fields = [
            "Grace Hopper",
            "user.totp_enabled",
            "changed region to eu-west",
        ];
        assert!(matches("grace totp", fields));
        assert!(matches("\"changed region\"", fields));
        assert!(!matches("\"region changed\"", fields));
        // A phrase never spans two fields.
        assert!(!matches("\"hopper user\"", fields));
        assert!(!matches("grace nothing", fields));
        assert!(matches("", fields));
    }
}
