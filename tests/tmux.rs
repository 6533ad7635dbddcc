//! The real binary in a real terminal (tmux): the demo desk appears, keys
//! move between screens, q quits and the terminal is handed back.
//! `.ci/run` installs tmux when the machine lacks it.

use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn new() -> Tmux {
        Tmux::named("ui")
    }

    /// A tmux server of its own, so that tests can run side by side.
    fn named(name: &str) -> Tmux {
        Tmux {
            socket: format!("margintop-test-{}-{name}", std::process::id()),
        }
    }

    /// Run `cmd` in a detached 100×30 session named "ui".
    fn start(&self, cmd: &str) {
        let started = self.run(&[
            "new-session",
            "-d",
            "-s",
            "ui",
            "-x",
            "100",
            "-y",
            "30",
            cmd,
        ]);
        let err = String::from_utf8_lossy(&started.stderr);
        assert!(started.status.success(), "{err}");
    }

    /// A pane format variable of the session, e.g. `#{alternate_on}`.
    fn flag(&self, format: &str) -> String {
        let out = self
            .run(&["display-message", "-p", "-t", "ui", format])
            .stdout;
        String::from_utf8_lossy(&out).trim().to_string()
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux is installed (.ci/run installs it)")
    }

    fn capture(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "ui"]).stdout).into_owned()
    }

    /// Wait (at most `limit`) until the screen shows `text`.
    fn wait_for(&self, text: &str, limit: Duration) -> String {
        self.wait_until(|s| s.contains(text), limit)
    }

    fn wait_until(&self, done: impl Fn(&str) -> bool, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            let screen = self.capture();
            if done(&screen) || start.elapsed() > limit {
                return screen;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn alive(&self) -> bool {
        self.run(&["has-session", "-t", "ui"]).status.success()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

#[test]
fn the_demo_in_a_terminal() {
    let tmux = Tmux::new();
    let home = std::env::temp_dir().join(format!("margintop-tmux-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let cmd = format!(
        "env HOME={h} XDG_CONFIG_HOME={h}/config TERM=xterm-256color {bin}",
        h = home.display(),
        bin = env!("CARGO_BIN_EXE_margintop")
    );
    tmux.start(&cmd);
    // Every book connected and priced: nothing stale, the critical book on top.
    let screen = tmux.wait_until(
        |s| s.contains("desk: 16 accounts") && s.contains("CRITICAL") && !s.contains("STALE"),
        Duration::from_secs(30),
    );
    assert!(
        screen.contains("DEMO DATA") && screen.contains("demo/btc-desk"),
        "{screen}"
    );
    assert!(
        screen.contains("CRITICAL") && screen.contains("health"),
        "{screen}"
    );
    // The worst book is first: open it.
    tmux.run(&["send-keys", "-t", "ui", "Enter"]);
    let screen = tmux.wait_for("positions (", Duration::from_secs(5));
    assert!(
        screen.contains("demo/near-liq-pm") && screen.contains("mm_ratio"),
        "{screen}"
    );
    // Every screen of the help, with the numbers they compute.
    let both = |a: &'static str, b: &'static str| move |s: &str| s.contains(a) && s.contains(b);
    tmux.run(&["send-keys", "-t", "ui", "m"]);
    let screen = tmux.wait_until(both("under each model", "▼"), Duration::from_secs(10));
    assert!(
        screen.contains("deribit_sm") && screen.contains("span16"),
        "{screen}"
    );
    tmux.run(&["send-keys", "-t", "ui", "t"]);
    let screen = tmux.wait_until(
        both("stress demo/near-liq-pm", "FTX"),
        Duration::from_secs(10),
    );
    assert!(screen.contains("health after"), "{screen}");
    // A what-if: sell 1 BTC of perpetual (picked by typing) and see before → after.
    tmux.run(&["send-keys", "-t", "ui", "w", "a"]);
    tmux.wait_for("instruments match", Duration::from_secs(10));
    tmux.run(&["send-keys", "-t", "ui", "-l", "perpetual"]);
    tmux.run(&["send-keys", "-t", "ui", "Enter"]);
    tmux.wait_for("size of BTC-PERPETUAL", Duration::from_secs(5));
    tmux.run(&["send-keys", "-t", "ui", "-l", "--", "-30000"]);
    tmux.run(&["send-keys", "-t", "ui", "Enter"]);
    let screen = tmux.wait_until(both("before → after", "pts"), Duration::from_secs(10));
    assert!(
        screen.contains("-30000") && screen.contains("liquidation down"),
        "{screen}"
    );
    tmux.run(&["send-keys", "-t", "ui", "!"]);
    tmux.wait_for("newest first", Duration::from_secs(5));
    tmux.run(&["send-keys", "-t", "ui", "?"]);
    let screen = tmux.wait_until(
        both("this help", "filter accounts by text"),
        Duration::from_secs(5),
    );
    assert!(screen.contains("what-if"), "{screen}");
    tmux.run(&["send-keys", "-t", "ui", "Escape"]);
    tmux.wait_until(|s| !s.contains("this help"), Duration::from_secs(5));
    tmux.run(&["send-keys", "-t", "ui", "Escape"]);
    let screen = tmux.wait_for("desk: 16", Duration::from_secs(5));
    assert!(screen.contains("desk: 16 accounts"), "{screen}");
    tmux.run(&["send-keys", "-t", "ui", "q"]);
    let start = Instant::now();
    while tmux.alive() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !tmux.alive(),
        "q should end margintop (and with it the tmux session)"
    );
    std::fs::remove_dir_all(&home).ok();
}

/// The pid of a child process of `parent` (from /proc: each process's
/// parent pid is the 4th field of its `stat`, after the parenthesized name).
fn child_of(parent: &str) -> Option<String> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
        let after_name = &stat[stat.rfind(')')? + 1..];
        let ppid = after_name.split_whitespace().nth(1)?;
        (ppid == parent).then(|| e.file_name().to_string_lossy().into_owned())
    })
}

