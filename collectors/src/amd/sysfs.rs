//! Finding amdgpu cards under a sysfs root and reading one card's files.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::AmdError;

/// An amdgpu card: `card<N>` of `<sysfs>/class/drm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// `card0`, `card1`...
    pub name: String,
    /// `<sysfs>/class/drm/card<N>/device`.
    pub device: PathBuf,
    /// `PCI_SLOT_NAME` of `device/uevent`, e.g. `0000:03:00.0`.
    pub pci_bus_id: String,
}

/// One card's reading, in the driver's units; `None` where the file is
/// missing or unreadable.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CardReading {
    /// `device/product_name`, when present and not empty.
    pub name: Option<String>,
    /// `device/vbios_version`.
    pub vbios_version: Option<String>,
    /// `power1_average` (or `power1_input` on kernels that renamed it), µW.
    pub power_uw: Option<u64>,
    /// `power1_cap`, µW.
    pub power_cap_uw: Option<u64>,
    /// `power1_cap_default`, µW.
    pub power_cap_default_uw: Option<u64>,
    /// `power1_cap_min`, µW.
    pub power_cap_min_uw: Option<u64>,
    /// `power1_cap_max`, µW.
    pub power_cap_max_uw: Option<u64>,
    /// `(sensor, millidegrees)` of each `temp<N>_input`, in `N` order;
    /// the sensor is `temp<N>_label` (`edge`, `junction`, `mem`) or
    /// `temp<N>` without one.
    pub temperatures_mc: Vec<(String, i64)>,
    /// `fan1_input`, RPM.
    pub fan_rpm: Option<u64>,
    /// `pwm1`, 0..=255.
    pub pwm: Option<u64>,
    /// The selected (`*`) level of `pp_dpm_sclk`, MHz.
    pub sclk_mhz: Option<u64>,
    /// The selected (`*`) level of `pp_dpm_mclk`, MHz.
    pub mclk_mhz: Option<u64>,
    /// `mem_info_vram_used`, bytes.
    pub vram_used_bytes: Option<u64>,
    /// `mem_info_vram_total`, bytes.
    pub vram_total_bytes: Option<u64>,
    /// `gpu_busy_percent`.
    pub gpu_busy_pct: Option<u64>,
    /// `mem_busy_percent`.
    pub mem_busy_pct: Option<u64>,
}

/// The amdgpu cards under `sysfs` (e.g. `/sys`), by card number.
///
/// A machine without `class/drm` (no GPU driver at all) has no card; any
/// other failure to list it is an error. Entries that are not `card<N>`
/// (connectors such as `card0-DP-1`, `renderD128`) and cards of other
/// drivers are skipped.
pub fn cards(sysfs: &Path) -> Result<Vec<Card>, AmdError> {
    let drm = sysfs.join("class/drm");
    let entries = match std::fs::read_dir(&drm) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(AmdError::List { path: drm, source }),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| AmdError::List {
            path: drm.clone(),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(number) = name.strip_prefix("card") else {
            continue;
        };
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let device = entry.path().join("device");
        // A card that vanishes between the listing and this read is simply
        // not listed; the job notices it is missing.
        let Ok(uevent) = std::fs::read_to_string(device.join("uevent")) else {
            continue;
        };
        let field = |key: &str| {
            uevent
                .lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .map(str::trim)
        };
        if field("DRIVER") != Some("amdgpu") {
            continue;
        }
        out.push(Card {
            pci_bus_id: field("PCI_SLOT_NAME").unwrap_or_default().to_string(),
            name,
            device,
        });
    }
    out.sort_by_key(|c| {
        c.name
            .trim_start_matches("card")
            .parse::<u64>()
            .unwrap_or(u64::MAX)
    });
    Ok(out)
}

