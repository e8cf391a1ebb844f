//! `dpda corpus …`.

#[derive(clap::Subcommand, Debug)]
pub enum CorpusCommand {
    /// Write the demo corpus in the ASVspoof 2019 LA layout (FLAC + protocols).
    Export(ExportArgs),
}

/// Arguments of `dpda corpus export`.
#[derive(clap::Args, Debug)]
pub struct ExportArgs {}

pub fn run(_cmd: CorpusCommand) -> anyhow::Result<()> {
    anyhow::bail!("dpda corpus is not built yet")
}
