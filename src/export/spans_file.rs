//! The local spans file: private to the user who runs the service, and bounded
//! in size.
//!
//! * The folder the crate chooses by default (see `spans_dir` in
//!   `config/exporters.rs`) is created with mode 0700 and, before use, must be a real
//!   directory (not a symbolic link) owned by this user; group or other access
//!   is removed. A folder given in code is the caller's to secure: it is only
//!   created (0700) when missing.
//! * The file is opened without following a symbolic link (`O_NOFOLLOW`),
//!   created with mode 0600, and must be a regular file with one link, owned by
//!   this user; an existing one is tightened to 0600.
//! * When a line would take the file past its maximum size, the file is renamed
//!   `<file>.1` (replacing the previous one) and a new one is opened the same
//!   way: the sink uses at most about twice the maximum on disk.
//!
//! On other platforms than Unix there are no modes or owners to check: the
//! folder and the file are created and appended to, and rotation works the same.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write as _};
use std::path::{Path, PathBuf};

use crate::config::user::{current_uid, Uid};

/// A size in bytes as people read it: `16 MiB`, `4 KiB`, `1000 bytes`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Size(pub(crate) u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const KIB: u64 = 1024;
        const MIB: u64 = 1024 * KIB;
        match self.0 {
            n if n >= MIB && n % MIB == 0 => write!(f, "{} MiB", n / MIB),
            n if n >= KIB && n % KIB == 0 => write!(f, "{} KiB", n / KIB),
            1 => f.write_str("1 byte"),
            n => write!(f, "{n} bytes"),
        }
    }
}

/// The error for a folder or file that is refused (the caller names the file).
fn refused(reason: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, reason)
}

/// Creates the crate's own folder (0700) if missing, then checks that it is a
/// real directory owned by `uid` and removes group and other access.
#[cfg(unix)]
fn private_dir(dir: &Path, uid: u32) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, PermissionsExt as _};
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
            std::fs::symlink_metadata(dir)?
        }
        Err(e) => return Err(e),
    };
    if meta.file_type().is_symlink() {
        return Err(refused(format!(
            "the folder {} is a symbolic link; refusing to follow it",
            dir.display()
        )));
    }
    if !meta.is_dir() {
        return Err(refused(format!("{} is not a folder", dir.display())));
    }
    if meta.uid() != uid {
        return Err(refused(format!(
            "the folder {} belongs to uid {}, not to this user (uid {uid}); refusing to use it",
            dir.display(),
            meta.uid()
        )));
    }
    if meta.mode() & 0o777 != 0o700 {
        // By path: only its owner (us) can replace the folder since the check,
        // whether its parent is our home or the sticky temporary folder.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Creates the folders missing on the way to `dir` (0700 on Unix).
fn create_dirs(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Opens `path` for appending without following a symbolic link, creating it
/// 0600; an existing file must be a regular file with one link, owned by
/// `uid`, and is tightened to 0600. Returns the file and its length.
fn open_file(path: &Path, uid: Uid) -> io::Result<(File, u64)> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        // O_NONBLOCK: a FIFO planted at the path fails to open (or opens and is
        // refused below) instead of blocking start-up; regular files ignore it.
        options
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| {
        // O_NOFOLLOW's error is ELOOP on Linux, EMLINK or EFTYPE elsewhere: say why.
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                refused("it is a symbolic link, which is never followed".into())
            }
            _ => e,
        }
    })?;
    let meta = file.metadata()?;
    #[cfg(not(unix))]
    let _ = uid;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
        if !meta.is_file() {
            return Err(refused("it is not a regular file".into()));
        }
        if meta.uid() != uid {
            return Err(refused(format!(
                "it belongs to uid {}, not to this user (uid {uid})",
                meta.uid()
            )));
        }
        if meta.nlink() != 1 {
            return Err(refused(format!(
                "it has {} hard links; a spans file must have one",
                meta.nlink()
            )));
        }
        if meta.mode() & 0o777 != 0o600 {
            // On the handle (fchmod): no path to race.
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok((file, meta.len()))
}

/// The spans file: lines appended, rotated at `max_bytes`.
pub(crate) struct SpansFile {
    path: PathBuf,
    rotated: PathBuf,
    max_bytes: u64,
    uid: Uid,
    /// `None` after a failed rotation: the next line opens the file again.
    out: Option<BufWriter<File>>,
    /// The file's length, what is buffered included.
    len: u64,
}

impl fmt::Debug for SpansFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpansFile")
            .field("path", &self.path)
            .field("max_bytes", &self.max_bytes)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl SpansFile {
    /// Opens `path` (see the module docs); `private_dir`: its folder is the
    /// crate's default one, to be checked and kept private.
    pub(crate) fn open(path: &Path, private: bool, max_bytes: u64) -> io::Result<Self> {
        let uid = current_uid()
            .map_err(|e| io::Error::new(e.kind(), format!("finding this user's id: {e}")))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            #[cfg(unix)]
            match private {
                true => private_dir(dir, uid)?,
                false => create_dirs(dir)?,
            }
            #[cfg(not(unix))]
            {
                let _ = private;
                create_dirs(dir)?;
            }
        }
        let mut rotated = path.as_os_str().to_owned();
        rotated.push(".1");
        let mut file = Self {
            path: path.to_path_buf(),
            rotated: rotated.into(),
            max_bytes: max_bytes.max(1),
            uid,
            out: None,
            len: 0,
        };
        file.reopen()?;
        Ok(file)
    }

    fn reopen(&mut self) -> io::Result<()> {
        let (file, len) = open_file(&self.path, self.uid)?;
        self.out = Some(BufWriter::new(file));
        self.len = len;
        Ok(())
    }

    /// Moves the file to `<file>.1` and starts a new one.
    fn rotate(&mut self) -> io::Result<()> {
        if let Some(mut out) = self.out.take() {
            out.flush()?;
        }
        match std::fs::rename(&self.path, &self.rotated) {
            Ok(()) => {}
            // Removed meanwhile: nothing to keep.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        self.reopen()
    }

    /// Appends `line` (its line feed included), rotating first if the file
    /// would exceed the maximum (a file holds at least one line, however long).
    pub(crate) fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        if self.out.is_none() {
            self.reopen()?;
        }
        let n = line.len() as u64;
        if self.len > 0 && self.len.saturating_add(n) > self.max_bytes {
            self.rotate()?;
        }
        let Some(out) = self.out.as_mut() else {
            return Err(io::Error::other("the spans file is not open"));
        };
        out.write_all(line)?;
        self.len += n;
        Ok(())
    }

    /// Writes what is buffered to the file.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        match &mut self.out {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        for (bytes, shown) in [
            (16 * 1024 * 1024, "16 MiB"),
            (4096, "4 KiB"),
            (1536 * 1024, "1536 KiB"),
            (1000, "1000 bytes"),
            (1, "1 byte"),
        ] {
            assert_eq!(Size(bytes).to_string(), shown, "{bytes}");
        }
    }
}
