use std::path::{Path, PathBuf};

use super::job::{samples, AMD_METRICS};
use super::*;
use crate::source::Source;

const T: i64 = 1_700_000_000_000;

/// A fake sysfs root in a temporary directory.
struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new() -> Tree {
        let t = Tree {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(t.drm()).unwrap();
        t
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn drm(&self) -> PathBuf {
        self.root().join("class/drm")
    }

    /// `class/drm/<card>/device` with `uevent` for `driver` and `files`
    /// (paths relative to `device`, e.g. `hwmon/hwmon2/power1_cap`).
    fn card(&self, card: &str, driver: &str, slot: &str, files: &[(&str, &str)]) -> PathBuf {
        let dev = self.drm().join(card).join("device");
        std::fs::create_dir_all(&dev).unwrap();
        std::fs::write(
            dev.join("uevent"),
            format!("DRIVER={driver}\nPCI_CLASS=30000\nPCI_ID=1002:73BF\nPCI_SLOT_NAME={slot}\n"),
        )
        .unwrap();
        for (path, text) in files {
            let p = dev.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        dev
    }
}

/// An RX 6800 XT with every file the driver writes on a 6.x kernel.
const FULL: &[(&str, &str)] = &[
    ("product_name", "AMD Radeon RX 6800 XT\n"),
    ("vbios_version", "113-D4120100-100\n"),
    ("pp_dpm_sclk", "0: 500Mhz\n1: 2250Mhz *\n2: 2310Mhz\n"),
    (
        "pp_dpm_mclk",
        "0: 96Mhz\n1: 456Mhz\n2: 673Mhz\n3: 1000Mhz *\n",
    ),
    ("mem_info_vram_used", "5368709120\n"),
    ("mem_info_vram_total", "17163091968\n"),
    ("gpu_busy_percent", "99\n"),
    ("mem_busy_percent", "47\n"),
    ("hwmon/hwmon3/power1_average", "231470000\n"),
    ("hwmon/hwmon3/power1_cap", "250000000\n"),
    ("hwmon/hwmon3/power1_cap_default", "255000000\n"),
    ("hwmon/hwmon3/power1_cap_min", "0\n"),
    ("hwmon/hwmon3/power1_cap_max", "293000000\n"),
    ("hwmon/hwmon3/temp1_input", "61000\n"),
    ("hwmon/hwmon3/temp1_label", "edge\n"),
    ("hwmon/hwmon3/temp2_input", "78500\n"),
    ("hwmon/hwmon3/temp2_label", "junction\n"),
    ("hwmon/hwmon3/temp3_input", "84000\n"),
    ("hwmon/hwmon3/temp3_label", "mem\n"),
    ("hwmon/hwmon3/fan1_input", "1530\n"),
    ("hwmon/hwmon3/pwm1", "102\n"),
];

fn parse(s: &str) -> f64 {
    s.parse().unwrap()
}

fn rows(got: &crate::source::Collection) -> Vec<(String, f64)> {
    got.samples
        .iter()
        .map(|(l, s)| (l.to_string(), s.v))
        .collect()
}

#[test]
fn full_card_every_series_named_labelled_and_scaled() {
    let tree = Tree::new();
    tree.card("card0", "amdgpu", "0000:03:00.0", FULL);
    let mut job = AmdJob::new("rig1", tree.root());
    let got = job.collect(T).unwrap();
    assert!(
        got.failures.is_empty() && got.warnings.is_empty(),
        "{got:?}"
    );
    let l =
        r#"card="card0", instance="rig1", name="AMD Radeon RX 6800 XT", pci_bus_id="0000:03:00.0""#;
    let want: Vec<(String, f64)> = [
        (
            format!(r#"amdgpu_gpu_info{{{l}, vbios_version="113-D4120100-100"}}"#),
            1.0,
        ),
        (format!("amdgpu_power_draw_watts{{{l}}}"), parse("231.47")),
        (format!("amdgpu_power_limit_watts{{{l}}}"), 250.0),
        (format!("amdgpu_power_default_limit_watts{{{l}}}"), 255.0),
        (format!("amdgpu_power_min_limit_watts{{{l}}}"), 0.0),
        (format!("amdgpu_power_max_limit_watts{{{l}}}"), 293.0),
        (
            format!(r#"amdgpu_temperature_celsius{{{l}, sensor="edge"}}"#),
            61.0,
        ),
        (
            format!(r#"amdgpu_temperature_celsius{{{l}, sensor="junction"}}"#),
            78.5,
        ),
        (
            format!(r#"amdgpu_temperature_celsius{{{l}, sensor="mem"}}"#),
            84.0,
        ),
        (format!("amdgpu_fan_speed_rpm{{{l}}}"), 1530.0),
        (format!("amdgpu_fan_pwm_ratio{{{l}}}"), 102.0 / 255.0),
        (format!("amdgpu_clocks_current_sclk_hz{{{l}}}"), 2.25e9),
        (format!("amdgpu_clocks_current_mclk_hz{{{l}}}"), 1e9),
        (format!("amdgpu_memory_used_bytes{{{l}}}"), 5368709120.0),
        (format!("amdgpu_memory_total_bytes{{{l}}}"), 17163091968.0),
        (
            format!("amdgpu_utilization_gpu_ratio{{{l}}}"),
            parse("0.99"),
        ),
        (
            format!("amdgpu_utilization_memory_ratio{{{l}}}"),
            parse("0.47"),
        ),
    ]
    .into_iter()
    .collect();
    let got_rows = rows(&got);
    assert_eq!(got_rows.len(), want.len(), "{got_rows:#?}");
    for (g, w) in got_rows.iter().zip(&want) {
        assert_eq!(g.0, w.0);
        assert_eq!(g.1.to_bits(), w.1.to_bits(), "{}: {} != {}", g.0, g.1, w.1);
    }
    assert!(got.samples.iter().all(|(_, s)| s.t == T));
    // Every series has metadata, and only those.
    let md: Vec<&str> = got.metadata.iter().map(|(n, _)| n.as_str()).collect();
    let names: Vec<&str> = AMD_METRICS.iter().map(|(n, _)| *n).collect();
    assert_eq!(md, names);
    for (labels, _) in &got.samples {
        assert!(names.contains(&labels.metric_name()), "{labels}");
    }
}

/// A card with nothing but its uevent: the info series only, no zeros.
#[test]
fn missing_files_yield_no_sample() {
    let tree = Tree::new();
    tree.card("card0", "amdgpu", "0000:03:00.0", &[]);
    let got = AmdJob::new("rig1", tree.root()).collect(T).unwrap();
    assert!(
        got.failures.is_empty() && got.warnings.is_empty(),
        "{got:?}"
    );
    assert_eq!(
        rows(&got),
        [(
            r#"amdgpu_gpu_info{card="card0", instance="rig1", pci_bus_id="0000:03:00.0"}"#
                .to_string(),
            1.0
        )]
    );

    // Each file alone removes exactly its own series.
    for (i, (file, _)) in FULL.iter().enumerate() {
        let tree = Tree::new();
        let files: Vec<_> = FULL
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, f)| *f)
            .collect();
        tree.card("card0", "amdgpu", "0000:03:00.0", &files);
        let got = AmdJob::new("rig1", tree.root()).collect(T).unwrap();
        assert!(got.warnings.is_empty(), "{file}: {:?}", got.warnings);
        let n = got.samples.len();
        let want = match *file {
            // Labels and the info series, not samples of their own.
            "product_name" | "vbios_version" => 17,
            // A sensor without its label is still read, named temp<N>.
            f if f.ends_with("_label") => 17,
            _ => 16,
        };
        assert_eq!(n, want, "without {file}: {:#?}", rows(&got));
        if file.ends_with("temp2_label") {
            assert!(rows(&got)
                .iter()
                .any(|(l, _)| l.contains(r#"sensor="temp2""#)));
        }
    }
}

/// Newer kernels name the draw `power1_input` on some cards.
#[test]
fn power_input_when_no_average() {
    let tree = Tree::new();
    tree.card(
        "card0",
        "amdgpu",
        "0000:03:00.0",
        &[("hwmon/hwmon0/power1_input", "98000000\n")],
    );
    let got = AmdJob::new("rig1", tree.root()).collect(T).unwrap();
    let power: Vec<_> = rows(&got)
        .into_iter()
        .filter(|(l, _)| l.starts_with("amdgpu_power_draw_watts"))
        .collect();
    assert_eq!(power.len(), 1);
    assert_eq!(power[0].1, 98.0);
}

/// Malformed contents: no sample, a warning naming the file, and every
/// other value still read.
#[test]
fn malformed_files_are_warnings_naming_the_file() {
    let tree = Tree::new();
    let mut files = FULL.to_vec();
    let bad = [
        ("hwmon/hwmon3/power1_average", "lots\n"),
        ("hwmon/hwmon3/temp2_input", "-\n"),
        ("pp_dpm_sclk", "0: 500Mhz\n1: fastMhz *\n"),
        ("gpu_busy_percent", "-1\n"),
    ];
    for (path, text) in bad {
        files.retain(|(p, _)| *p != path);
        files.push((path, text));
    }
    let dev = tree.card("card0", "amdgpu", "0000:03:00.0", &files);
    let got = AmdJob::new("rig1", tree.root()).collect(T).unwrap();
    assert!(got.failures.is_empty(), "{:?}", got.failures);
    assert_eq!(got.warnings.len(), bad.len(), "{:?}", got.warnings);
    for (path, text) in bad {
        let w = got
            .warnings
            .iter()
            .find(|w| w.starts_with(&dev.join(path).display().to_string()))
            .unwrap_or_else(|| panic!("no warning for {path}: {:?}", got.warnings));
        assert!(w.contains(text.lines().last().unwrap().trim()), "{w}");
        assert!(!w.contains('\n'), "{w}");
    }
    assert_eq!(got.samples.len(), 17 - bad.len());
}

/// The selected level is the `*` line; none marked is no sample (and no
/// warning); the deep-sleep `S:` line parses like any other.
#[test]
fn dpm_tables() {
    let tree = Tree::new();
    tree.card(
        "card0",
        "amdgpu",
        "0000:03:00.0",
        &[
            ("pp_dpm_sclk", "S: 19Mhz *\n0: 500Mhz\n1: 2250Mhz\n"),
            ("pp_dpm_mclk", "0: 96Mhz\n1: 1000Mhz\n"),
        ],
    );
    let got = AmdJob::new("rig1", tree.root()).collect(T).unwrap();
    assert!(got.warnings.is_empty(), "{:?}", got.warnings);
    let r = rows(&got);
    assert!(r
        .iter()
        .any(|(l, v)| l.starts_with("amdgpu_clocks_current_sclk_hz") && *v == 19e6));
    assert!(!r
        .iter()
        .any(|(l, _)| l.starts_with("amdgpu_clocks_current_mclk_hz")));
}

/// Connectors, render nodes and other drivers' cards are not amdgpu cards;
/// cards come out in number order (card10 after card2).
#[test]
fn only_amdgpu_cards_in_number_order() {
    let tree = Tree::new();
    tree.card("card10", "amdgpu", "0000:0c:00.0", &[]);
    tree.card("card2", "amdgpu", "0000:05:00.0", &[]);
    tree.card("card1", "i915", "0000:00:02.0", &[]);
    tree.card("card3", "nvidia", "0000:06:00.0", &[]);
    std::fs::create_dir_all(tree.drm().join("card2-DP-1")).unwrap();
    std::fs::create_dir_all(tree.drm().join("renderD128")).unwrap();
    std::fs::write(tree.drm().join("version"), "drm 1.1.0 20060810\n").unwrap();
    let found = cards(tree.root()).unwrap();
    let names: Vec<_> = found
        .iter()
        .map(|c| (c.name.as_str(), c.pci_bus_id.as_str()))
        .collect();
    assert_eq!(
        names,
        [("card2", "0000:05:00.0"), ("card10", "0000:0c:00.0")]
    );
}

#[test]
fn no_amdgpu_card_is_unavailable() {
    let tree = Tree::new();
    tree.card("card0", "nvidia", "0000:01:00.0", &[]);
    let e = AmdJob::new("rig1", tree.root()).collect(T).unwrap_err();
    assert!(e.to_string().contains("no amdgpu card under"), "{e}");
    assert!(e.to_string().contains("[amd]"), "{e}");
    // No DRM at all (a headless box without GPU drivers): the same.
    let empty = tempfile::tempdir().unwrap();
    assert!(AmdJob::new("rig1", empty.path()).collect(T).is_err());
}

/// A card seen before and gone now is a failure naming it, every time
/// until it is back; the other cards are still read.
#[test]
fn vanished_card_is_a_failure() {
    let tree = Tree::new();
    tree.card("card0", "amdgpu", "0000:03:00.0", FULL);
    tree.card("card1", "amdgpu", "0000:04:00.0", FULL);
    let mut job = AmdJob::new("rig1", tree.root());
    assert_eq!(job.collect(T).unwrap().samples.len(), 2 * 17);
    std::fs::remove_dir_all(tree.drm().join("card1")).unwrap();
    for _ in 0..2 {
        let got = job.collect(T).unwrap();
        assert_eq!(
            got.failures,
            ["amdgpu card1 (0000:04:00.0) vanished: no longer listed"]
        );
        assert_eq!(got.samples.len(), 17);
    }
    // All gone: failures, not "unavailable" (there were cards here).
    std::fs::remove_dir_all(tree.drm().join("card0")).unwrap();
    let got = job.collect(T).unwrap();
    assert_eq!(got.failures.len(), 2);
    // Back again: read, no failure.
    tree.card("card1", "amdgpu", "0000:04:00.0", FULL);
    tree.card("card0", "amdgpu", "0000:03:00.0", FULL);
    let got = job.collect(T).unwrap();
    assert!(got.failures.is_empty(), "{:?}", got.failures);
}

/// A card whose directory goes away between the listing and the read.
#[test]
fn card_gone_while_read_is_vanished() {
    let tree = Tree::new();
    let dev = tree.card("card0", "amdgpu", "0000:03:00.0", FULL);
    let card = cards(tree.root()).unwrap().remove(0);
    std::fs::remove_dir_all(&dev).unwrap();
    let e = read_card(&card, &mut Vec::new()).unwrap_err();
    assert!(matches!(e, AmdError::Vanished { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("amdgpu card0 (0000:03:00.0) vanished: "),
        "{e}"
    );
}

/// A product name that cannot be a label value is dropped with its
/// series, not a panic.
#[test]
fn conversion_never_panics_on_card_text() {
    let card = Card {
        name: "card0".into(),
        device: PathBuf::from("/nonexistent"),
        pci_bus_id: "0000:03:00.0".into(),
    };
    let r = CardReading {
        name: Some("\u{0}\u{fffd} odd".into()),
        temperatures_mc: vec![("edge".into(), -5_250)],
        ..CardReading::default()
    };
    let got = samples(&card, &r, "rig1");
    for (l, v) in &got {
        if l.metric_name() == "amdgpu_temperature_celsius" {
            assert_eq!(*v, -5.25);
        }
    }
}
