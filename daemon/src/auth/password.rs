//! Password hashing: Argon2id with the OWASP parameters (m = 19 MiB, t = 2,
//! p = 1), on the blocking pool behind a semaphore so a sign-in flood cannot
//! starve the async workers or exhaust memory. Past a bounded queue, a hash
//! is refused at once (429 `signin_busy`, `Retry-After`) instead of waiting
//! towards a timeout.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use crate::error::AppError;

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 256;

#[derive(Clone)]
pub struct PasswordHasherPool {
    permits: Arc<Semaphore>,
    /// Hashes allowed to wait for a permit; one more is refused.
    queue: usize,
    waiting: Arc<AtomicUsize>,
    slots: usize,
    arena: Arc<Arena>,
    /// A real hash of a random password: verifying against it when the user
    /// does not exist costs the same as a real check (no timing oracle).
    dummy_hash: Arc<String>,
}

fn argon2() -> Argon2<'static> {
    // Params::new only fails for out-of-range values; these are constants.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))?
        .to_string())
}

/// [`hash_blocking`] in memory from `arena`: the same PHC string.
fn hash_in(password: &str, arena: &Arena, keep: usize) -> anyhow::Result<String> {
    let fail = |e: &dyn std::fmt::Display| anyhow::anyhow!("hashing failed: {e}");
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt.decode_b64(&mut salt_bytes).map_err(|e| fail(&e))?;
    let argon = argon2();
    let mut out = [0u8; 32];
    arena
        .with(argon.params().block_count(), keep, |memory| {
            argon.hash_password_into_with_memory(password.as_bytes(), raw_salt, &mut out, memory)
        })
        .map_err(|e| fail(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: argon.params().try_into().map_err(|e| fail(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(argon2::password_hash::Output::new(&out).map_err(|e| fail(&e))?),
    };
    Ok(phc.to_string())
}

/// Argon2's working memory (19 MiB a check), kept and reused: allocated
/// and freed per check, glibc kept hundreds of MiB after a sign-in flood.
/// Holds at most one buffer per hashing slot.
#[derive(Default)]
struct Arena(std::sync::Mutex<Vec<Vec<Block>>>);

impl Arena {
    fn with<T>(&self, blocks: usize, keep: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
        let reused = self.0.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut memory = reused
            .filter(|m| m.len() == blocks)
            .unwrap_or_else(|| vec![Block::default(); blocks]);
        let out = f(&mut memory);
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if kept.len() < keep {
            kept.push(memory);
        }
        out
    }
}

/// Checks `password` against a PHC string in memory from `arena`; the
/// comparison is constant-time.
fn verify_blocking(password: &str, hash: &str, arena: &Arena, keep: usize) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Ok(params), Ok(algorithm), Some(expected), Some(salt)) = (
        Params::try_from(&parsed),
        Algorithm::try_from(parsed.algorithm),
        parsed.hash,
        parsed.salt,
    ) else {
        return false;
    };
    let version = parsed
        .version
        .map(Version::try_from)
        .unwrap_or(Ok(Version::V0x13));
    let Ok(version) = version else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let blocks = params.block_count();
    let argon = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    let computed = arena.with(blocks, keep, |memory| {
        argon.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, memory)
    });
    computed.is_ok() && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
}

impl PasswordHasherPool {
    pub fn new(concurrency: usize, queue: usize) -> anyhow::Result<Self> {
        let random: [u8; 16] = rand::random();
        let dummy = hash_blocking(&super::keys::hex_encode(&random))?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            queue,
            waiting: Arc::default(),
            slots: concurrency.max(1),
            arena: Arc::default(),
            dummy_hash: Arc::new(dummy),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        // The fast path only when nobody waits: queued checks go first.
        let free = match self.waiting.load(Ordering::Relaxed) {
            0 => self.permits.clone().try_acquire_owned().ok(),
            _ => None,
        };
        let _permit = match free {
            Some(p) => p,
            None => {
                // Counted while waiting, uncounted when done or cancelled.
                let _waiting = Waiting::join(&self.waiting);
                if self.waiting.load(Ordering::Relaxed) > self.queue {
                    return Err(busy());
                }
                self.permits
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|e| AppError::Internal(e.into()))?
            }
        };
        tokio::task::spawn_blocking(move || {
            lower_priority();
            f()
        })
        .await
        .map_err(|e| AppError::Internal(e.into()))
    }

    /// Refuses now (as `signin_busy`) when a check would be refused for want
    /// of a slot, so a sign-in past capacity costs no database work.
    pub fn admit(&self) -> Result<(), AppError> {
        let full = self.permits.available_permits() == 0
            && self.waiting.load(Ordering::Relaxed) >= self.queue;
        if full {
            return Err(busy());
        }
        Ok(())
    }

    pub async fn hash(&self, password: String) -> Result<String, AppError> {
        let (arena, keep) = (self.arena.clone(), self.slots);
        self.run(move || hash_in(&password, &arena, keep))
            .await?
            .map_err(AppError::Internal)
    }

    /// Verifies against `hash`, or against the dummy hash when there is no
    /// user (always false then, but just as slow).
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, AppError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.as_ref().clone());
        let (arena, keep) = (self.arena.clone(), self.slots);
        let ok = self
            .run(move || verify_blocking(&password, &hash, &arena, keep))
            .await?;
        Ok(ok && known)
    }
}

