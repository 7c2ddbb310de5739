//! Default locations, per the XDG base directory spec.

use std::path::PathBuf;

fn xdg(var: &str, fallback: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("."));
            home.join(fallback)
        }
    }
}

/// `$XDG_DATA_HOME/minetsdb`: the database collect writes.
pub fn default_db() -> PathBuf {
    xdg("XDG_DATA_HOME", ".local/share").join("minetsdb")
}

/// `$XDG_DATA_HOME/minetsdb-demo`: the demo's own database, apart from real data.
pub fn default_demo_db() -> PathBuf {
    xdg("XDG_DATA_HOME", ".local/share").join("minetsdb-demo")
}

/// `$XDG_CONFIG_HOME/minetsdb/config.toml`: what collect reads.
pub fn default_config() -> PathBuf {
    xdg("XDG_CONFIG_HOME", ".config")
        .join("minetsdb")
        .join("config.toml")
}
