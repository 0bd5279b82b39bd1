fn main() -> std::process::ExitCode {
    citizen_idp::cli::main()
}
