//! The layering of the crate, read from its sources: every `use` line and
//! every `crate::`/`super::` path in code is a dependency of its file.
//! The risk core imports nothing above it, the exchange adapters do not
//! reach into the engine, the screens or the report, and the dashboard
//! files form no import cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A source file and the module path it defines (`["ui", "view", "account"]`).
struct Source {
    file: String,
    module: Vec<String>,
    text: String,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files
        .into_iter()
        .filter_map(|path| {
            let rel = path.strip_prefix(&root).ok()?.to_str()?.to_string();
            let mut module: Vec<String> = rel
                .trim_end_matches(".rs")
                .split('/')
                .map(String::from)
                .collect();
            if matches!(
                module.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                module.pop();
            }
            let text = std::fs::read_to_string(&path).ok()?;
            Some(Source {
                file: rel,
                module,
                text,
            })
        })
        .collect()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code without comments and string literals (a doc comment naming a
/// path is not a dependency).
fn code_of(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    match c {
                        '\\' if !escaped => escaped = true,
                        '"' if !escaped => break,
                        _ => escaped = false,
                    }
                }
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    out
}

/// Every path the code names, with `use` groups expanded:
/// `use super::{a, b::{c, d}}` gives `super::a`, `super::b::c`, `super::b::d`.
fn paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let starts_word = at == 0 || !rest.as_bytes()[at - 1].is_ascii_alphanumeric();
        let after = &rest[at + 4..];
        let end = after.find(';').unwrap_or(after.len());
        if starts_word {
            let tree: String = after[..end]
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            expand("", &tree, &mut out);
        }
        rest = &after[end.min(after.len())..];
    }
    // Paths in code: `crate::engine::live::Query`, `super::view::draw(…)`,
    // and `child::f(…)` for a module the file declares.
    let children: Vec<String> = children(code).into_iter().map(|c| c + "::").collect();
    let starts = ["crate::", "super::", "self::"].map(String::from);
    for start in starts.iter().chain(&children) {
        let mut from = 0;
        while let Some(i) = code[from..].find(start) {
            let at = from + i;
            let before_ok = at == 0 || {
                let b = code.as_bytes()[at - 1];
                !(b.is_ascii_alphanumeric() || b == b'_' || b == b':')
            };
            let path: String = code[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            if before_ok {
                out.push(path.trim_end_matches(':').to_string());
            }
            from = at + start.len();
        }
    }
    out
}

/// The modules a file declares (`mod account;`).
fn children(code: &str) -> Vec<String> {
    code.lines()
        .filter_map(|l| {
            let l = l.trim().trim_start_matches("pub ");
            let name = l.strip_prefix("mod ")?.strip_suffix(';')?;
            Some(name.trim().to_string())
        })
        .collect()
}

fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
    let Some(open) = tree.find('{') else {
        out.push(format!("{prefix}{tree}"));
        return;
    };
    let head = format!("{prefix}{}", &tree[..open]);
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut depth = 0;
    let mut part = String::new();
    for c in inner.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                expand(&head, &std::mem::take(&mut part), out);
                continue;
            }
            _ => {}
        }
        part.push(c);
    }
    if !part.is_empty() {
        expand(&head, &part, out);
    }
}

/// A path as an absolute module path inside the crate (None: another crate).
fn resolve(path: &str, module: &[String], children: &[String]) -> Option<Vec<String>> {
    let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
    let (base, rest): (Vec<String>, &[&str]) = match parts.first()? {
        c if children.iter().any(|k| k == c) => (module.to_vec(), &parts[..]),
        &"crate" => (Vec::new(), &parts[1..]),
        &"self" => (module.to_vec(), &parts[1..]),
        &"super" => {
            // `super` of a mod.rs is the parent of its directory's module.
            let mut base = module.to_vec();
            let mut rest = &parts[..];
            while rest.first() == Some(&"super") {
                base.pop();
                rest = &rest[1..];
            }
            (base, rest)
        }
        _ => return None,
    };
    Some(
        base.into_iter()
            .chain(rest.iter().map(|s| s.to_string()))
            .collect(),
    )
}

/// Each file's dependencies as the longest module path of a known file.
fn graph(sources: &[Source]) -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeMap<Vec<String>, String> = sources
        .iter()
        .map(|s| (s.module.clone(), s.file.clone()))
        .collect();
    let mut deps = BTreeMap::new();
    for s in sources {
        // Unit tests sit at the end of a file, in a module of their own
        // (their `super` is the file): they are not part of the layering.
        let text = s.text.split("#[cfg(test)]").next().unwrap_or("");
        let code = code_of(text);
        let children = children(&code);
        let mut set = BTreeSet::new();
        for p in paths(&code) {
            let Some(abs) = resolve(&p, &s.module, &children) else {
                continue;
            };
            let target = (1..=abs.len())
                .rev()
                .find_map(|n| modules.get(&abs[..n]).filter(|_| n > 0));
            if let Some(t) = target.filter(|t| **t != s.file) {
                set.insert(t.clone());
            }
        }
        deps.insert(s.file.clone(), set);
    }
    deps
}

