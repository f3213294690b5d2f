//! Token-signing keys: Ed25519, stored in the database with the private half
//! sealed (ChaCha20-Poly1305) under the deployment's master key, so every
//! daemon sharing the database signs and verifies with the same keys.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use chrono::Utc;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use ed25519_dalek::SigningKey;
use jsonwebtoken::{DecodingKey, EncodingKey};
use zeroize::Zeroizing;

use crate::store::{DynStore, SigningKeyRecord};

/// The 32-byte key that seals private keys at rest.
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

impl MasterKey {
    /// Reads the key file (64 hex characters). When `create` is set and the
    /// file is missing, writes a fresh random key with mode 0600.
    pub fn load_or_create(path: &Path, create: bool) -> anyhow::Result<Self> {
        if !path.exists() {
            anyhow::ensure!(create, "master key file {} does not exist", path.display());
            let key: [u8; 32] = rand::random();
            write_private(path, hex_encode(&key).as_bytes())?;
            tracing::info!(path = %path.display(), "created a new master key");
        }
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read master key {}", path.display()))?,
        );
        let bytes = hex_decode(text.trim())
            .filter(|b| b.len() == 32)
            .with_context(|| format!("{} must hold 64 hex characters", path.display()))?;
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&bytes);
        Ok(Self(key))
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(self.0.as_ref()))
    }

    /// `nonce || ciphertext`, bound to `context` (the key id).
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> anyhow::Result<Vec<u8>> {
        let nonce: [u8; 12] = rand::random();
        let ct = self
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .map_err(|_| anyhow::anyhow!("sealing failed"))?;
        Ok([nonce.as_slice(), &ct].concat())
    }

    pub fn open(&self, sealed: &[u8], context: &[u8]) -> anyhow::Result<Zeroizing<Vec<u8>>> {
        anyhow::ensure!(sealed.len() > 12, "sealed value too short");
        let (nonce, ct) = sealed.split_at(12);
        self.cipher()
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: context,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| {
                anyhow::anyhow!("cannot open sealed key: wrong master key or corrupted data")
            })
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot create {}", path.display()))
}

pub fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

pub use loki_shared::api::Jwk;

struct Verifier {
    key: DecodingKey,
    jwk: Jwk,
}

struct KeySet {
    current: Option<(String, EncodingKey)>,
    verifiers: HashMap<String, Verifier>,
    loaded_at: Instant,
}

/// Signing keys for access tokens, cached in memory.
pub struct TokenKeys {
    store: DynStore,
    master: Arc<MasterKey>,
    /// A superseded key stays in the JWKS (and verifies) this long: the
    /// lifetime of the tokens it signed, plus a margin.
    retire_after: chrono::Duration,
    set: RwLock<KeySet>,
}

/// Unknown key ids reload from the database at most this often, so forged
/// `kid`s cannot turn into a database flood.
const RELOAD_EVERY: Duration = Duration::from_secs(5);

impl TokenKeys {
    /// Loads the keys, creating the first one when there is none.
    pub async fn load(
        store: DynStore,
        master: Arc<MasterKey>,
        token_ttl_secs: u64,
    ) -> anyhow::Result<Self> {
        let keys = Self {
            store,
            master,
            retire_after: chrono::Duration::seconds(
                i64::try_from(token_ttl_secs).unwrap_or(1800) + 300,
            ),
            set: RwLock::new(KeySet {
                current: None,
                verifiers: HashMap::new(),
                loaded_at: Instant::now(),
            }),
        };
        if keys.store.signing_keys().await?.is_empty() {
            keys.rotate().await?;
        } else {
            keys.reload().await?;
        }
        Ok(keys)
    }

    /// Creates a new key; new tokens use it, tokens signed by older keys stay
    /// valid (their keys stay in the JWKS).
    pub async fn rotate(&self) -> anyhow::Result<String> {
        let signing = SigningKey::generate(&mut rand::rngs::OsRng);
        let kid = format!("k{}", uuid::Uuid::now_v7().simple());
        let sealed = self.master.seal(signing.as_bytes(), kid.as_bytes())?;
        self.store
            .insert_signing_key(SigningKeyRecord {
                kid: kid.clone(),
                public_key: signing.verifying_key().as_bytes().to_vec(),
                private_key_enc: sealed,
                created_at: Utc::now(),
            })
            .await?;
        self.reload().await?;
        Ok(kid)
    }