/// Password checks yield the CPU to request handling: the blocking thread
/// that runs one is niced (once per thread, Linux), so a sign-in flood
/// slows sign-ins rather than every other request.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        thread_local! {
            static NICED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
        }
        NICED.with(|niced| {
            if !niced.replace(true) {
                // On Linux a thread id names one thread for setpriority. A
                // refusal leaves the thread at its priority: not an error.
                let tid = rustix::thread::gettid();
                let _ = rustix::process::setpriority_process(Some(tid), HASH_NICE);
            }
        });
    }
}

/// The nice value of hashing threads (0 is the default, 19 the lowest).
#[cfg(target_os = "linux")]
const HASH_NICE: i32 = 10;

/// One hash waiting for a permit (the count drops when this does).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn join(n: &'a AtomicUsize) -> Self {
        n.fetch_add(1, Ordering::Relaxed);
        Self(n)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The answer past capacity: fast, with a time to come back.
fn busy() -> AppError {
    AppError::TooManyRequests {
        code: "signin_busy",
        message: "too many passwords are being checked right now; retry in a moment".into(),
        retry_after_secs: 1,
        rate: None,
    }
}

/// True for the refusal past capacity.
pub fn is_busy(e: &AppError) -> bool {
    matches!(
        e,
        AppError::TooManyRequests {
            code: "signin_busy",
            ..
        }
    )
}

/// Length and strength policy. Length is what matters (NIST 800-63B); we also
/// refuse passwords that are one repeated character or contain the email.
pub fn check_policy(password: &str, email: &str) -> Result<(), AppError> {
    let chars = password.chars().count();
    if chars < MIN_LENGTH {
        return Err(AppError::validation(
            "password",
            format!("must be at least {MIN_LENGTH} characters"),
        ));
    }
    if chars > MAX_LENGTH {
        return Err(AppError::validation(
            "password",
            format!("must be at most {MAX_LENGTH} characters"),
        ));
    }
    let mut distinct: Vec<char> = password.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 5 {
        return Err(AppError::validation(
            "password",
            "is too simple: use at least 5 different characters",
        ));
    }
    let local = email.split('@').next().unwrap_or_default().to_lowercase();
    if local.len() >= 4 && password.to_lowercase().contains(&local) {
        return Err(AppError::validation(
            "password",
            "must not contain your email address",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify() {
        let pool = PasswordHasherPool::new(2, 8).expect("pool");
        let h = pool
            .hash("correct horse battery".into())
            .await
            .expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        // The same PHC string as argon2's own hashing: its verifier agrees.
        use argon2::password_hash::PasswordVerifier;
        let parsed = PasswordHash::new(&h).expect("phc");
        assert!(argon2()
            .verify_password(b"correct horse battery", &parsed)
            .is_ok());
        assert!(pool
            .verify("correct horse battery".into(), Some(h.clone()))
            .await
            .unwrap_or(false));
        assert!(!pool
            .verify("wrong horse battery".into(), Some(h))
            .await
            .unwrap_or(true));
        assert!(!pool
            .verify("anything at all".into(), None)
            .await
            .unwrap_or(true));
    }

    /// Past the queue a check is refused at once, not queued: with one slot
    /// taken and no room to wait, the next check answers `signin_busy`.
    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let pool = PasswordHasherPool::new(1, 0).expect("pool");
        let busy_pool = pool.clone();
        let running =
            tokio::spawn(
                async move { busy_pool.verify("correct horse battery".into(), None).await },
            );
        while pool.permits.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let refused = pool.verify("another one here".into(), None).await;
        assert!(matches!(&refused, Err(e) if is_busy(e)), "{refused:?}");
        assert!(!running
            .await
            .expect("join")
            .expect("the running check finishes"));
        // The slot is free again: the next check runs.
        assert!(!pool
            .verify("a third one now".into(), None)
            .await
            .expect("runs"));
        assert_eq!(pool.waiting.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn policy() {
        assert!(check_policy("short", "a@b.c").is_err());
        assert!(check_policy("aaaaaaaaaaaaaaaa", "a@b.c").is_err());
        assert!(check_policy("alice-is-great-2026", "alice@example.com").is_err());
        assert!(check_policy("a fine long passphrase", "alice@example.com").is_ok());
        assert!(check_policy(&"ab1!x".repeat(60), "a@b.c").is_err());
    }
}
