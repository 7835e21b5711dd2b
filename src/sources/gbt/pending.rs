//! Found blocks kept on disk until the node has given a definitive answer.
//!
//! A solved block is worth a block reward: it is written here *before* the
//! first `submitblock`, removed only once the node has answered (accepted or
//! a reason string), and submitted again at the next start if the process
//! stopped first. Each block is one file, `<height>-<hash>.hex`, holding the
//! block hex that `bitcoin-cli submitblock` takes, so a user can also
//! submit it by hand. Files are written to a temporary name, synced, then
//! renamed, so a crash never leaves half a block.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The default state directory: `~/.local/share/noncesweep`.
pub fn default_state_dir() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/noncesweep"))
}

/// A block waiting for the node's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingBlock {
    pub path: PathBuf,
    pub height: u32,
    pub hash: String,
    pub hex: String,
}

/// The pending-blocks directory (`<state dir>/pending`).
#[derive(Clone, Debug)]
pub struct PendingStore {
    dir: PathBuf,
}

impl PendingStore {
    /// The store under `state_dir`, created if missing.
    pub fn open(state_dir: &Path) -> std::io::Result<PendingStore> {
        let dir = state_dir.join("pending");
        fs::create_dir_all(&dir)?;
        Ok(PendingStore { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Write a block durably; returns where it is.
    pub fn save(&self, height: u32, hash: &str, hex: &str) -> std::io::Result<PendingBlock> {
        let path = self.dir.join(format!("{height}-{hash}.hex"));
        let tmp = self.dir.join(format!(".{height}-{hash}.tmp"));
        {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(hex.as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()?;
        }
        fs::rename(&tmp, &path)?;
        if let Ok(d) = fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(PendingBlock {
            path,
            height,
            hash: hash.to_string(),
            hex: hex.to_string(),
        })
    }

    /// Forget a block the node has answered.
    pub fn remove(&self, block: &PendingBlock) -> std::io::Result<()> {
        match fs::remove_file(&block.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Every pending block, lowest height first. Files that are not ours are
    /// skipped with a warning.
    pub fn list(&self) -> std::io::Result<Vec<PendingBlock>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let path = entry?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Some(stem) = name.strip_suffix(".hex") else {
                continue;
            };
            let parsed = stem
                .split_once('-')
                .and_then(|(h, hash)| Some((h.parse::<u32>().ok()?, hash.to_string())));
            let Some((height, hash)) = parsed else {
                tracing::warn!(file = %path.display(), "ignoring a file in the pending directory that noncesweep did not write");
                continue;
            };
            let hex = fs::read_to_string(&path)?.trim().to_string();
            out.push(PendingBlock {
                path,
                height,
                hash,
                hex,
            });
        }
        out.sort_by_key(|b| b.height);
        Ok(out)
    }
}

/// The command that submits a pending block by hand.
pub fn manual_command(block: &PendingBlock) -> String {
    format!(
        "bitcoin-cli submitblock \"$(cat '{}')\"",
        block.path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_list_remove() {
        let d = tempfile::tempdir().unwrap();
        let s = PendingStore::open(d.path()).unwrap();
        let b = s.save(7, "ab", "0011").unwrap();
        s.save(3, "cd", "22").unwrap();
        fs::write(s.dir().join("notes.txt"), "x").unwrap();
        let l = s.list().unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].height, 3);
        assert_eq!(l[1], b);
        assert!(manual_command(&b).contains("7-ab.hex"));
        s.remove(&b).unwrap();
        assert_eq!(s.list().unwrap().len(), 1);
    }
}
