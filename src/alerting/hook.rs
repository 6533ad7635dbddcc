//! The command hook: `on_alert = ["notify-send", "{account}", "{message}"]`
//! runs once per alert, without a shell (an alert's text is never parsed
//! as a command), with the alert's fields in its arguments' placeholders
//! and in `MARGINTOP_ALERT_*` environment variables. Commands run one at a
//! time on a thread of their own, each stopped at its timeout; a queue too
//! long drops the newest alerts and says how many. Nothing a command does
//! stops the monitor: its failures come back as problems to say.

use super::audit::Entry;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Alerts waiting for the command; more are dropped and counted.
const QUEUE: usize = 256;

/// An alert's fields by placeholder name: `{name}` in an argument,
/// `MARGINTOP_ALERT_NAME` in the environment.
fn fields(e: &Entry) -> Vec<(&'static str, String)> {
    let text = |v: Option<&str>| v.unwrap_or_default().to_string();
    let number = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    vec![
        ("time", e.time.clone()),
        ("at_ms", e.at_ms.to_string()),
        ("level", e.level.to_string()),
        ("change", text(e.change)),
        ("rule", text(e.rule)),
        ("exchange", text(e.exchange)),
        ("account", text(e.account)),
        ("currency", text(e.currency)),
        ("metric", text(e.metric)),
        ("value", number(e.value)),
        ("threshold", number(e.threshold)),
        ("message", e.message.to_string()),
    ]
}