#[test]
fn the_parser_sees_groups_relative_paths_and_inline_paths() {
    let code = code_of(
        "use super::{a, b::{c, d}};\n// crate::engine in a comment\nlet x = crate::engine::live::Query; \"crate::ui\"",
    );
    let got = paths(&code);
    for want in [
        "super::a",
        "super::b::c",
        "super::b::d",
        "crate::engine::live::Query",
    ] {
        assert!(got.iter().any(|p| p == want), "{want} in {got:?}");
    }
    assert!(!got.iter().any(|p| p.contains("ui")), "{got:?}");
    let parent = code_of("mod overview;\npub use overview::rows;\nfn f() { overview::draw(); }");
    let got = paths(&parent);
    assert!(got.iter().any(|p| p == "overview::rows"), "{got:?}");
    assert!(got.iter().any(|p| p == "overview::draw"), "{got:?}");
    let module = ["ui".to_string(), "view".to_string(), "account".to_string()];
    assert_eq!(
        resolve("super::health_text", &module, &[]),
        Some(vec!["ui".into(), "view".into(), "health_text".into()])
    );
}

#[test]
fn lower_layers_import_nothing_above_them() {
    let sources = sources();
    let deps = graph(&sources);
    assert!(deps.len() > 50, "the sources were found: {}", deps.len());
    let top = |file: &str| {
        file.split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_string()
    };
    let forbidden: [(&[&str], &[&str]); 5] = [
        // The risk core: pure, no exchange, engine, screens or output.
        (
            &["model", "pricing"],
            &[
                "margin", "risk", "engine", "ui", "report", "exchange", "cli", "demo", "monitor",
                "config",
            ],
        ),
        (
            &["margin", "risk"],
            &[
                "engine", "ui", "report", "exchange", "cli", "demo", "monitor", "config",
            ],
        ),
        // Adapters turn messages into events; they know nothing above.
        (
            &["exchange"],
            &["engine", "ui", "report", "cli", "demo", "monitor"],
        ),
        // Output shapes what the core computed; it never draws or connects.
        (&["report"], &["ui", "cli", "demo", "monitor"]),
        // Alert rules, sinks and metrics serve the screens and the headless
        // commands alike, so they know neither.
        (&["alerting", "metrics"], &["ui", "cli", "demo", "monitor"]),
    ];
    let mut wrong = Vec::new();
    for (file, targets) in &deps {
        for (layers, above) in &forbidden {
            if !layers.contains(&top(file).as_str()) {
                continue;
            }
            wrong.extend(
                (targets.iter())
                    .filter(|t| above.contains(&top(t).as_str()))
                    .map(|t| format!("{file} imports {t}")),
            );
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_dashboard_files_form_no_import_cycle() {
    let sources = sources();
    let deps = graph(&sources);
    let ui: BTreeMap<&String, Vec<&String>> = deps
        .iter()
        .filter(|(f, _)| f.starts_with("ui/"))
        .map(|(f, t)| (f, t.iter().filter(|t| t.starts_with("ui/")).collect()))
        .collect();
    assert!(ui.len() >= 9, "{}", ui.len());
    // Depth-first search for a back edge.
    fn visit<'a>(
        f: &'a String,
        ui: &BTreeMap<&'a String, Vec<&'a String>>,
        path: &mut Vec<&'a String>,
        done: &mut BTreeSet<&'a String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| *p == f) {
            let mut cycle: Vec<String> = path[i..].iter().map(|s| s.to_string()).collect();
            cycle.push(f.to_string());
            return Some(cycle);
        }
        if !done.insert(f) {
            return None;
        }
        path.push(f);
        for t in ui.get(f).into_iter().flatten() {
            if let Some(c) = visit(t, ui, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for f in ui.keys() {
        if let Some(cycle) = visit(f, &ui, &mut Vec::new(), &mut done) {
            panic!("import cycle: {}", cycle.join(" → "));
        }
    }
}

#[test]
fn the_screens_take_only_the_health_verdict_from_the_report() {
    // The dashboards draw the core's typed results; the report's output
    // types are a contract for other programs, not the screens' model.
    let deps = graph(&sources());
    let wrong: Vec<String> = (deps.iter())
        .filter(|(file, _)| file.starts_with("ui/") || *file == "ui.rs")
        .flat_map(|(file, targets)| {
            (targets.iter())
                .filter(|t| t.starts_with("report") && *t != "report/health.rs")
                .map(move |t| format!("{file} imports {t}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let health = |file: &str| deps[file].contains("report/health.rs");
    assert!(health("ui/format.rs"), "the rule sees the screens' imports");
}