/// `kill -INT`, `-QUIT`, `-TERM` and `-HUP` all end the dashboards and hand
/// the terminal back: main screen, mouse capture off, cursor shown, raw mode
/// off (the shell that started margintop reads the line discipline after).
#[test]
fn signals_hand_the_terminal_back() {
    for sig in ["INT", "QUIT", "TERM", "HUP"] {
        let tmux = Tmux::named(sig);
        let home = std::env::temp_dir().join(format!("margintop-sig-{}-{sig}", std::process::id()));
        std::fs::create_dir_all(&home).unwrap();
        let (pidfile, stty) = (home.join("pid"), home.join("stty"));
        // margintop runs in the foreground of a shell that outlives it, so
        // that the pane stays alive to be looked at.
        let cmd = format!(
            "sh -c 'echo $$ > {pid}; env HOME={h} XDG_CONFIG_HOME={h}/config TERM=xterm-256color {bin} --mouse; stty -a > {stty}; echo HANDED-BACK; sleep 60'",
            pid = pidfile.display(),
            h = home.display(),
            bin = env!("CARGO_BIN_EXE_margintop"),
            stty = stty.display(),
        );
        tmux.start(&cmd);
        let screen = tmux.wait_for("desk: 16 accounts", Duration::from_secs(30));
        assert!(screen.contains("desk: 16"), "{sig}: {screen}");
        assert_eq!(
            tmux.flag("#{alternate_on} #{mouse_any_flag} #{cursor_flag}"),
            "1 1 0",
            "{sig}: running"
        );
        let shell = std::fs::read_to_string(&pidfile).unwrap();
        let pid = child_of(shell.trim()).expect("margintop runs under the shell");
        let killed = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(&pid)
            .status()
            .unwrap();
        assert!(killed.success());
        let screen = tmux.wait_for("HANDED-BACK", Duration::from_secs(10));
        assert!(
            screen.contains("HANDED-BACK"),
            "{sig} ends margintop: {screen}"
        );
        assert_eq!(
            tmux.flag("#{alternate_on} #{mouse_any_flag} #{cursor_flag}"),
            "0 0 1",
            "{sig}: main screen, mouse released, cursor shown"
        );
        let modes = std::fs::read_to_string(&stty).unwrap();
        let words: Vec<&str> = modes.split_whitespace().collect();
        for mode in ["icanon", "echo", "isig"] {
            assert!(words.contains(&mode), "{sig}: raw mode left on: {modes}");
        }
        std::fs::remove_dir_all(&home).ok();
    }
}
