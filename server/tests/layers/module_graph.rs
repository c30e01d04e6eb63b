//! A crate's files and the files each imports, and any circle among them: shared by the layer
//! tests of `server` (`server/tests/layers.rs`) and `app` (`app/tests/layers.rs`), which include
//! this file with `#[path]`. An import is a `crate::` or `super::` path (in a `use` or in an
//! expression); it names the longest module file that is a prefix of it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path: `storage/query/mod.rs` is `["storage", "query"]`.
pub type Module = Vec<String>;
/// Each module file and the module files it imports.
pub type Graph = BTreeMap<Module, BTreeSet<Module>>;

/// Every module file under `src` by module path, except the crate roots (`lib.rs`, `main.rs`).
pub fn module_files(src: &Path) -> BTreeMap<Module, PathBuf> {
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
    let mut files = Vec::new();
    walk(src, &mut files);
    files
        .into_iter()
        .filter(|path| path != &src.join("lib.rs") && path != &src.join("main.rs"))
        .map(|path| {
            let relative = path.strip_prefix(src).unwrap().with_extension("");
            let mut module: Module = relative
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
pub fn code(path: &Path) -> String {
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
fn paths_after(text: &str, start: usize) -> Vec<Module> {
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
    fn tree(chars: &[char], i: usize, prefix: Module) -> (Vec<Module>, usize) {
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
pub fn imports(
    module: &[String],
    path: &Path,
    files: &BTreeMap<Module, PathBuf>,
) -> BTreeSet<Module> {
    let text = code(path);
    let is_mod_rs = path.file_name().is_some_and(|n| n == "mod.rs");
    let mut named: Vec<Module> = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        named.extend(paths_after(&text, at + "crate::".len()));
    }
    for (at, _) in text.match_indices("super::") {
        // `super::super::x` is read from its first `super`.
        if text[..at].ends_with("super::") {
            continue;
        }
        let mut base: Module = module.to_vec();
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

/// What each of `files` imports.
pub fn graph(files: &BTreeMap<Module, PathBuf>) -> Graph {
    files
        .iter()
        .map(|(module, path)| (module.clone(), imports(module, path, files)))
        .collect()
}

/// A circle of files that import each other (`a → b → a`), if there is one.
pub fn circle(graph: &Graph) -> Option<Vec<String>> {
    // A circle is a path back to where it started: depth-first search with colours.
    fn visit<'a>(
        node: &'a Module,
        graph: &'a Graph,
        state: &mut BTreeMap<&'a Module, bool>,
        stack: &mut Vec<&'a Module>,
    ) -> Option<Vec<String>> {
        match state.get(node) {
            Some(true) => return None,
            Some(false) => {
                let from = stack.iter().position(|n| *n == node).unwrap();
                let mut circle: Vec<String> = stack[from..].iter().map(|m| m.join("::")).collect();
                circle.push(node.join("::"));
                return Some(circle);
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
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut state, &mut Vec::new()))
}
