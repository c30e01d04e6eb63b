#[tokio::main]
async fn main() {
    if let Err(e) = trailkeep::infra::logging::init() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(trailkeep::infra::cli::run(args).await);
}
