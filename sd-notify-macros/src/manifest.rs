//! Is sd-notify-core renamed in the user's `Cargo.toml`? Then the default path
//! `::sd_notify_core` does not exist, and rustc's "unresolved" errors would not say why: the
//! attribute says it, naming the `crate = "…"` option.
//!
//! A small line scan of the manifest, not a TOML parser (no new dependency for every user):
//! it knows dependency tables (`[dependencies]`, `[dev-dependencies]`, `[target.….dependencies]`,
//! `[workspace.dependencies]`, …), their `[….dependencies.NAME]` sub-tables, inline tables
//! and dotted keys. When in doubt it finds nothing, and rustc's own error stands.

/// The package name the scan looks for.
const PACKAGE: &str = "sd-notify-core";

/// The Rust name of sd-notify-core in the crate being compiled, when the manifest knows it
/// only under another name (`sd = { package = "sd-notify-core", … }`).
pub(crate) fn renamed_core() -> Option<String> {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")?;
    let manifest = std::fs::read_to_string(std::path::Path::new(&dir).join("Cargo.toml")).ok()?;
    renamed_in(&manifest)
}

/// [`renamed_core`] for the text of a manifest.
pub(crate) fn renamed_in(manifest: &str) -> Option<String> {
    let mut renamed = None;
    // The dependency table we are in, and the dependency when it is `[….dependencies.NAME]`.
    let mut in_dependencies = false;
    let mut table_dependency: Option<String> = None;
    for line in manifest.lines() {
        let line = without_comment(line).trim();
        if let Some(header) = line.strip_prefix('[') {
            let header = header.trim_start_matches('[').trim_end_matches(']').trim();
            let parts = dotted(header);
            let at = parts.iter().rposition(|part| part.ends_with("dependencies"));
            in_dependencies = at.is_some_and(|at| at + 1 == parts.len());
            table_dependency = at.filter(|at| at + 2 == parts.len()).map(|at| parts[at + 1].clone());
            if table_dependency.as_deref() == Some(PACKAGE) {
                return None;
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else { continue };
        let key = dotted(key.trim());
        let value = value.trim();
        let renames = |value: &str| unquote(value).is_some_and(|package| package == PACKAGE);
        if let Some(dependency) = &table_dependency {
            if key.len() == 1 && key[0] == "package" && renames(value) {
                renamed.get_or_insert_with(|| rust_name(dependency));
            }
        } else if in_dependencies {
            let Some(name) = key.first() else { continue };
            let inline = key.len() == 1 && value.starts_with('{');
            let package = if inline {
                package_of_inline(value)
            } else if key.len() == 2 && key[1] == "package" {
                unquote(value)
            } else {
                None
            };
            match package {
                Some(package) if package == PACKAGE => {
                    if name == PACKAGE {
                        return None;
                    }
                    renamed.get_or_insert_with(|| rust_name(name));
                }
                None if name == PACKAGE => return None,
                _ => {}
            }
        }
    }
    renamed
}

/// The `package = "…"` entry of an inline table, `{ package = "…", path = "…" }`.
fn package_of_inline(table: &str) -> Option<String> {
    let inner = table.strip_prefix('{')?.trim_end().strip_suffix('}')?;
    split_outside_quotes(inner, ',').into_iter().find_map(|entry| {
        let (key, value) = entry.split_once('=')?;
        let key = key.trim();
        if unquote(key).as_deref().unwrap_or(key) == "package" { unquote(value) } else { None }
    })
}

/// A key or header split at its dots, each part unquoted (`target.'cfg(unix)'.dependencies`).
fn dotted(key: &str) -> Vec<String> {
    split_outside_quotes(key, '.')
        .into_iter()
        .map(|part| {
            let part = part.trim();
            unquote(part).unwrap_or_else(|| part.to_owned())
        })
        .collect()
}

fn split_outside_quotes(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quote = None;
    let mut start = 0;
    for (at, ch) in text.char_indices() {
        match (quote, ch) {
            (None, '"' | '\'') => quote = Some(ch),
            (Some(open), _) if ch == open => quote = None,
            (None, _) if ch == separator => {
                parts.push(&text[start..at]);
                start = at + ch.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// The text of a `"basic"` or `'literal'` string (no escapes: package names have none).
fn unquote(text: &str) -> Option<String> {
    let text = text.trim();
    ['"', '\''].into_iter().find_map(|quote| {
        let inner = text.strip_prefix(quote)?.strip_suffix(quote)?;
        (!inner.contains(quote)).then(|| inner.to_owned())
    })
}

/// The line up to a `#` that is not inside a string.
fn without_comment(line: &str) -> &str {
    let mut quote = None;
    for (at, ch) in line.char_indices() {
        match (quote, ch) {
            (None, '"' | '\'') => quote = Some(ch),
            (Some(open), _) if ch == open => quote = None,
            (None, '#') => return &line[..at],
            _ => {}
        }
    }
    line
}

/// How Rust code names a dependency key: `my-sd` is `my_sd`.
fn rust_name(key: &str) -> String {
    key.replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::renamed_in;

    #[test]
    fn plain_dependency_is_not_renamed() {
        assert_eq!(renamed_in("[dependencies]\nsd-notify-core = \"0.1\"\n"), None);
        assert_eq!(renamed_in("[dependencies]\nsd-notify-core = { version = \"0.1\" }\n"), None);
        assert_eq!(renamed_in("[dependencies]\nsd-notify-core.workspace = true\n"), None);
        assert_eq!(renamed_in("[dependencies.sd-notify-core]\nversion = \"0.1\"\n"), None);
        assert_eq!(
            renamed_in("[package]\nname = \"sd-notify-core\"\n[dependencies]\nlibc = \"0.2\"\n"),
            None
        );
    }

    #[test]
    fn inline_rename() {
        let manifest = "[package]\nname = \"x\"\n\n[dependencies]\nsd = { package = \"sd-notify-core\", path = \"../core\" }\n";
        assert_eq!(renamed_in(manifest).as_deref(), Some("sd"));
        let quoted = "[dependencies]\n\"my-sd\" = {version='0.1',package='sd-notify-core'} # renamed\n";
        assert_eq!(renamed_in(quoted).as_deref(), Some("my_sd"));
    }

    #[test]
    fn rename_in_a_sub_table_or_a_dotted_key() {
        let table = "[dependencies.notify]\nversion = \"0.1\"\npackage = \"sd-notify-core\"\n";
        assert_eq!(renamed_in(table).as_deref(), Some("notify"));
        let dotted = "[dev-dependencies]\nsd.package = \"sd-notify-core\"\nsd.version = \"0.1\"\n";
        assert_eq!(renamed_in(dotted).as_deref(), Some("sd"));
        let target =
            "[target.'cfg(target_os = \"linux\")'.dependencies]\nsd = { package = \"sd-notify-core\" }\n";
        assert_eq!(renamed_in(target).as_deref(), Some("sd"));
    }

    #[test]
    fn the_plain_name_anywhere_wins() {
        let both = "[dependencies]\nsd = { package = \"sd-notify-core\" }\n[dev-dependencies]\nsd-notify-core = \"0.1\"\n";
        assert_eq!(renamed_in(both), None);
    }

    #[test]
    fn other_tables_and_comments_are_not_dependencies() {
        assert_eq!(renamed_in("[package.metadata]\nsd = { package = \"sd-notify-core\" }\n"), None);
        assert_eq!(renamed_in("[dependencies]\n# sd = { package = \"sd-notify-core\" }\n"), None);
        assert_eq!(renamed_in("[dependencies]\nother = { package = \"sd-notify-core-extra\" }\n"), None);
        assert_eq!(renamed_in("[features]\nx = [\"sd-notify-core/macros\"]\n"), None);
    }
}
