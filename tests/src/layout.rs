//! The project's routes as the watch router in the workspace Cargo.toml declares them.
//! The harness routes test requests with them, and the layout test checks template.yaml and
//! functions/ against them.

use std::collections::HashMap;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    pub method: String,
    pub path: String,
    pub function: String,
}

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

pub fn read(relative: &str) -> String {
    let path = workspace_root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// `[workspace.metadata.lambda.watch.router]` of the workspace Cargo.toml, sorted.
pub fn router() -> Vec<Route> {
    let manifest: toml::Table = read("Cargo.toml").parse().expect("Cargo.toml parses");
    let router = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table()
        .expect("watch router table");
    let mut routes = Vec::new();
    for (path, targets) in router {
        for t in targets.as_array().expect("route targets are an array") {
            routes.push(Route {
                method: t["method"].as_str().expect("method").to_owned(),
                path: path.clone(),
                function: t["function"].as_str().expect("function").to_owned(),
            });
        }
    }
    routes.sort();
    routes
}

/// Matches `path` against a route pattern; returns its parameters.
fn matches(pattern: &str, path: &str) -> Option<HashMap<String, String>> {
    let pat: Vec<&str> = pattern.split('/').collect();
    let got: Vec<&str> = path.split('/').collect();
    if pat.len() != got.len() {
        return None;
    }
    let mut params = HashMap::new();
    for (p, g) in pat.iter().zip(&got) {
        match p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) if !g.is_empty() => {
                params.insert(name.to_owned(), (*g).to_owned());
            }
            Some(_) => return None,
            None if p == g => {}
            None => return None,
        }
    }
    Some(params)
}

/// The route for `method path` and its path parameters. As in the router (matchit) and API
/// Gateway, a literal segment wins over a parameter.
pub fn route(method: &str, path: &str) -> Option<(Route, HashMap<String, String>)> {
    router()
        .into_iter()
        .filter(|r| r.method.eq_ignore_ascii_case(method))
        .filter_map(|r| matches(&r.path, path).map(|p| (r, p)))
        .max_by_key(|(r, _)| r.path.split('/').filter(|s| !s.starts_with('{')).count())
}
