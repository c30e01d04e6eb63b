//! The layering `server/src/lib.rs` states, checked on the source: imports run
//! `infra → service → storage → domain` and never back, `domain` does no I/O, and no file
//! imports one that imports it back (directly or round a longer circle).

#[path = "layers/module_graph.rs"]
mod module_graph;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use module_graph::{circle, code, graph, imports, Module};

const LAYERS: [&str; 4] = ["domain", "storage", "service", "infra"];

/// Every module file of the layers, by module path (`storage/query/mod.rs` → `storage::query`).
fn module_files() -> BTreeMap<Module, PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    module_graph::module_files(&root)
        .into_iter()
        .filter(|(module, _)| LAYERS.contains(&module[0].as_str()))
        .collect()
}

fn rank(module: &[String]) -> usize {
    LAYERS.iter().position(|l| *l == module[0]).unwrap()
}

#[test]
fn imports_run_one_way_and_never_in_a_circle() {
    let files = module_files();
    assert!(files.len() > 20, "found only {} module files", files.len());
    let graph = graph(&files);

    let mut against = Vec::new();
    for (from, targets) in &graph {
        for to in targets {
            if rank(to) > rank(from) {
                against.push(format!("{} imports {}", from.join("::"), to.join("::")));
            }
        }
    }
    assert!(
        against.is_empty(),
        "imports against infra → service → storage → domain:\n{}",
        against.join("\n")
    );

    if let Some(circle) = circle(&graph) {
        panic!("files import each other: {}", circle.join(" → "));
    }
}

#[test]
fn the_checker_sees_grouped_and_relative_imports() {
    let files = module_files();
    let module = |m: &str| -> Vec<String> { m.split("::").map(String::from).collect() };
    let deps = imports(
        &module("storage::entries"),
        &files[&module("storage::entries")],
        &files,
    );
    assert!(deps.contains(&module("domain::entry::record")), "{deps:?}");
    assert!(deps.contains(&module("domain::entry::chain")), "{deps:?}");
    let deps = imports(
        &module("storage::query::pages"),
        &files[&module("storage::query::pages")],
        &files,
    );
    assert!(
        deps.contains(&module("storage::query::conditions")),
        "{deps:?}"
    );
    assert!(deps.contains(&module("storage::entries")), "{deps:?}");
}

#[test]
fn domain_does_no_io() {
    let mut checked = 0;
    for (module, path) in module_files() {
        if module[0] != "domain" {
            continue;
        }
        checked += 1;
        let text = code(&path);
        for io in [
            "sqlx",
            "tokio::",
            "PgPool",
            "std::fs",
            "std::net::TcpStream",
            "reqwest",
        ] {
            assert!(
                !text.contains(io),
                "{} uses {io}: I/O belongs in storage, service or infra",
                module.join("::")
            );
        }
    }
    assert!(checked > 0, "no domain module found to check");
}

#[test]
fn sql_lives_only_in_storage() {
    for (module, path) in module_files() {
        if module[0] == "storage" {
            continue;
        }
        let text = code(&path);
        for sql in [
            "sqlx::query",
            "query_as(",
            "query_scalar(",
            "query_as::<",
            "raw_sql(",
        ] {
            assert!(
                !text.contains(sql),
                "{} runs SQL ({sql}): SQL lives in storage, next to the type it reads or writes",
                module.join("::")
            );
        }
    }
}
