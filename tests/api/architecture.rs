//! The structure of the crate, guarded: reads every `crate::…` path in `src/` and fails
//! when a module imports a layer above its own, when top-level modules import each
//! other in a circle, when a crate reserved to one layer (diesel, redis, actix-web)
//! is used outside it, or when one of the [`FORBIDDEN`] imports is made. The layers and
//! the reasons are in docs/ARCHITECTURE.md.
//!
//! Imports that break a rule today and are being removed are listed in [`KNOWN_DEBT`],
//! each with its reason. The list must match exactly: a new upward import fails, and
//! so does a debt paid without being struck off, so the list can only shrink.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom first. A module may import its own layer and those below it;
/// within a layer, imports must not form a cycle.
const LAYERS: &[(&str, &[&str])] = &[
    ("domain", &["domain"]),
    (
        "foundations",
        &[
            "cache",
            "clock",
            "outbound",
            "outbox",
            "server_secret",
            "storage",
            "store",
        ],
    ),
    ("settings", &["config"]),
    (
        "services",
        &[
            "audit",
            "authn",
            "consent",
            "federation",
            "metrics",
            "notify",
            "officers",
            "protocol",
            "registration",
            "registry",
            "telemetry",
            "tokens",
        ],
    ),
    ("state", &["state"]),
    ("web", &["http"]),
    ("edges", &["client_admin", "oidc", "pages"]),
    ("front door", &["cli", "startup"]),
];

/// Upward imports still to remove: (from, to, why it is still there).
const KNOWN_DEBT: &[(&str, &str, &str)] = &[];

/// Imports the layers allow but the design does not: (from, to, why).
const FORBIDDEN: &[(&str, &str, &str)] = &[(
    "cli",
    "storage",
    "the command line calls the services, as the HTTP side does",
)];

/// Crates only one group of modules may name.
const RESERVED_CRATES: &[(&str, &[&str])] = &[
    ("diesel", &["storage"]),
    ("redis", &["store"]),
    ("josekit", &["tokens"]),
    ("lettre", &["notify"]),
    (
        "actix_web",
        &["http", "oidc", "pages", "client_admin", "startup"],
    ),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

/// One source file: its top-level module and its text.
struct Source {
    path: String,
    module: String,
    text: String,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect(&root, &mut files);
    files
        .into_iter()
        .filter_map(|path| {
            let relative = path
                .strip_prefix(&root)
                .ok()?
                .to_string_lossy()
                .into_owned();
            let first = relative
                .split('/')
                .next()?
                .trim_end_matches(".rs")
                .to_owned();
            let text = std::fs::read_to_string(&path).ok()?;
            Some(Source {
                path: relative,
                module: first,
                text,
            })
        })
        .collect()
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The code of a line, without its comment (doc links name paths without importing).
fn code(line: &str) -> &str {
    line.find("//").map_or(line, |at| &line[..at])
}

/// The identifiers that follow `prefix` in `code`, where `prefix` starts a path (not
/// preceded by `::` or a word character).
fn paths_after<'a>(code: &'a str, prefix: &str) -> Vec<&'a str> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find(prefix) {
        let start = from + at;
        let before = code[..start].chars().next_back();
        let starts_path = !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
        let rest = &code[start + prefix.len()..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if starts_path {
            found.push(&rest[..end]);
        }
        from = start + prefix.len();
    }
    found
}

/// Which top-level module imports which, with the first place each import is made.
fn module_graph(sources: &[Source]) -> BTreeMap<(String, String), String> {
    let mut edges = BTreeMap::new();
    for source in sources {
        for (number, line) in source.text.lines().enumerate() {
            for target in paths_after(code(line), "crate::") {
                if target != source.module && layer_of(target).is_some() {
                    edges
                        .entry((source.module.clone(), target.to_owned()))
                        .or_insert_with(|| format!("src/{}:{}", source.path, number + 1));
                }
            }
        }
    }
    edges
}

