//! Where a finished export goes. A directory destination is a folder under the server's export
//! root (`TRAILKEEP_EXPORT_DIR`): the schedule names a relative folder, never an absolute path
//! or one that climbs out (refused here and by the database's CHECK). The object is moved in
//! from the work folder (under the same root: one filesystem) with a rename, after the file
//! and before the folder are fsynced, so a reader sees no object or a whole one, and a crash
//! never leaves a half-written one under the final name.

use std::path::{Path, PathBuf};

/// Why a destination was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    #[error("the folder {0:?} is not a relative folder inside the export directory: give a name such as \"monthly\" or \"soc2/monthly\", without \"..\" or a leading \"/\"")]
    Folder(String),
    #[error("writing the export failed: {0}")]
    Io(#[from] std::io::Error),
}

/// The longest folder a schedule may name.
pub const FOLDER_MAX: usize = 200;

/// A schedule's folder, checked: relative, plain components only.
pub fn folder(text: &str) -> Result<String, DestinationError> {
    let text = text.trim().trim_end_matches('/');
    let refused = || DestinationError::Folder(text.to_string());
    if text.is_empty()
        || text.len() > FOLDER_MAX
        || text.contains('\\')
        || text.chars().any(char::is_control)
    {
        return Err(refused());
    }
    // Plain names only: no empty part ("//", a leading "/"), no ".", "..", or hidden folder.
    if !text
        .split('/')
        .all(|s| !s.is_empty() && !s.starts_with('.'))
    {
        return Err(refused());
    }
    Ok(text.to_string())
}

/// The export root and its work folder.
#[derive(Clone, Debug)]
pub struct ExportRoot {
    pub root: PathBuf,
}

impl ExportRoot {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ExportRoot { root: root.into() }
    }

    /// Where bundles are built (hidden, inside the root: renames stay on one filesystem).
    pub fn work_dir(&self) -> PathBuf {
        self.root.join(".trailkeep-work")
    }

    /// Where object `name` of folder `folder` lives.
    pub fn object_path(&self, folder_name: &str, name: &str) -> Result<PathBuf, DestinationError> {
        Ok(self.root.join(folder(folder_name)?).join(name))
    }

    /// Moves the work file `path` into `folder` as `name`, durably. Returns the object's key
    /// (its path relative to the root).
    pub fn put(
        &self,
        path: &Path,
        folder_name: &str,
        name: &str,
    ) -> Result<String, DestinationError> {
        let folder_name = folder(folder_name)?;
        let dir = self.root.join(&folder_name);
        std::fs::create_dir_all(&dir)?;
        std::fs::File::open(path)?.sync_all()?;
        std::fs::rename(path, dir.join(name))?;
        std::fs::File::open(&dir)?.sync_all()?;
        Ok(format!("{folder_name}/{name}"))
    }

    /// Opens a stored object by its key, if it is still there.
    pub fn open(&self, key: &str) -> Result<Option<std::fs::File>, DestinationError> {
        let (folder_name, name) = key
            .rsplit_once('/')
            .ok_or_else(|| DestinationError::Folder(key.into()))?;
        let path = self.object_path(folder_name, name)?;
        match std::fs::File::open(path) {
            Ok(f) => Ok(Some(f)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::folder;

    #[test]
    fn folders_stay_inside_the_root() {
        for ok in ["monthly", "soc2/monthly", "a b/c-d_e", "monthly/"] {
            assert!(folder(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/etc",
            "../up",
            "a/../../b",
            "a/./b",
            ".hidden",
            "a\\b",
            "a\nb",
            "./a",
            "a//b",
            &"x".repeat(201),
        ] {
            assert!(folder(bad).is_err(), "{bad:?}");
        }
    }
}
