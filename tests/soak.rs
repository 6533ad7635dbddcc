//! A short soak: a simulated day of the demo exchange at 7200×, with its
//! 08:00 settlement, a crash, and faults injected into every connection,
//! under the real monitor. The monitor must come back from every fault
//! and keep up; the figures of a full week are in the README.

use margintop::demo::soak::{self, SoakOptions};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_day_with_faults_leaves_the_monitor_current_and_keeping_up() {
    let opts = SoakOptions {
        days: 1.0,
        speed: 7_200.0,
        chaos_every: Some(Duration::from_secs(3)),
        sample_every: Duration::from_millis(250),
        seed: 11,
    };
    let report = soak::run(opts, |_, _| {}).await.expect("the soak ran");
    println!("{report}");
    assert_eq!(report.days.len(), 1);
    let day = &report.days[0];
    assert!(report.settlements >= 1 && report.crashes >= 1, "{report}");
    // 18 links connected once at start; the faults dropped and stalled
    // connections, and each came back.
    assert!(day.connects > 18 + 5, "{report}");
    assert!(
        day.all_current > 0,
        "books were current between faults: {report}"
    );
    assert!(day.books >= 8, "{report}");
    assert!(report.problems().is_empty(), "{report}");
    assert!(day.builds > 100, "{report}");
}
