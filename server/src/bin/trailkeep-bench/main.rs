//! `trailkeep-bench`: the benchmarks, a binary of its own (built with `--features bench`, never
//! part of `trailkeep`). Figures go to BENCHMARKS.md through the `make bench-*` targets.
//!
//! A benchmark appends entries, and the log refuses to delete any: so it runs only on a
//! database that holds no entries (it then marks it as a benchmark's scratch database), on one
//! it marked before (the kept, seeded databases of `bench query` and `bench export`), or when
//! told `--i-know`. Pointed at a real log by mistake, it stops before writing anything.

mod alerts;
mod bundle;
mod export;
mod investigation;
mod live;
mod options;
mod throughput;
mod timings;
mod tree;

use trailkeep::infra::config;
use trailkeep::storage;

const USAGE: &str = "\
trailkeep-bench — Trailkeep's benchmarks (figures for BENCHMARKS.md)

USAGE (DATABASE_URL: a scratch database; see the guard below):
  trailkeep-bench ingest [--events N]   ingest rate against a raw COPY
  trailkeep-bench query [--entries N] [--runs 60] [--chart-only] [--months M]
                                        query latencies on N demo entries (seeded once, kept),
                                        then the console's chart, top values, picker and count
  trailkeep-bench query [--entries N] [--months M] --top-only
                                        top values from their memo against every read counting
                                        the matches, per filter (the memos emptied first)
  trailkeep-bench live [--clients 1,100,1000] [--rate 200] [--seconds 10]
                                        live latency against raw LISTEN/NOTIFY
  trailkeep-bench export [--entries N]  CSV/NDJSON export against psql \\copy (seeded once, kept)
  trailkeep-bench bundle [--entries N]  a month archived as a bundle (to a directory, to S3 on
                                        loopback) against the streaming export (seeded once, kept)
  trailkeep-bench tree [--entries N]    Merkle tree: integration, proofs, storage
  trailkeep-bench sign-in [--burst 64] [--rounds 5]
                                        /healthz during a sign-in burst against idle; another
                                        account's sign-in while guesses queue against alone
  trailkeep-bench export-abandon [--entries 20000] [--rounds 3]
                                        an abandoned PDF export recorded, against the whole one
  trailkeep-bench alerts [--events N] [--notifications 200] [--backlog 200000]
                                        ingest with 100 rules against none, commit → webhook
                                        latency, the evaluator's catch-up rate

A benchmark writes entries that can never be deleted: it refuses a database that already holds
entries unless that database was made by a benchmark, or `--i-know` is given.
";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let i_know = args.iter().any(|a| a == "--i-know");
    let words: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--i-know")
        .collect();
    let result = match words.as_slice() {
        ["help"] | ["--help"] | ["-h"] | [] => {
            print!("{USAGE}");
            Ok(())
        }
        [name, ..]
            if !matches!(
                *name,
                "ingest"
                    | "query"
                    | "live"
                    | "export"
                    | "bundle"
                    | "tree"
                    | "sign-in"
                    | "export-abandon"
                    | "alerts"
            ) =>
        {
            Err(format!("unknown benchmark {name:?}\n\n{USAGE}"))
        }
        [name, rest @ ..] => match guard(i_know).await {
            Err(e) => Err(e),
            Ok(()) => match *name {
                "ingest" => throughput::ingest(rest).await,
                "query" => throughput::query(rest).await,
                "live" => live::live(rest).await,
                "tree" => tree::tree(rest).await,
                "bundle" => bundle::bundle(rest).await,
                "sign-in" => timings::sign_in(rest).await,
                "export-abandon" => timings::export_abandon(rest).await,
                "alerts" => alerts::alerts(rest).await,
                _ => export::export(rest).await,
            },
        },
    };
    if let Err(e) = result {
        eprintln!("trailkeep-bench: {e}");
        std::process::exit(1);
    }
}

/// Refuses a database holding a log that no benchmark made (unless `i_know`); marks an
/// empty one as a benchmark's.
async fn guard(i_know: bool) -> Result<(), String> {
    let owner = storage::connect_owner(&config::database_url().map_err(|e| e.to_string())?)
        .await
        .map_err(|e| e.to_string())?;
    let (marked, entries) = storage::scratch::inspect(&owner)
        .await
        .map_err(|e| e.to_string())?;
    if !marked && entries > 0 && !i_know {
        return Err(format!(
            "this database holds {entries} entries that no benchmark made, and a benchmark \
             appends entries that can never be deleted. Point DATABASE_URL at a scratch \
             database (make bench-* makes one), or add --i-know if you really mean this one."
        ));
    }
    if !marked {
        storage::scratch::mark(&owner)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
