//! The user this process runs as: the owner the spans file's folder and file
//! must have, and the suffix of the shared temporary folder's name.

#[cfg(unix)]
use std::fs::OpenOptions;
use std::io;

/// Who owns the folder and the file: a user id on Unix, nothing elsewhere.
#[cfg(unix)]
pub(crate) type Uid = u32;
#[cfg(not(unix))]
pub(crate) type Uid = ();

/// No owners to check on this platform.
#[cfg(not(unix))]
pub(crate) fn current_uid() -> io::Result<Uid> {
    Ok(())
}

/// The effective user id of this process, without `unsafe`.
///
/// Linux: the `Uid:` line of `/proc/self/status` (real, effective, saved,
/// filesystem). The owner of `/proc/self` would do too, except for a process
/// that is not dumpable (its `/proc` entries then belong to root). Elsewhere:
/// the owner of a file created for the purpose in the temporary folder.
#[cfg(unix)]
pub(crate) fn current_uid() -> io::Result<Uid> {
    use std::os::unix::fs::MetadataExt as _;
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let effective = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            .and_then(|id| id.parse().ok());
        if let Some(uid) = effective {
            return Ok(uid);
        }
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let probe = std::env::temp_dir().join(format!(
        ".distributed-tracing-uid-{}-{nanos}",
        std::process::id()
    ));
    // `create_new` (O_EXCL) never follows a symbolic link planted at the name.
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)?;
    let uid = file.metadata().map(|m| m.uid());
    let _ = std::fs::remove_file(&probe);
    uid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_uid_is_the_owner_of_a_new_file() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = std::env::temp_dir().join(format!("dt-sink-uid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let probe = dir.join("probe");
        std::fs::write(&probe, b"").unwrap();
        let owner = std::fs::metadata(&probe).unwrap().uid();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(current_uid().unwrap(), owner);
    }
}
