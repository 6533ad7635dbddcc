//! The webhook: each alert POSTed as JSON to a URL (a generic body, or a
//! chat-compatible `{"text": …}`), from a queue of its own thread so that
//! a slow or dead endpoint never holds up the monitor. A failed POST is
//! retried with backoff (a server error, 429, or no answer); the queue is
//! bounded, and when it is full the oldest alert is dropped and counted.
//! The URL's path and query (where chat services keep their secret) never
//! appear in a message: only its scheme and host do.

use super::audit::Entry;
use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Alerts waiting to be sent; past this the oldest is dropped.
pub const QUEUE: usize = 1000;

/// The body's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The audit log's line (README, "Alerts").
    Json,
    /// `{"text": "<level> <message>"}`, which chat webhooks take.
    Text,
}

#[derive(Clone, Debug)]
pub struct Options {
    pub url: crate::config::Secret,
    pub format: Format,
    /// Each attempt's limit, connection to answer.
    pub timeout: Duration,
    /// Attempts after the first; the wait doubles from `backoff`.
    pub retries: u32,
    pub backoff: Duration,
}

/// `scheme://host[:port]/…` of `url`: what a message may show of it.
pub fn redacted(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    // user:password@host keeps only the host.
    let host = host.rsplit('@').next().unwrap_or(host);
    format!("{scheme}://{host}/…")
}

/// The body of one alert.
pub fn body(e: &Entry, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string(e).unwrap_or_default(),
        Format::Text => {
            let text = format!("[{}] {}", e.level, e.message);
            serde_json::json!({ "text": text }).to_string()
        }
    }
}

#[derive(Default)]
struct Queue {
    bodies: VecDeque<String>,
    dropped: u64,
    stop: bool,
}

type Shared = Arc<(Mutex<Queue>, Condvar)>;

/// The queue and the thread that sends it. Dropping it tells the thread to
/// stop without waiting for it (an attempt under way ends at its timeout,
/// and quitting must not wait for a dead endpoint).
pub struct Webhook {
    format: Format,
    shared: Shared,
    problems: Receiver<String>,
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let (lock, wake) = &*self.shared;
        lock.lock().unwrap_or_else(|e| e.into_inner()).stop = true;
        wake.notify_all();
    }
}

impl Webhook {
    pub fn start(opts: Options) -> Webhook {
        let shared: Shared = Arc::default();
        let (report, problems) = mpsc::channel();
        let format = opts.format;
        {
            let shared = shared.clone();
            std::thread::spawn(move || send_all(&opts, &shared, &report));
        }
        Webhook {
            format,
            shared,
            problems,
        }
    }

    /// Queue each alert; returns the problems met since the last call.
    pub fn send(&mut self, entries: &[Entry]) -> Vec<String> {
        let (lock, wake) = &*self.shared;
        let mut dropped = 0;
        if !entries.is_empty() {
            let mut q = lock.lock().unwrap_or_else(|e| e.into_inner());
            for e in entries {
                if q.bodies.len() == QUEUE {
                    q.bodies.pop_front();
                    q.dropped += 1;
                }
                q.bodies.push_back(body(e, self.format));
            }
            wake.notify_all();
        }
        {
            let mut q = lock.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::swap(&mut dropped, &mut q.dropped);
        }
        let mut out: Vec<String> = self.problems.try_iter().collect();
        if dropped > 0 {
            out.push(format!(
                "webhook: {dropped} alert(s) dropped, the queue of {QUEUE} was full"
            ));
        }
        out
    }

    /// Alerts not sent yet.
    pub fn pending(&self) -> usize {
        let q = self.shared.0.lock().unwrap_or_else(|e| e.into_inner());
        q.bodies.len()
    }
}

