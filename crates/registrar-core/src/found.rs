//! What a pruning pass found: the directories its walk saw data in, kept as 64-bit hashes,
//! written a chunk a run to the pass's checkpoints and read back once, by the finish, which
//! prunes only catalog partitions whose directory is not among them.
//!
//! Why hashes, and why 64 bits: the finish holds every found directory of the table at once
//! (8 bytes each: 80 MB at ten million partitions, inside a 256 MiB function), and a collision
//! can only make a partition look found, so it is kept, never dropped; the prune checks the
//! location again before any drop anyway. The hash is seeded per pass and written out, so it
//! must be the same in every process and every release that runs the pass: it is defined
//! here, not borrowed from a hasher whose output may change between versions.

/// Makes a pass's directory hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirHasher {
    seed: u64,
}

const P0: u64 = 0xa076_1d64_78bd_642f;
const P1: u64 = 0xe703_7ed1_a0b4_28db;
const P2: u64 = 0x8ebc_6af0_9c88_c6e3;

/// The folded 128-bit product: the mixing step of wyhash, a well-studied 64-bit hash.
fn mum(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

impl DirHasher {
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }

    /// The hash of a directory (a key prefix ending in `/`).
    pub fn hash(&self, dir: &str) -> u64 {
        let bytes = dir.as_bytes();
        let mut h = self.seed ^ P0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let block = u64::from_le_bytes(c.try_into().expect("eight bytes"));
            h = mum(h ^ block ^ P1, self.seed ^ P2);
        }
        let rest = chunks.remainder();
        let mut tail = [0u8; 8];
        tail[..rest.len()].copy_from_slice(rest);
        h = mum(h ^ u64::from_le_bytes(tail) ^ P1, self.seed ^ P0);
        mum(h ^ bytes.len() as u64, P2)
    }
}

/// The first bytes of a chunk: what it is, and its version.
const MAGIC: &[u8; 8] = b"gprfnd01";

/// Why a chunk cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FoundError {
    #[error(
        "a found-directories chunk does not start with `gprfnd01` or is not a whole number of hashes ({length} bytes): the pass's checkpoints were written by something else; start a new pass"
    )]
    Malformed { length: usize },
}

/// One run's found directories, as a chunk: the hashes sorted, little-endian.
pub fn encode(mut hashes: Vec<u64>) -> Vec<u8> {
    hashes.sort_unstable();
    hashes.dedup();
    let mut out = Vec::with_capacity(MAGIC.len() + hashes.len() * 8);
    out.extend_from_slice(MAGIC);
    for h in hashes {
        out.extend_from_slice(&h.to_le_bytes());
    }
    out
}

/// Every directory a pass found, as the finish reads it: sorted, for lookups by bisection
/// (no hash table: at ten million entries its overhead would double the memory).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FoundSet {
    hashes: Vec<u64>,
}

impl FoundSet {
    /// Add a chunk as [`encode`] wrote it.
    pub fn add_chunk(&mut self, chunk: &[u8]) -> Result<(), FoundError> {
        let body = chunk
            .strip_prefix(MAGIC.as_slice())
            .filter(|b| b.len() % 8 == 0)
            .ok_or(FoundError::Malformed {
                length: chunk.len(),
            })?;
        self.hashes.reserve(body.len() / 8);
        self.hashes.extend(
            body.chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("eight bytes"))),
        );
        Ok(())
    }

    /// Sort once every chunk is in.
    pub fn seal(&mut self) {
        self.hashes.sort_unstable();
        self.hashes.dedup();
        self.hashes.shrink_to_fit();
    }

    pub fn contains(&self, hash: u64) -> bool {
        self.hashes.binary_search(&hash).is_ok()
    }

    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_of_a_directory_is_the_same_in_every_process_for_a_seed() {
        // Written out and read back by other processes and later releases: pinned.
        let h = DirHasher::new(42);
        assert_eq!(h.hash("t/dt=2026-12-04/"), h.hash("t/dt=2026-12-04/"));
        assert_eq!(h.hash("t/dt=2026-12-04/"), 0xea7f_550f_13cf_e132);
        assert_ne!(
            h.hash("t/dt=2026-12-04/"),
            DirHasher::new(43).hash("t/dt=2026-12-04/")
        );
    }

    #[test]
    fn neighbouring_directories_do_not_collide() {
        let h = DirHasher::new(7);
        let mut seen = std::collections::HashSet::new();
        for day in 0..2000 {
            for hour in 0..24 {
                assert!(seen.insert(h.hash(&format!("t/dt={day:05}/hour={hour:02}/"))));
            }
        }
    }

    #[test]
    fn chunks_read_back_into_one_set() {
        let h = DirHasher::new(1);
        let a = encode(vec![h.hash("t/a/"), h.hash("t/b/")]);
        let b = encode(vec![h.hash("t/c/"), h.hash("t/a/")]);
        let mut set = FoundSet::default();
        set.add_chunk(&a).unwrap();
        set.add_chunk(&b).unwrap();
        set.seal();
        assert_eq!(set.len(), 3);
        assert!(set.contains(h.hash("t/c/")));
        assert!(!set.contains(h.hash("t/d/")));
    }

    #[test]
    fn a_chunk_of_something_else_is_refused_with_what_to_do() {
        let e = FoundSet::default().add_chunk(b"not a chunk").unwrap_err();
        assert!(e.to_string().contains("start a new pass"), "{e}");
    }
}
