//! Table columns as data: each has a header, a width and a priority, and
//! one rule decides which fit a width. Cells are chosen by the column's
//! identity (an enum), never by its header text.

use ratatui::layout::Constraint;

/// A column of a table whose cells are chosen by `id`.
#[derive(Clone, Copy, Debug)]
pub struct Column<C> {
    pub id: C,
    pub header: &'static str,
    pub width: u16,
    /// 1: always shown; higher numbers drop first when the table is narrow.
    pub priority: u8,
}

pub const fn col<C>(id: C, header: &'static str, width: u16, priority: u8) -> Column<C> {
    Column {
        id,
        header,
        width,
        priority,
    }
}

/// The columns that fit `width` (cells, borders excluded), in display
/// order: priority 1 first, then each lower priority while there is room
/// for the column and its one-cell gap.
pub fn fitting<C: Copy>(columns: &[Column<C>], width: u16) -> Vec<Column<C>> {
    let mut shown: Vec<usize> = Vec::new();
    let mut used = 0u16;
    let lowest = columns.iter().map(|c| c.priority).max().unwrap_or(1);
    for p in 1..=lowest {
        for (i, c) in columns.iter().enumerate().filter(|(_, c)| c.priority == p) {
            if used + c.width < width {
                used += c.width + 1;
                shown.push(i);
            }
        }
    }
    shown.sort();
    shown.into_iter().map(|i| columns[i]).collect()
}

/// Fixed widths of the shown columns.
pub fn widths<C>(columns: &[Column<C>]) -> Vec<Constraint> {
    columns
        .iter()
        .map(|c| Constraint::Length(c.width))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_drop_by_priority_and_keep_their_order() {
        let cols = [
            col('a', "a", 10, 1),
            col('b', "b", 10, 3),
            col('c', "c", 10, 2),
        ];
        let ids = |w| fitting(&cols, w).iter().map(|c| c.id).collect::<String>();
        assert_eq!(ids(40), "abc");
        assert_eq!(ids(25), "ac", "priority 2 before priority 3");
        assert_eq!(ids(11), "a");
        assert_eq!(ids(5), "", "nothing fits");
    }
}