/// The thread: send the queue's bodies in order until told to stop.
fn send_all(opts: &Options, shared: &Shared, report: &Sender<String>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(opts.timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let (lock, wake) = &**shared;
    loop {
        let body = {
            let mut q = lock.lock().unwrap_or_else(|e| e.into_inner());
            while q.bodies.is_empty() && !q.stop {
                q = wake.wait(q).unwrap_or_else(|e| e.into_inner());
            }
            match q.stop {
                true => return,
                false => q.bodies.pop_front(),
            }
        };
        let Some(body) = body else { continue };
        if let Err(problem) = deliver(&agent, opts, &body, shared) {
            let _ = report.send(problem);
        }
    }
}

/// One alert: the first attempt and the retries, waiting between them
/// (a stop cuts the wait short and gives up).
fn deliver(agent: &ureq::Agent, opts: &Options, body: &str, shared: &Shared) -> Result<(), String> {
    let shown = redacted(opts.url.expose());
    let mut wait = opts.backoff;
    let mut last = String::new();
    for attempt in 0..=opts.retries {
        if attempt > 0 {
            let (lock, wake) = &**shared;
            let q = lock.lock().unwrap_or_else(|e| e.into_inner());
            let (q, _) = wake
                .wait_timeout_while(q, wait, |q| !q.stop)
                .unwrap_or_else(|e| e.into_inner());
            if q.stop {
                return Ok(());
            }
            wait *= 2;
        }
        match post(agent, opts.url.expose(), body) {
            Ok(()) => return Ok(()),
            Err((why, retry)) => {
                last = why;
                if !retry {
                    break;
                }
            }
        }
    }
    Err(format!("webhook to {shown}: {last}"))
}

/// One POST; Err says why, and whether another attempt may do better.
fn post(agent: &ureq::Agent, url: &str, body: &str) -> Result<(), (String, bool)> {
    let sent = agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body);
    match sent {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => {
            let code = r.status().as_u16();
            Err((format!("HTTP {code}"), code >= 500 || code == 429))
        }
        // ureq's words may quote the URL: say only what kind of failure.
        Err(e) => Err((failure(&e), true)),
    }
}

