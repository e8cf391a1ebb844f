//! `dpda eval`.

/// Arguments of `dpda eval`.
#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("dpda eval is not built yet")
}
