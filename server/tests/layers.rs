//! The layering `server/src/lib.rs` states, checked on the source: imports run
//! `infra → service → storage → domain` and never back, `domain` does no I/O, and no file
//! imports one that imports it back (directly or round a longer circle).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LAYERS: [&str; 4] = ["domain", "storage", "service", "infra"];

/// Every module file of the library, by module path (`storage/query/mod.rs` → `storage::query`).
fn module_files() -> BTreeMap<Vec<String>, PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for layer in LAYERS {
        walk(&root.join(layer), &mut files);
    }
    files
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(&root).unwrap().with_extension("");
            let mut module: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if module.last().is_some_and(|m| m == "mod") {
                module.pop();
            }
            (module, path)
        })
        .collect()
}

/// The source without comments and without its `#[cfg(test)]` module.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => &text[..],
    };
    text.lines()
        .map(|line| match line.find("//") {
            // `//` inside a string (a URL, say) is not a comment; good enough for this source.
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path a use or expression names from `start` (after `crate::` or `super::`), with
/// `{a, b::{c, d}}` groups expanded.
fn paths_after(text: &str, start: usize) -> Vec<Vec<String>> {
    fn ident(chars: &[char], mut i: usize) -> (String, usize) {
        let begin = i;
        while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
            i += 1;
        }
        (chars[begin..i].iter().collect(), i)
    }
    fn skip_space(chars: &[char], mut i: usize) -> usize {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        i
    }
    /// Parses `seg::seg::{…}` from `i`; returns the paths and where it stopped.
    fn tree(chars: &[char], i: usize, prefix: Vec<String>) -> (Vec<Vec<String>>, usize) {
        let mut path = prefix;
        let mut i = skip_space(chars, i);
        loop {
            if i < chars.len() && chars[i] == '{' {
                let mut out = Vec::new();
                i += 1;
                loop {
                    i = skip_space(chars, i);
                    if i >= chars.len() || chars[i] == '}' {
                        return (out, i + 1);
                    }
                    let (mut paths, next) = tree(chars, i, path.clone());
                    out.append(&mut paths);
                    i = skip_space(chars, next);
                    // `as name`, then `,` or `}`
                    while i < chars.len() && chars[i] != ',' && chars[i] != '}' {
                        i += 1;
                    }
                    if i < chars.len() && chars[i] == ',' {
                        i += 1;
                    }
                }
            }
            let (name, next) = ident(chars, i);
            if name.is_empty() {
                return (vec![path], next);
            }
            if name != "self" {
                path.push(name);
            }
            i = next;
            if chars.get(i) == Some(&':') && chars.get(i + 1) == Some(&':') {
                i += 2;
            } else {
                return (vec![path], i);
            }
        }
    }
    let chars: Vec<char> = text[start..].chars().collect();
    tree(&chars, 0, Vec::new()).0
}

/// The module files `module` (at `path`) imports.
fn imports(
    module: &[String],
    path: &Path,
    files: &BTreeMap<Vec<String>, PathBuf>,
) -> BTreeSet<Vec<String>> {
    let text = code(path);
    let is_mod_rs = path.file_name().is_some_and(|n| n == "mod.rs");
    let mut named: Vec<Vec<String>> = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        named.extend(paths_after(&text, at + "crate::".len()));
    }
    for (at, _) in text.match_indices("super::") {
        // `super::super::x` is read from its first `super`.
        if text[..at].ends_with("super::") {
            continue;
        }
        let mut base: Vec<String> = module.to_vec();
        if !is_mod_rs {
            base.pop();
        }
        let mut rest = at + "super::".len();
        while text[rest..].starts_with("super::") {
            base.pop();
            rest += "super::".len();
        }
        for tail in paths_after(&text, rest) {
            named.push(base.iter().cloned().chain(tail).collect());
        }
    }
    named
        .into_iter()
        .filter_map(|p| {
            // The longest prefix that is a module file: `storage::query::page` is
            // `storage/query/mod.rs`, which re-exports it.
            (1..=p.len())
                .rev()
                .map(|n| p[..n].to_vec())
                .find(|prefix| files.contains_key(prefix))
        })
        .filter(|target| target.as_slice() != module)
        .collect()
}

fn rank(module: &[String]) -> usize {
    LAYERS.iter().position(|l| *l == module[0]).unwrap()
}

#[test]
fn imports_run_one_way_and_never_in_a_circle() {
    let files = module_files();
    assert!(files.len() > 20, "found only {} module files", files.len());
    let graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = files
        .iter()
        .map(|(module, path)| (module.clone(), imports(module, path, &files)))
        .collect();

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

    // A circle is a path back to where it started: depth-first search with colours.
    fn visit<'a>(
        node: &'a Vec<String>,
        graph: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<&'a Vec<String>, bool>,
        stack: &mut Vec<&'a Vec<String>>,
    ) -> Option<Vec<String>> {
        match state.get(node) {
            Some(true) => return None,
            Some(false) => {
                let from = stack.iter().position(|n| *n == node).unwrap();
                return Some(stack[from..].iter().map(|m| m.join("::")).collect());
            }
            None => {}
        }
        state.insert(node, false);
        stack.push(node);
        for next in &graph[node] {
            if let Some(circle) = visit(next, graph, state, stack) {
                return Some(circle);
            }
        }
        stack.pop();
        state.insert(node, true);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if let Some(circle) = visit(node, &graph, &mut state, &mut Vec::new()) {
            panic!("files import each other: {}", circle.join(" → "));
        }
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
    assert!(deps.contains(&module("domain::entry")), "{deps:?}");
    assert!(deps.contains(&module("domain::chain")), "{deps:?}");
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
