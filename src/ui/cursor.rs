//! A cursor over the lines of a list whose length is known only when the
//! list is built (from a snapshot, an analysis, the keymap).

use super::keymap::Action;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    at: usize,
}

impl Cursor {
    /// The line under the cursor in a list of `count` lines.
    pub fn at(self, count: usize) -> usize {
        self.at.min(count.saturating_sub(1))
    }

    pub fn set(&mut self, at: usize) {
        self.at = at;
    }

    /// Move by a key over `count` lines, `page` at a time.
    pub fn step(&mut self, action: Action, count: usize, page: usize) {
        let last = count.saturating_sub(1);
        let at = self.at(count);
        self.at = match action {
            Action::Up => at.saturating_sub(1),
            Action::Down => (at + 1).min(last),
            Action::PageUp => at.saturating_sub(page),
            Action::PageDown => (at + page).min(last),
            Action::Top => 0,
            Action::Bottom => last,
            _ => at,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_within_the_list() {
        let mut c = Cursor::default();
        c.step(Action::Down, 3, 10);
        c.step(Action::Down, 3, 10);
        c.step(Action::Down, 3, 10);
        assert_eq!(c.at(3), 2, "stops at the last line");
        c.step(Action::PageUp, 3, 10);
        assert_eq!(c.at(3), 0);
        c.step(Action::Bottom, 50, 10);
        assert_eq!(c.at(50), 49);
        assert_eq!(c.at(5), 4, "a shorter list clamps it");
    }
}