/// Reads one card. Problems that lose one value are pushed to `warnings`
/// (naming the file) and the rest is still read; the error is the card
/// gone (its `uevent` unreadable).
pub fn read_card(card: &Card, warnings: &mut Vec<AmdError>) -> Result<CardReading, AmdError> {
    let dev = &card.device;
    if let Err(e) = std::fs::metadata(dev.join("uevent")) {
        return Err(AmdError::Vanished {
            card: card.name.clone(),
            pci_bus_id: card.pci_bus_id.clone(),
            reason: format!("{}: {e}", dev.join("uevent").display()),
        });
    }
    let hwmon = hwmon_dir(dev);
    let mut r = Reader { warnings };
    let mut reading = CardReading {
        name: text(&dev.join("product_name")),
        vbios_version: text(&dev.join("vbios_version")),
        sclk_mhz: r.dpm(&dev.join("pp_dpm_sclk")),
        mclk_mhz: r.dpm(&dev.join("pp_dpm_mclk")),
        vram_used_bytes: r.uint(&dev.join("mem_info_vram_used")),
        vram_total_bytes: r.uint(&dev.join("mem_info_vram_total")),
        gpu_busy_pct: r.uint(&dev.join("gpu_busy_percent")),
        mem_busy_pct: r.uint(&dev.join("mem_busy_percent")),
        ..CardReading::default()
    };
    if let Some(h) = hwmon {
        reading.power_uw = r
            .uint(&h.join("power1_average"))
            .or_else(|| r.uint(&h.join("power1_input")));
        reading.power_cap_uw = r.uint(&h.join("power1_cap"));
        reading.power_cap_default_uw = r.uint(&h.join("power1_cap_default"));
        reading.power_cap_min_uw = r.uint(&h.join("power1_cap_min"));
        reading.power_cap_max_uw = r.uint(&h.join("power1_cap_max"));
        reading.fan_rpm = r.uint(&h.join("fan1_input"));
        reading.pwm = r.uint(&h.join("pwm1"));
        reading.temperatures_mc = r.temperatures(&h);
    }
    Ok(reading)
}

/// `device/hwmon/hwmon<N>`: amdgpu registers exactly one per card.
fn hwmon_dir(dev: &Path) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dev.join("hwmon"))
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("hwmon"))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs.into_iter().next()
}

/// The file's first line, trimmed; `None` when unreadable or empty.
fn text(path: &Path) -> Option<String> {
    let s = std::fs::read_to_string(path).ok()?;
    let line = s.lines().next().unwrap_or("").trim();
    (!line.is_empty()).then(|| line.to_string())
}

fn malformed(path: &Path, what: &'static str, text: &str) -> AmdError {
    let first = text.lines().next().unwrap_or("");
    let mut end = first.len().min(80);
    while !first.is_char_boundary(end) {
        end -= 1;
    }
    AmdError::Malformed {
        path: path.to_path_buf(),
        what,
        text: first.get(..end).unwrap_or("").to_string(),
    }
}

struct Reader<'a> {
    warnings: &'a mut Vec<AmdError>,
}

impl Reader<'_> {
    /// A file holding one unsigned integer (what every hwmon value of
    /// amdgpu is, but temperatures); missing or unreadable is `None`
    /// silently, unparsable is `None` and a warning.
    fn uint(&mut self, path: &Path) -> Option<u64> {
        let s = std::fs::read_to_string(path).ok()?;
        match s.trim().parse() {
            Ok(v) => Some(v),
            Err(_) => {
                self.warnings
                    .push(malformed(path, "expected an unsigned integer", &s));
                None
            }
        }
    }

    /// `temp<N>_input` (m°C, may be negative) with its `temp<N>_label`.
    fn temperatures(&mut self, hwmon: &Path) -> Vec<(String, i64)> {
        let Ok(entries) = std::fs::read_dir(hwmon) else {
            return Vec::new();
        };
        let mut numbers: Vec<u32> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_prefix("temp")?
                    .strip_suffix("_input")?
                    .parse()
                    .ok()
            })
            .collect();
        numbers.sort_unstable();
        let mut out = Vec::new();
        for n in numbers {
            let path = hwmon.join(format!("temp{n}_input"));
            let Ok(s) = std::fs::read_to_string(&path) else {
                continue;
            };
            let Ok(mc) = s.trim().parse::<i64>() else {
                self.warnings
                    .push(malformed(&path, "expected an integer (millidegrees)", &s));
                continue;
            };
            let sensor =
                text(&hwmon.join(format!("temp{n}_label"))).unwrap_or_else(|| format!("temp{n}"));
            out.push((sensor, mc));
        }
        out
    }

    /// The selected level of a `pp_dpm_*` table: lines `<level>: <f>Mhz`,
    /// the current one marked ` *`. No marked line (the clock between
    /// levels on some cards) is no sample; a marked line that does not
    /// parse is a warning.
    fn dpm(&mut self, path: &Path) -> Option<u64> {
        let s = std::fs::read_to_string(path).ok()?;
        let line = s.lines().find(|l| l.trim_end().ends_with('*'))?;
        let parsed = line
            .split_once(':')
            .map(|(_, rest)| rest.trim().trim_end_matches('*').trim())
            .and_then(|f| {
                let lower = f.to_ascii_lowercase();
                lower.strip_suffix("mhz")?.trim().parse::<u64>().ok()
            });
        if parsed.is_none() {
            self.warnings.push(malformed(
                path,
                "expected a \"<level>: <n>Mhz *\" line",
                line,
            ));
        }
        parsed
    }
}