    pub async fn reload(&self) -> anyhow::Result<()> {
        let records = self.store.signing_keys().await?;
        let mut verifiers = HashMap::new();
        let now = Utc::now();
        for (i, r) in records.iter().enumerate() {
            // Superseded when the next key was created; dropped once every
            // token it signed has expired.
            let superseded = records.get(i + 1).map(|next| next.created_at);
            if superseded.is_some_and(|t| t + self.retire_after < now) {
                continue;
            }
            let x = URL_SAFE_NO_PAD.encode(&r.public_key);
            verifiers.insert(
                r.kid.clone(),
                Verifier {
                    key: DecodingKey::from_ed_components(&x)?,
                    jwk: Jwk {
                        kty: "OKP".into(),
                        crv: "Ed25519".into(),
                        alg: "EdDSA".into(),
                        use_: "sig".into(),
                        kid: r.kid.clone(),
                        x,
                    },
                },
            );
        }
        // The newest key signs (records are ordered by creation).
        let current = match records.last() {
            Some(r) => {
                let seed = self.master.open(&r.private_key_enc, r.kid.as_bytes())?;
                let seed: [u8; 32] = seed
                    .as_slice()
                    .try_into()
                    .context("stored signing key has the wrong length")?;
                let der = SigningKey::from_bytes(&seed)
                    .to_pkcs8_der()
                    .map_err(|e| anyhow::anyhow!("pkcs8: {e}"))?;
                Some((r.kid.clone(), EncodingKey::from_ed_der(der.as_bytes())))
            }
            None => None,
        };
        let mut set = self.set.write().unwrap_or_else(|p| p.into_inner());
        *set = KeySet {
            current,
            verifiers,
            loaded_at: Instant::now(),
        };
        Ok(())
    }

    /// The key id and key that sign new tokens.
    pub fn current(&self) -> Option<(String, EncodingKey)> {
        self.set
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .current
            .clone()
    }

    /// Whether `kid` is a loaded verification key (no reload).
    pub fn knows(&self, kid: &str) -> bool {
        self.set
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .verifiers
            .contains_key(kid)
    }

    /// The verification key for `kid`, reloading (rate-limited) if unknown —
    /// another daemon may have rotated.
    pub async fn decoding_key(&self, kid: &str) -> Option<DecodingKey> {
        let stale = {
            let set = self.set.read().unwrap_or_else(|p| p.into_inner());
            if let Some(v) = set.verifiers.get(kid) {
                return Some(v.key.clone());
            }
            set.loaded_at.elapsed() >= RELOAD_EVERY
        };
        if stale {
            if let Err(e) = self.reload().await {
                tracing::warn!(error = %e, "reloading signing keys failed");
            }
            let set = self.set.read().unwrap_or_else(|p| p.into_inner());
            return set.verifiers.get(kid).map(|v| v.key.clone());
        }
        None
    }

    pub fn jwks(&self) -> Vec<Jwk> {
        let set = self.set.read().unwrap_or_else(|p| p.into_inner());
        let mut keys: Vec<Jwk> = set.verifiers.values().map(|v| v.jwk.clone()).collect();
        keys.sort_by(|a, b| a.kid.cmp(&b.kid));
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_and_context_binding() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("master.key");
        let mk = MasterKey::load_or_create(&path, true).expect("create");
        let again = MasterKey::load_or_create(&path, false).expect("reload");
        let sealed = mk.seal(b"seed", b"kid1").expect("seal");
        assert_eq!(
            again.open(&sealed, b"kid1").expect("open").as_slice(),
            b"seed"
        );
        assert!(mk.open(&sealed, b"kid2").is_err());
        assert!(!format!("{mk:?}").contains(&hex_encode(mk.0.as_ref())));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn missing_configured_key_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(MasterKey::load_or_create(&dir.path().join("nope"), false).is_err());
    }
}
