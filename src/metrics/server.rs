//! The `/metrics` endpoint: a small HTTP/1.1 responder on a TCP listener.
//! A scrape is one GET and one answer, so the connection is closed after
//! each; a client that sends a head larger than 8 KiB or takes more than
//! five seconds to send it is dropped, so a stray connection costs nothing.

use crate::engine::live::Snapshot;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

const MAX_HEAD: usize = 8 * 1024;
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// What a scrape reads: the newest snapshot, and the background figures
/// the monitor has computed so far.
#[derive(Clone)]
pub struct Source {
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub analysed: super::Shared,
}

impl Source {
    pub fn new(snapshots: watch::Receiver<Arc<Snapshot>>) -> Source {
        Source {
            snapshots,
            analysed: Arc::default(),
        }
    }

    fn render(&self) -> String {
        let snap = self.snapshots.borrow().clone();
        let analysed = match self.analysed.lock() {
            Ok(a) => a.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        super::render(&snap, &analysed)
    }
}

/// A running metrics endpoint.
pub struct MetricsServer {
    pub addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl MetricsServer {
    /// Listen on `addr` and answer scrapes from `source` until stopped.
    pub async fn start(addr: SocketAddr, source: Source) -> Result<MetricsServer, String> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot serve metrics on {addr}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let (shutdown, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        if let Ok((stream, _)) = accepted {
                            tokio::spawn(answer(stream, source.clone()));
                        }
                    }
                    _ = stopped.changed() => break,
                }
            }
        });
        Ok(MetricsServer {
            addr,
            shutdown,
            task,
        })
    }

    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

/// Answer one request on `stream`.
async fn answer(mut stream: TcpStream, source: Source) {
    let Ok(Some(head)) = tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await else {
        return;
    };
    let reply = respond(&head, || source.render());
    let _ = stream.write_all(&reply).await;
    let _ = stream.shutdown().await;
}

/// The request head (up to the blank line), or None when it is too large
/// or the client left first.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 || head.len() + n > MAX_HEAD {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// The whole HTTP response to a request head; `body` renders the metrics
/// (only called for a scrape).
fn respond(head: &str, body: impl FnOnce() -> String) -> Vec<u8> {
    let mut words = head.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, content_type, text) = match (method, path) {
        ("GET" | "HEAD", "/metrics") => ("200 OK", super::exposition::CONTENT_TYPE, body()),
        ("GET" | "HEAD", "/") => (
            "200 OK",
            "text/plain; charset=utf-8",
            "margintop: the metrics are at /metrics\n".to_string(),
        ),
        ("GET" | "HEAD", _) => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "not found\n".into(),
        ),
        _ => (
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            "only GET\n".into(),
        ),
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        text.len()
    )
    .into_bytes();
    if method != "HEAD" {
        out.extend_from_slice(text.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(reply: &[u8]) -> String {
        let text = String::from_utf8_lossy(reply);
        text.lines().next().unwrap_or("").to_string()
    }

    #[test]
    fn only_a_get_of_metrics_renders_them() {
        let scrape = respond("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", || {
            "m 1\n".into()
        });
        assert_eq!(status(&scrape), "HTTP/1.1 200 OK");
        assert!(String::from_utf8_lossy(&scrape).ends_with("\r\n\r\nm 1\n"));
        let with_query = respond("GET /metrics?x=1 HTTP/1.1\r\n\r\n", || "m 1\n".into());
        assert_eq!(status(&with_query), "HTTP/1.1 200 OK");
        let never = || -> String { panic!("rendered for a request that is not a scrape") };
        assert_eq!(
            status(&respond("GET /other HTTP/1.1\r\n\r\n", never)),
            "HTTP/1.1 404 Not Found"
        );
        assert_eq!(
            status(&respond("POST /metrics HTTP/1.1\r\n\r\n", never)),
            "HTTP/1.1 405 Method Not Allowed"
        );
        assert_eq!(
            status(&respond("", never)),
            "HTTP/1.1 405 Method Not Allowed"
        );
    }

    #[test]
    fn a_head_request_gets_the_length_but_no_body() {
        let reply = respond("HEAD /metrics HTTP/1.1\r\n\r\n", || "m 1\n".into());
        let text = String::from_utf8_lossy(&reply);
        assert!(text.contains("Content-Length: 4\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }
}
