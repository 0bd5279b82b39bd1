//! `citizen-idp serve` (the default command): build the application and run it until
//! SIGINT or SIGTERM.

use std::io::Write;
use std::sync::Arc;

use clap::Args;

use crate::clock::Clock;
use crate::config::Settings;
use crate::startup::{self, StartupError};

#[derive(Args, Default)]
pub struct ServeArgs {
    /// Listen address, overriding server.listen.
    #[arg(long, value_name = "HOST:PORT")]
    listen: Option<String>,
}

pub async fn run(
    mut settings: Settings,
    args: ServeArgs,
    clock: Arc<dyn Clock>,
) -> Result<(), StartupError> {
    if let Some(listen) = args.listen {
        settings.server.listen = listen;
    }
    let app = startup::build(settings, clock).await?;
    let issuer = app.issuer().to_owned();
    tracing::info!(%issuer, "citizen-idp is listening");
    let mut banner = format!(
        "citizen-idp is listening on {issuer}\n  discovery: {issuer}/.well-known/openid-configuration\n"
    );
    if app.demo_enabled {
        banner.push_str(&format!("  demo:      {issuer}/demo\n"));
    }
    // A server must outlive whoever started it: a closed stdout (`println!` would
    // panic on it) is ignored.
    let mut stdout = std::io::stdout();
    let _ = stdout
        .write_all(banner.as_bytes())
        .and_then(|()| stdout.flush());
    app.run_until_stopped()
        .await
        .map_err(|e| StartupError::Other(e.to_string()))
}