/// `template` with every `{name}` of `fields` replaced (others kept).
fn fill(template: &str, fields: &[(&'static str, String)]) -> String {
    fields
        .iter()
        .fold(template.to_string(), |s, (name, value)| {
            s.replace(&format!("{{{name}}}"), value)
        })
}

/// One command line to run: program, arguments, environment.
struct Job {
    argv: Vec<String>,
    env: Vec<(String, String)>,
}

/// The hook's queue and the thread that runs it. Dropping it stops the
/// thread, and a command still running with it.
pub struct Hook {
    argv: Vec<String>,
    jobs: Option<SyncSender<Job>>,
    problems: Receiver<String>,
    dropped: u64,
    stop: Arc<AtomicBool>,
    worker: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Hook {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.jobs = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

impl Hook {
    /// Start the thread that runs `argv` (non-empty) for each alert, each
    /// run stopped after `timeout`.
    pub fn start(argv: Vec<String>, timeout: Duration) -> Hook {
        let (jobs, queue) = mpsc::sync_channel::<Job>(QUEUE);
        let (report, problems) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let worker = std::thread::spawn(move || {
            for job in queue {
                if stopping.load(Ordering::Relaxed) {
                    return;
                }
                if let Err(problem) = run(&job, timeout, &stopping) {
                    let _ = report.send(problem);
                }
            }
        });
        Hook {
            argv,
            jobs: Some(jobs),
            problems,
            dropped: 0,
            stop,
            worker: Some(worker),
        }
    }

    /// Queue the command for each alert; returns the problems met since
    /// the last call (failed runs, alerts dropped).
    pub fn send(&mut self, entries: &[Entry]) -> Vec<String> {
        for e in entries {
            let f = fields(e);
            let job = Job {
                argv: self.argv.iter().map(|a| fill(a, &f)).collect(),
                env: (f.iter())
                    .map(|(k, v)| (format!("MARGINTOP_ALERT_{}", k.to_uppercase()), v.clone()))
                    .collect(),
            };
            let sent = self.jobs.as_ref().map(|j| j.try_send(job));
            if let Some(Err(TrySendError::Full(_) | TrySendError::Disconnected(_))) = sent {
                self.dropped += 1;
            }
        }
        let mut out: Vec<String> = self.problems.try_iter().collect();
        if self.dropped > 0 {
            out.push(format!(
                "on_alert: {} alert(s) dropped, the command is slower than the alerts",
                std::mem::take(&mut self.dropped)
            ));
        }
        out
    }
}

impl Hook {
    /// Let the queued commands run, for at most `grace`, then stop; returns
    /// the problems not yet said (a monitor quitting still says them).
    pub fn finish(mut self, grace: Duration) -> Vec<String> {
        self.jobs = None; // the queue ends: the thread stops when it is done
        let start = Instant::now();
        while self.worker.as_ref().is_some_and(|w| !w.is_finished()) && start.elapsed() < grace {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.stop.store(true, Ordering::Relaxed);
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
        self.send(&[])
    }
}

/// Run one job to its end, its timeout or `stop`; Err says what went wrong.
fn run(job: &Job, timeout: Duration, stop: &AtomicBool) -> Result<(), String> {
    let program = &job.argv[0];
    let mut child = Command::new(program)
        .args(&job.argv[1..])
        .envs(job.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("on_alert: cannot run {program}: {e}"))?;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("on_alert: {program} failed ({status})")),
            Ok(None) if stop.load(Ordering::Relaxed) => {
                let _ = child.kill();
                let _ = child.wait();
                return Ok(());
            }
            Ok(None) if start.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "on_alert: {program} stopped after {:.1} s (on_alert_timeout_s)",
                    timeout.as_secs_f64()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("on_alert: {program}: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::rules::Level;

    fn entry(message: &str) -> Entry<'_> {
        Entry {
            account: Some("desk-a"),
            currency: Some("BTC"),
            rule: Some("near liquidation"),
            value: Some(0.93),
            ..Entry::built_in(1_000, Level::Critical, message)
        }
    }

    fn problems(hook: &mut Hook, want: usize) -> Vec<String> {
        crate::alerting::problems_within_seconds(|| hook.send(&[]), want)
    }

    #[test]
    fn fields_fill_the_arguments_and_the_environment_without_a_shell() {
        let dir = std::env::temp_dir().join(format!("margintop-hook-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("out.txt");
        // sh is the hook's own program here; the message's `$(…)` and `;`
        // reach it as data in $1, never as a command line.
        let script = format!(
            "printf '%s|%s|%s|%s\\n' \"$1\" \"$2\" \"$MARGINTOP_ALERT_LEVEL\" \"$MARGINTOP_ALERT_VALUE\" >> {}",
            out.display()
        );
        let argv = [
            "sh",
            "-c",
            &script,
            "hook",
            "{message}",
            "{account} [{currency}]",
        ];
        let mut hook = Hook::start(argv.map(String::from).to_vec(), Duration::from_secs(5));
        assert!(hook.send(&[entry("mm $(touch /tmp/x); 93 %")]).is_empty());
        let mut text = String::new();
        for _ in 0..500 {
            text = std::fs::read_to_string(&out).unwrap_or_default();
            if !text.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            text,
            "mm $(touch /tmp/x); 93 %|desk-a [BTC]|critical|0.93\n"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_command_that_fails_hangs_or_is_missing_is_reported_not_fatal() {
        let mut hook = Hook::start(vec!["false".into()], Duration::from_secs(5));
        hook.send(&[entry("x")]);
        let got = problems(&mut hook, 1);
        assert!(got[0].contains("false failed"), "{got:?}");
        // Quitting waits for what is queued and says its problems.
        let mut hook = Hook::start(vec!["false".into()], Duration::from_secs(5));
        hook.send(&[entry("x")]);
        let got = hook.finish(Duration::from_secs(5));
        assert!(got.len() == 1 && got[0].contains("false failed"), "{got:?}");

        let mut hook = Hook::start(
            vec!["sleep".into(), "30".into()],
            Duration::from_millis(200),
        );
        let start = Instant::now();
        hook.send(&[entry("x")]);
        let got = problems(&mut hook, 1);
        assert!(got[0].contains("stopped after 0.2 s"), "{got:?}");
        assert!(start.elapsed() < Duration::from_secs(10));

        let mut hook = Hook::start(vec!["/no/such/program".into()], Duration::from_secs(1));
        hook.send(&[entry("x")]);
        let got = problems(&mut hook, 1);
        assert!(got[0].contains("cannot run /no/such/program"), "{got:?}");
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        let mut hook = Hook::start(
            vec!["sleep".into(), "30".into()],
            Duration::from_millis(300),
        );
        let many: Vec<Entry> = (0..QUEUE + 10).map(|_| entry("x")).collect();
        let got = hook.send(&many);
        // One is taken by the thread at once, at most: 9 or 10 dropped.
        let dropped = got
            .iter()
            .find(|p| p.contains("dropped"))
            .expect("a drop reported");
        assert!(
            dropped.contains("9 alert(s)") || dropped.contains("10 alert(s)"),
            "{dropped}"
        );
        // Dropping the hook stops the running command and the queue at once.
        let start = Instant::now();
        drop(hook);
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