/// Every broken rule, as a sentence.
fn violations(sources: &[Source]) -> Vec<String> {
    let mut found = Vec::new();
    for source in sources {
        if layer_of(&source.module).is_none() && !["lib", "main"].contains(&source.module.as_str())
        {
            found.push(format!(
                "src/{}: module `{}` has no layer in LAYERS",
                source.path, source.module
            ));
        }
    }
    let edges = module_graph(sources);
    let debt: BTreeSet<(&str, &str)> = KNOWN_DEBT.iter().map(|(a, b, _)| (*a, *b)).collect();
    let mut upward = BTreeSet::new();
    for ((from, to), place) in &edges {
        let (Some(from_layer), Some(to_layer)) = (layer_of(from), layer_of(to)) else {
            continue;
        };
        if to_layer > from_layer || (from == "domain" && to != "domain") {
            upward.insert((from.as_str(), to.as_str()));
            if !debt.contains(&(from.as_str(), to.as_str())) {
                found.push(format!(
                    "{place}: `{from}` ({}) imports `{to}` ({}), a layer above it",
                    LAYERS[from_layer].0, LAYERS[to_layer].0
                ));
            }
        }
    }
    for (from, to, why) in FORBIDDEN {
        if let Some(place) = edges.get(&((*from).to_owned(), (*to).to_owned())) {
            found.push(format!("{place}: `{from}` imports `{to}`: {why}"));
        }
    }
    for (from, to, _) in KNOWN_DEBT {
        if !upward.contains(&(*from, *to)) {
            found.push(format!(
                "`{from}` no longer imports `{to}`: strike it off KNOWN_DEBT"
            ));
        }
    }
    // Cycles, among the imports that are not known debt.
    let graph: BTreeMap<&str, BTreeSet<&str>> = edges
        .keys()
        .filter(|(a, b)| !debt.contains(&(a.as_str(), b.as_str())))
        .fold(BTreeMap::new(), |mut graph, (a, b)| {
            graph.entry(a.as_str()).or_default().insert(b.as_str());
            graph
        });
    for cycle in cycles(&graph) {
        found.push(format!("modules import each other: {}", cycle.join(" → ")));
    }
    for source in sources {
        for (number, line) in source.text.lines().enumerate() {
            let code = code(line);
            for (krate, owners) in RESERVED_CRATES {
                let named = !paths_after(code, &format!("{krate}::")).is_empty()
                    || code.trim_start().starts_with(&format!("use {krate};"));
                if named && !owners.contains(&source.module.as_str()) {
                    found.push(format!(
                        "src/{}:{}: `{}` uses {krate}, which only {} may",
                        source.path,
                        number + 1,
                        source.module,
                        owners.join(", ")
                    ));
                }
            }
        }
    }
    found
}

/// One cycle through each strongly connected group of more than one module.
fn cycles<'a>(graph: &BTreeMap<&'a str, BTreeSet<&'a str>>) -> Vec<Vec<&'a str>> {
    let mut found = Vec::new();
    let mut reported: BTreeSet<&str> = BTreeSet::new();
    for &start in graph.keys() {
        if reported.contains(start) {
            continue;
        }
        // Depth-first search for a path from `start` back to itself.
        let mut stack = vec![(start, vec![start])];
        let mut seen = BTreeSet::new();
        while let Some((node, path)) = stack.pop() {
            for &next in graph.get(node).into_iter().flatten() {
                if next == start {
                    let mut cycle = path.clone();
                    cycle.push(start);
                    reported.extend(path.iter().copied());
                    found.push(cycle);
                    stack.clear();
                    break;
                }
                if seen.insert(next) {
                    let mut longer = path.clone();
                    longer.push(next);
                    stack.push((next, longer));
                }
            }
        }
    }
    found
}

#[test]
fn every_module_imports_only_its_own_layer_and_those_below() {
    let found = violations(&sources());
    assert!(
        found.is_empty(),
        "the structure rules of docs/ARCHITECTURE.md are broken:\n{}",
        found.join("\n")
    );
}

fn planted(path: &str, text: &str) -> Source {
    Source {
        path: path.to_owned(),
        module: path
            .split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_owned(),
        text: text.to_owned(),
    }
}

/// The guard itself: the real sources plus one planted file must fail, each for the
/// rule the plant breaks.
#[test]
fn the_guard_catches_a_planted_upward_import_a_cycle_and_a_reserved_crate() {
    let with = |plant: Source| {
        let mut sources = sources();
        sources.push(plant);
        violations(&sources)
    };

    let upward = with(planted(
        "tokens/planted.rs",
        "use crate::pages::login::login_get;\n",
    ));
    assert!(
        upward
            .iter()
            .any(|v| v.contains("`tokens` (services) imports `pages` (edges)")),
        "{upward:?}"
    );

    let from_domain = with(planted("domain/planted.rs", "use crate::clock::Clock;\n"));
    assert!(
        from_domain.iter().any(|v| v.contains("`domain`")),
        "{from_domain:?}"
    );

    // audit already imports storage-level code; a service importing audit that audit
    // imports back is a cycle within one layer.
    let cycle = with(planted("audit/planted.rs", "use crate::consent::grant;\n"));
    assert!(
        cycle
            .iter()
            .any(|v| v.starts_with("modules import each other")),
        "{cycle:?}"
    );

    let reserved = with(planted(
        "tokens/planted.rs",
        "fn f(c: &mut diesel::PgConnection) {}\n",
    ));
    assert!(
        reserved
            .iter()
            .any(|v| v.contains("uses diesel, which only storage may")),
        "{reserved:?}"
    );

    // A path in a comment or a doc link imports nothing.
    let comment = with(planted(
        "tokens/planted.rs",
        "/// See [`crate::pages::login`].\nfn f() {} // crate::oidc::token\n",
    ));
    assert!(comment.is_empty(), "{comment:?}");
}

/// The command line reaches the database only through the services.
#[test]
fn the_guard_catches_storage_named_by_the_command_line() {
    let mut sources = sources();
    sources.push(planted("cli/planted.rs", "use crate::storage::citizens;\n"));
    let found = violations(&sources);
    assert!(
        found
            .iter()
            .any(|v| v.contains("`cli` imports `storage`: the command line calls the services")),
        "{found:?}"
    );
}
