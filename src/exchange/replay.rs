//! Feeding a recording to the engine at the recorded pace, faster, or as
//! fast as possible, through the same path as live data.

use super::feed::Feed;
use super::recording::RecordLine;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Send every line of a recording as a feed item. `speed` multiplies the
/// recorded pace (2.0 = twice as fast); 0 or less means no waiting at all.
/// Lines that are not recording entries are sent as garbage (counted).
pub async fn play(
    lines: Vec<String>,
    speed: f64,
    feed: mpsc::Sender<Feed>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut previous: Option<i64> = None;
    for text in lines {
        if *shutdown.borrow() {
            return;
        }
        let Some(line) = RecordLine::parse(&text) else {
            if !text.trim().is_empty()
                && feed
                    .send(Feed::Garbage {
                        acct: "replay".into(),
                    })
                    .await
                    .is_err()
            {
                return;
            }
            continue;
        };
        if speed > 0.0 {
            if let Some(prev) = previous {
                let gap = (line.t - prev).max(0) as f64 / speed;
                // Long silences in a recording are capped at a minute of waiting.
                let wait = Duration::from_millis(gap.min(60_000.0) as u64);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
        previous = Some(line.t);
        if feed.send(Feed::Line(line)).await.is_err() {
            return;
        }
    }
}
