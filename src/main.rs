//! `dpda`: argv → command; errors → exit code.

fn main() -> std::process::ExitCode {
    dpda::cli::main()
}