/// A transport failure in words that never hold the URL.
fn failure(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "no answer in time (webhook_timeout_s)".into(),
        ureq::Error::Io(io) => format!("connection failed ({:?})", io.kind()),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => "TLS failed".into(),
        _ => "the request failed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_shown_without_its_path_query_or_password() {
        let url = "https://hooks.example.com/services/T000/B000/XXXXSECRET?token=abc";
        assert_eq!(redacted(url), "https://hooks.example.com/…");
        assert_eq!(
            redacted("http://u:pw@127.0.0.1:9/x"),
            "http://127.0.0.1:9/…"
        );
    }

    #[test]
    fn bodies() {
        use crate::alerting::rules::Level;
        let e = Entry::built_in(5, Level::Critical, "desk-a [BTC] is Liquidation");
        let text: serde_json::Value = serde_json::from_str(&body(&e, Format::Text)).unwrap();
        assert_eq!(
            text,
            serde_json::json!({"text": "[critical] desk-a [BTC] is Liquidation"})
        );
        let json: serde_json::Value = serde_json::from_str(&body(&e, Format::Json)).unwrap();
        assert_eq!(
            (json["at_ms"].as_i64(), json["level"].as_str()),
            (Some(5), Some("critical"))
        );
    }

    /// A small HTTP server on 127.0.0.1 for one test: answers each request
    /// with the next status of `statuses` (None: holds the connection and
    /// answers only when the client hangs up), and hands each request's
    /// (request line, headers, body) to the test. It stops after the last
    /// status, or when the test is gone.
    fn server(statuses: Vec<Option<u16>>) -> (String, Receiver<(String, String, String)>) {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for status in statuses {
                let Ok((stream, _)) = listener.accept() else {
                    return;
                };
                stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let (mut line, mut headers) = (String::new(), String::new());
                reader.read_line(&mut line).ok();
                let mut length = 0;
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    headers.push_str(&h);
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).ok();
                let body = String::from_utf8_lossy(&body).into_owned();
                if tx.send((line.trim().to_string(), headers, body)).is_err() {
                    return;
                }
                match status {
                    Some(code) => {
                        let answer = format!(
                            "HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        );
                        (&stream).write_all(answer.as_bytes()).ok();
                    }
                    None => held.push(stream),
                }
            }
            // Hold the unanswered connections until their client gives up
            // (or the read timeout ends it).
            for mut stream in held {
                let _ = stream.read(&mut [0u8; 64]);
            }
        });
        (
            format!("http://127.0.0.1:{port}/services/T000/SECRETPATH"),
            rx,
        )
    }

    fn opts(url: &str, format: Format, timeout_ms: u64, retries: u32) -> Options {
        Options {
            url: crate::config::Secret::new(url),
            format,
            timeout: Duration::from_millis(timeout_ms),
            retries,
            backoff: Duration::from_millis(50),
        }
    }

    fn problems(w: &mut Webhook, want: usize) -> Vec<String> {
        crate::alerting::problems_within_seconds(|| w.send(&[]), want)
    }

    fn alert(text: &str) -> Entry<'_> {
        Entry::built_in(7, crate::alerting::rules::Level::Warning, text)
    }

    const WAIT: Duration = Duration::from_secs(10);

    #[test]
    fn posts_the_body_and_retries_after_a_server_error() {
        let (url, requests) = server(vec![Some(500), Some(200)]);
        let mut w = Webhook::start(opts(&url, Format::Text, 2000, 3));
        assert!(w.send(&[alert("desk-a [BTC] is Critical")]).is_empty());
        let (first, headers, body) = requests.recv_timeout(WAIT).unwrap();
        assert_eq!(first, "POST /services/T000/SECRETPATH HTTP/1.1");
        assert!(headers
            .to_ascii_lowercase()
            .contains("content-type: application/json"));
        let sent: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            sent,
            serde_json::json!({"text": "[warning] desk-a [BTC] is Critical"})
        );
        let (_, _, again) = requests.recv_timeout(WAIT).unwrap();
        assert_eq!(again, body, "the retry sends the same alert");
        std::thread::sleep(Duration::from_millis(300));
        assert!(w.send(&[]).is_empty(), "the retry succeeded");
        assert!(requests.recv_timeout(Duration::from_millis(200)).is_err());
    }

    #[test]
    fn gives_up_after_the_retries_and_never_shows_the_secret() {
        let (url, requests) = server(vec![Some(503); 3]);
        let mut w = Webhook::start(opts(&url, Format::Json, 2000, 2));
        w.send(&[alert("x")]);
        let got = problems(&mut w, 1);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(
            got[0].starts_with("webhook to http://127.0.0.1:"),
            "{got:?}"
        );
        assert!(
            got[0].ends_with("/…: HTTP 503") && !got[0].contains("SECRET"),
            "{got:?}"
        );
        assert_eq!(
            requests.try_iter().count(),
            3,
            "the first attempt and two retries"
        );
        // A client error is not retried.
        let (url, requests) = server(vec![Some(404), Some(200)]);
        let mut w = Webhook::start(opts(&url, Format::Json, 2000, 2));
        w.send(&[alert("x")]);
        assert!(problems(&mut w, 1)[0].ends_with("HTTP 404"));
        assert_eq!(requests.try_iter().count(), 1);
    }

    #[test]
    fn an_endpoint_that_never_answers_times_out() {
        let (url, _requests) = server(vec![None]);
        let mut w = Webhook::start(opts(&url, Format::Json, 300, 0));
        w.send(&[alert("x")]);
        let got = problems(&mut w, 1);
        assert!(got[0].contains("no answer in time"), "{got:?}");
        assert!(!got[0].contains("SECRET"), "{got:?}");
    }

    #[test]
    fn a_full_queue_drops_the_oldest_and_counts() {
        // The endpoint holds the first request: everything else waits.
        let (url, requests) = server(vec![None]);
        let mut w = Webhook::start(opts(&url, Format::Json, 1500, 0));
        w.send(&[alert("first")]);
        requests.recv_timeout(WAIT).unwrap(); // in flight, out of the queue
        let texts: Vec<String> = (0..QUEUE + 5).map(|i| format!("alert {i}")).collect();
        let entries: Vec<Entry> = texts.iter().map(|t| alert(t)).collect();
        let got = w.send(&entries);
        assert_eq!(
            got,
            ["webhook: 5 alert(s) dropped, the queue of 1000 was full"]
        );
        assert_eq!(w.pending(), QUEUE);
        let q = w.shared.0.lock().unwrap();
        assert!(
            q.bodies.front().unwrap().contains("\"alert 5\""),
            "the oldest went"
        );
    }
}
