//! No file of `app` imports one that imports it back, directly or round a longer circle: the
//! check `server/tests/layers.rs` makes for the server, on the same parser.

#[path = "../../server/tests/layers/module_graph.rs"]
mod module_graph;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use module_graph::{circle, graph, imports, Module};

fn module_files() -> BTreeMap<Module, PathBuf> {
    module_graph::module_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

fn module(m: &str) -> Module {
    m.split("::").map(String::from).collect()
}

#[test]
fn files_never_import_each_other() {
    let files = module_files();
    assert!(files.len() > 20, "found only {} module files", files.len());
    if let Some(circle) = circle(&graph(&files)) {
        panic!("files import each other: {}", circle.join(" → "));
    }
}

#[test]
fn the_checker_sees_grouped_and_relative_imports() {
    let files = module_files();
    let deps = |m: &str| imports(&module(m), &files[&module(m)], &files);
    let filter = deps("filter");
    assert!(filter.contains(&module("action")), "{filter:?}");
    assert!(filter.contains(&module("model")), "{filter:?}");
    let log = deps("pages::audit::log");
    assert!(log.contains(&module("pages::audit::states")), "{log:?}");
    assert!(log.contains(&module("components")), "{log:?}");
}
