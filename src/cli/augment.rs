//! `dpda augment`.

/// Arguments of `dpda augment`.
#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("dpda augment is not built yet")
}
