//! `margintop demo-server`: the demo exchange on its own, for another
//! terminal's `margintop`, `check` or `record`.

use margintop::demo::server::{self, DemoOptions};
use std::net::SocketAddr;

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1:8765")]
    pub listen: SocketAddr,
    /// Seed of the simulated market.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Start a market crash this many seconds after start.
    #[arg(long, value_name = "S")]
    pub crash_after_s: Option<u64>,
}

pub fn run(args: DemoArgs) -> Result<(), String> {
    if !args.listen.ip().is_loopback() {
        return Err(format!(
            "the demo exchange listens on loopback only, not {}",
            args.listen
        ));
    }
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let opts = DemoOptions { seed: args.seed, ..DemoOptions::default() };
        let demo = server::start(args.listen, opts).await.map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        eprintln!("margintop demo exchange on {} (Ctrl-C to stop). Config for it:", demo.url());
        eprintln!("  [[accounts]]\n  label = \"demo\"\n  url = \"{}\"\n  client_id_env = \"DEMO_ID\"      # export DEMO_ID=demo\n  client_secret_env = \"DEMO_SECRET\"  # export DEMO_SECRET=demo\n  subaccounts = true", demo.url());
        if let Some(s) = args.crash_after_s {
            tokio::time::sleep(std::time::Duration::from_secs(s)).await;
            demo.crash();
            eprintln!("margintop demo exchange: crash started");
        }
        let _ = tokio::signal::ctrl_c().await;
        demo.stop();
        Ok(())
    })
}
