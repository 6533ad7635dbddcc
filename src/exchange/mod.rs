//! Exchange adapters and the recording format.

pub mod deribit;
pub mod feed;
pub mod recording;
pub mod replay;

use std::borrow::Cow;

/// Text from outside (labels, instrument names, the exchange's messages)
/// without control characters, so that it can never drive a terminal
/// (escape sequences, BEL) or forge a line of `check` output (newlines).
pub fn clean_text(s: &str) -> Cow<'_, str> {
    match s.chars().any(char::is_control) {
        false => Cow::Borrowed(s),
        true => Cow::Owned(s.chars().filter(|c| !c.is_control()).collect()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_removed() {
        assert_eq!(super::clean_text("desk-a"), "desk-a");
        let hostile = "a\u{1b}]0;owned\u{7}b\nfake OK line\r\u{9b}2J";
        assert_eq!(super::clean_text(hostile), "a]0;ownedbfake OK line2J");
    }
}
