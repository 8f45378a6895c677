//! HD wallets inside a keyspace: seeds stored as records (kind `d`: the mnemonic's entropy and
//! the BIP39 seed, never the words, never the passphrase), and keys derived from them stored as
//! key pairs (see [`crate::hd`] for the derivation and its vectors).

use kvstore::KVStore;
use zeroize::Zeroizing;

use crate::format::{decode_seed, encode_seed, Kind};
use crate::hd::{self, MnemonicLength};
use crate::keyspace::{validate_name, MAX_ITEM_NAME_LEN};
use crate::records::{Edit, OnConflict};
use crate::vault::Access;
use crate::{Derivation, KeyInfo, KeyType, Result, Vault};
// Named in the docs only.
#[cfg(doc)]
use crate::Error;

impl<S: KVStore> Vault<S> {
    /// Generates a BIP39 mnemonic, stores its seed (with `passphrase`, empty for none) as seed
    /// `name`, and returns the words, to show the user once (they can be exported again with
    /// [`export_mnemonic`](Self::export_mnemonic); the passphrase cannot).
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyExists`] if the keyspace has a seed of that name; [`Error::InvalidInput`]
    /// for a bad name; [`Error::RandomSource`]; with [`Access::Password`], what
    /// [`unlock`](Self::unlock) fails with; storage failures.
    pub async fn generate_seed<'a>(
        &self,
        access: impl Into<Access<'a>>,
        name: &str,
        length: MnemonicLength,
        passphrase: &str,
    ) -> Result<Zeroizing<String>> {
        let words = hd::generate_mnemonic(length)?;
        self.import_mnemonic(access, name, &words, passphrase)
            .await?;
        Ok(words)
    }

    /// Stores the seed of BIP39 `mnemonic` (English, checksum checked) with `passphrase`
    /// (empty for none) as seed `name`. The words are not stored, only their entropy, so they
    /// can be exported again; the passphrase is not stored at all.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a bad mnemonic or name; [`Error::AlreadyExists`]; with
    /// [`Access::Password`], what [`unlock`](Self::unlock) fails with; storage failures.
    pub async fn import_mnemonic<'a>(
        &self,
        access: impl Into<Access<'a>>,
        name: &str,
        mnemonic: &str,
        passphrase: &str,
    ) -> Result<()> {
        validate_name("seed", name, MAX_ITEM_NAME_LEN)?;
        let (seed, entropy) = hd::mnemonic_seed_and_entropy(mnemonic, passphrase)?;
        let payload = encode_seed(&entropy, &seed);
        let ks = self.resolve(access.into()).await?;
        let edit = Edit::Put {
            kind: Kind::Seed,
            name,
            payload: &payload,
            create: true,
        };
        self.commit(&ks, &[edit], OnConflict::Retry).await?;
        Ok(())
    }

    /// The words of seed `name`: as sensitive as every key derived from it; call it only on
    /// the user's explicit request.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`]; [`Error::Corrupted`] for an altered record; with
    /// [`Access::Password`], what [`unlock`](Self::unlock) fails with; storage failures.
    pub async fn export_mnemonic<'a>(
        &self,
        access: impl Into<Access<'a>>,
        name: &str,
    ) -> Result<Zeroizing<String>> {
        let ks = self.resolve(access.into()).await?;
        let (entropy, _) = decode_seed(&self.read_checked(&ks, Kind::Seed, name).await?)?;
        hd::mnemonic_from_entropy(&entropy)
    }

    /// The names of the keyspace's seeds, sorted.
    ///
    /// # Errors
    ///
    /// As [`list_secrets`](Self::list_secrets).
    pub async fn list_seeds<'a>(&self, access: impl Into<Access<'a>>) -> Result<Vec<String>> {
        let ks = self.resolve(access.into()).await?;
        Ok(self
            .list_records(&ks, Kind::Seed)
            .await?
            .into_iter()
            .map(|(name, _)| name)
            .collect())
    }

    /// Deletes seed `name` (keys derived from it stay).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`]; with [`Access::Password`], what [`unlock`](Self::unlock) fails
    /// with; storage failures.
    pub async fn delete_seed<'a>(&self, access: impl Into<Access<'a>>, name: &str) -> Result<()> {
        let ks = self.resolve(access.into()).await?;
        self.delete_record(&ks, Kind::Seed, name).await
    }

    /// Derives the `key_type` key at `path` of seed `seed` (BIP32 for secp256k1, SLIP-0010
    /// for Ed25519) and stores it as key pair `key_name`, which then lists, signs and exports
    /// like any other.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown seed; [`Error::InvalidInput`] for a bad path (an
    /// Ed25519 path must be hardened throughout) or name; [`Error::AlreadyExists`] for a key
    /// pair of that name; with [`Access::Password`], what [`unlock`](Self::unlock) fails with;
    /// storage failures.
    pub async fn derive_key<'a>(
        &self,
        access: impl Into<Access<'a>>,
        seed: &str,
        key_name: &str,
        key_type: KeyType,
        path: &str,
    ) -> Result<KeyInfo> {
        let access = access.into();
        let ks = self.resolve(access).await?;
        let seed_name = seed;
        let (_, seed) = decode_seed(&self.read_checked(&ks, Kind::Seed, seed).await?)?;
        let key = hd::derive_key(&seed, key_type, path)?;
        let derivation = Derivation {
            seed: seed_name.to_owned(),
            path: path.to_owned(),
        };
        self.store_key(Access::Unlocked(&ks), key_name, key, Some(derivation))
            .await
    }
}
