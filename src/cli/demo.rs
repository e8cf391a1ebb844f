//! `dpda demo` (and `dpda` with no arguments until the workbench exists).

/// Arguments of `dpda demo`.
#[derive(clap::Args, Debug, Default)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("dpda demo is not built yet")
}
