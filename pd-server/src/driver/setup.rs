//! Start-up chores: the state directory, the server DUID file, the control
//! socket.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use anyhow::{bail, Context};
use pd_core::duid::Duid;
use tokio::net::UnixListener;

/// Create the state directory (0700) if needed.
pub fn state_dir(dir: &Path) -> anyhow::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create state-dir {}", dir.display()))
}

/// The configured DUID, or the one kept in `dir/duid`, or a new DUID-UUID
/// (RFC 6355) written there once (atomically) and kept for ever.
pub fn load_or_create_duid(dir: &Path, configured: Option<&Duid>) -> anyhow::Result<Duid> {
    if let Some(d) = configured {
        return Ok(d.clone());
    }
    let path = dir.join("duid");
    match fs::read_to_string(&path) {
        Ok(text) => {
            return text.trim().parse::<Duid>().with_context(|| {
                format!("{} is corrupt (expected colon-hex DUID)", path.display())
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    let uuid =
        fs::read_to_string("/proc/sys/kernel/random/uuid").context("cannot read a random UUID")?;
    let hex: String = uuid
        .trim()
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .collect();
    let mut bytes = [0u8; 16];
    for (i, b) in bytes.iter_mut().enumerate() {
        let pair = hex.get(2 * i..2 * i + 2).context("short UUID")?;
        *b = u8::from_str_radix(pair, 16)?;
    }
    let duid = Duid::uuid(bytes);
    let tmp = dir.join("duid.tmp");
    let mut f =
        fs::File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    writeln!(f, "{duid}")?;
    f.sync_all()?;
    fs::rename(&tmp, &path)?;
    fs::File::open(dir)?.sync_all()?;
    tracing::info!(duid = %duid, "generated server DUID");
    Ok(duid)
}

/// Bind the control socket (0600), replacing a stale one.
pub fn control_socket(path: &Path) -> anyhow::Result<UnixListener> {
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            bail!(
                "{} is in use: is another pd-server running with this state-dir?",
                path.display()
            );
        }
        fs::remove_file(path).with_context(|| format!("cannot remove stale {}", path.display()))?;
    }
    let l = UnixListener::bind(path)
        .with_context(|| format!("cannot bind control socket {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    Ok(l)
}
