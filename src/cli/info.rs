//! `dpda info`.

/// Arguments of `dpda info`.
#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("dpda info is not built yet")
}
