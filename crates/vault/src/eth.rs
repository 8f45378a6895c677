//! Ethereum signing: recoverable signatures over a 32-byte hash, EIP-712 typed data (in the
//! specification's encoding and in MetaMask's `eth_signTypedData_v4` encoding), and typed
//! transactions (legacy with EIP-155, EIP-2930, EIP-1559, EIP-7702) signed to the raw bytes a
//! node's `eth_sendRawTransaction` takes.
//!
//! The transaction types, their RLP and EIP-2718 envelopes and signing hashes are alloy's
//! (`alloy-consensus`, `alloy-eips`); EIP-712 atomic values are parsed by `alloy-dyn-abi`. The
//! signatures are the vault's own secp256k1 (k256: RFC 6979 nonces, low S).
//!
//! Vectors: `tests/fixtures/eth` (EIP-712's `Example.js`, eth-sig-util's V4 and EIP-7702
//! tests, ethereum/tests `TransactionTests` and type 1 and 2 transactions of its valid
//! `BlockchainTests` blocks, the EIP-155 example, go-ethereum's raw EIP-7702 transactions), from
//! `scripts/extract-eth-vectors.py`.

use std::collections::{BTreeMap, BTreeSet};

use alloy_consensus::{SignableTransaction, TxEip1559, TxEip2930, TxEip7702, TxEnvelope, TxLegacy};
use alloy_dyn_abi::DynSolType;
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_eips::eip2930::{AccessList, AccessListItem};
use alloy_eips::eip7702::{Authorization, SignedAuthorization};
use alloy_primitives::{Address, Bytes, Signature, TxKind, B256, U256};
use k256::ecdsa::{RecoveryId, Signature as EcdsaSignature, SigningKey, VerifyingKey};
use serde_json::{Map, Value};
use sha3::{Digest, Keccak256};

use kvstore::KVStore;

use crate::keys::{address_of, parse_eth_address, PrivateKey};
use crate::vault::Access;
use crate::{Error, Result, Vault};

/// A recoverable secp256k1 signature: `r`, `s` (low S) and the parity of the nonce point's y
/// (the recovery id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthSignature {
    /// The x coordinate of the nonce point, reduced mod n (big-endian).
    pub r: [u8; 32],
    /// The proof, always in the lower half of the order (big-endian).
    pub s: [u8; 32],
    /// The parity of the nonce point's y coordinate (0 or 1 as `false`/`true`).
    pub y_parity: bool,
}

impl EthSignature {
    /// `v` as `personal_sign` and `eth_signTypedData` give it: 27 + the parity.
    pub fn v(&self) -> u8 {
        27 + self.y_parity as u8
    }

    /// The 65 bytes r ‖ s ‖ v (v = 27 or 28), as wallets return them.
    pub fn to_bytes(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        out[..32].copy_from_slice(&self.r);
        out[32..64].copy_from_slice(&self.s);
        out[64] = self.v();
        out
    }

    /// Parses 65 bytes r ‖ s ‖ v, v in {0, 1, 27, 28}.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for another length or v.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bytes: &[u8; 65] = bytes
            .try_into()
            .map_err(|_| Error::InvalidInput("an Ethereum signature has 65 bytes".into()))?;
        let y_parity = match bytes[64] {
            0 | 27 => false,
            1 | 28 => true,
            v => {
                return Err(Error::InvalidInput(format!(
                    "Ethereum signature has invalid v = {v}"
                )))
            }
        };
        let mut r = [0u8; 32];
        let mut s = [0u8; 32];
        r.copy_from_slice(&bytes[..32]);
        s.copy_from_slice(&bytes[32..64]);
        Ok(EthSignature { r, s, y_parity })
    }

    /// The address whose key made this signature over `hash`, or `None` when no key does
    /// (r or s out of range, a high S, which Ethereum rejects since Homestead, or no point).
    pub fn recover(&self, hash: &[u8; 32]) -> Option<[u8; 20]> {
        let mut rs = [0u8; 64];
        rs[..32].copy_from_slice(&self.r);
        rs[32..].copy_from_slice(&self.s);
        let signature = EcdsaSignature::from_slice(&rs).ok()?;
        if signature.normalize_s().is_some() {
            return None;
        }
        let recovery = RecoveryId::new(self.y_parity, false);
        VerifyingKey::recover_from_prehash(hash, &signature, recovery)
            .ok()
            .map(|key| address_of(&key))
    }

    fn to_alloy(self) -> Signature {
        Signature::new(
            U256::from_be_bytes(self.r),
            U256::from_be_bytes(self.s),
            self.y_parity,
        )
    }

    fn from_alloy(signature: &Signature) -> Self {
        EthSignature {
            r: signature.r().to_be_bytes(),
            s: signature.s().to_be_bytes(),
            y_parity: signature.v(),
        }
    }
}

/// ECDSA over a 32-byte prehash, recoverable (RFC 6979 nonce, low S).
pub(crate) fn sign_prehash(key: &SigningKey, hash: &[u8; 32]) -> Result<EthSignature> {
    let (signature, recovery) = key
        .sign_prehash_recoverable(hash)
        .map_err(|_| Error::InvalidInput("signing failed".into()))?;
    let bytes = signature.to_bytes();
    let mut r = [0u8; 32];
    let mut s = [0u8; 32];
    r.copy_from_slice(&bytes[..32]);
    s.copy_from_slice(&bytes[32..]);
    Ok(EthSignature {
        r,
        s,
        y_parity: recovery.is_y_odd(),
    })
}

fn keccak(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Keccak256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

// ---------------------------------------------------------------------------------- EIP-712

/// How EIP-712 encodes an array whose elements are structs. The two disagree only there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TypedDataEncoding {
    /// MetaMask's `eth_signTypedData_v4` (eth-sig-util `SignTypedDataVersion.V4`), which is also
    /// what ethers, viem, alloy and geth compute: an array of structs is the hash of its
    /// elements' `hashStruct`s; a struct-typed field given as `null` is 32 zero bytes. What
    /// dapps expect: the default.
    MetaMaskV4,
    /// The EIP's text read literally: an array of structs is the hash of its elements'
    /// `encodeData` (without their type hash); a missing value is an error.
    Spec,
}

/// The parsed `types` of a typed-data message: type name → its fields (name, type).
struct Types(BTreeMap<String, Vec<(String, String)>>);

/// At most this many bytes of typed-data JSON, fields per struct, and nested levels: a
/// message is something a person reads before signing.
const MAX_TYPED_DATA_LEN: usize = 1 << 20;
const MAX_DEPTH: usize = 32;

fn bad_typed_data(why: impl std::fmt::Display) -> Error {
    Error::InvalidInput(format!("typed data: {why}"))
}

impl Types {
    fn parse(value: &Value) -> Result<Types> {
        let object = value
            .as_object()
            .ok_or_else(|| bad_typed_data("\"types\" is not an object"))?;
        let mut types = BTreeMap::new();
        for (name, fields) in object {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
            {
                return Err(bad_typed_data(format!("bad type name {name:?}")));
            }
            let fields = fields
                .as_array()
                .ok_or_else(|| bad_typed_data(format!("type {name} is not an array")))?;
            let mut parsed = Vec::with_capacity(fields.len());
            for field in fields {
                let get = |key: &str| {
                    field
                        .get(key)
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .ok_or_else(|| {
                            bad_typed_data(format!("a field of {name} has no string \"{key}\""))
                        })
                };
                parsed.push((get("name")?, get("type")?));
            }
            types.insert(name.clone(), parsed);
        }
        Ok(Types(types))
    }

    /// The struct type named by `ty` once its array suffixes are removed.
    fn base(ty: &str) -> &str {
        ty.split('[').next().unwrap_or(ty)
    }

    /// `encodeType`: the primary type, then the types it references, sorted by name.
    fn encode_type(&self, primary: &str) -> Result<String> {
        let mut found = BTreeSet::new();
        self.dependencies(primary, &mut found);
        found.remove(primary);
        let mut out = String::new();
        for name in std::iter::once(primary).chain(found.iter().map(String::as_str)) {
            let fields = self
                .0
                .get(name)
                .ok_or_else(|| bad_typed_data(format!("undefined type {name}")))?;
            out.push_str(name);
            out.push('(');
            for (i, (field, ty)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(ty);
                out.push(' ');
                out.push_str(field);
            }
            out.push(')');
        }
        Ok(out)
    }

    fn dependencies(&self, ty: &str, found: &mut BTreeSet<String>) {
        let base = Self::base(ty);
        if found.contains(base) {
            return;
        }
        let Some(fields) = self.0.get(base) else {
            return;
        };
        found.insert(base.to_owned());
        for (_, field_type) in fields {
            self.dependencies(field_type, found);
        }
    }

    fn type_hash(&self, primary: &str) -> Result<[u8; 32]> {
        Ok(keccak(&[self.encode_type(primary)?.as_bytes()]))
    }

    fn hash_struct(
        &self,
        ty: &str,
        value: &Value,
        mode: TypedDataEncoding,
        depth: usize,
    ) -> Result<[u8; 32]> {
        let mut data = self.type_hash(ty)?.to_vec();
        data.extend(self.encode_data(ty, value, mode, depth)?);
        Ok(keccak(&[&data]))
    }

    /// `encodeData` without the type hash: each member's 32-byte encoding.
    fn encode_data(
        &self,
        ty: &str,
        value: &Value,
        mode: TypedDataEncoding,
        depth: usize,
    ) -> Result<Vec<u8>> {
        if depth > MAX_DEPTH {
            return Err(bad_typed_data(format!("nested deeper than {MAX_DEPTH}")));
        }
        let fields = self
            .0
            .get(ty)
            .ok_or_else(|| bad_typed_data(format!("undefined type {ty}")))?;
        let object = value
            .as_object()
            .ok_or_else(|| bad_typed_data(format!("a value of type {ty} is not an object")))?;
        let mut out = Vec::with_capacity(32 * fields.len());
        for (name, field_type) in fields {
            let field_value = object.get(name).unwrap_or(&Value::Null);
            out.extend(self.encode_field(name, field_type, field_value, mode, depth + 1)?);
        }
        Ok(out)
    }

    fn encode_field(
        &self,
        name: &str,
        ty: &str,
        value: &Value,
        mode: TypedDataEncoding,
        depth: usize,
    ) -> Result<[u8; 32]> {
        if depth > MAX_DEPTH {
            return Err(bad_typed_data(format!("nested deeper than {MAX_DEPTH}")));
        }
        if let Some(element_type) = ty.strip_suffix(']') {
            let (element_type, length) = element_type
                .rsplit_once('[')
                .ok_or_else(|| bad_typed_data(format!("bad type {ty}")))?;
            let items = value
                .as_array()
                .ok_or_else(|| bad_typed_data(format!("field {name} ({ty}) is not an array")))?;
            if !length.is_empty() && length.parse::<usize>().ok() != Some(items.len()) {
                return Err(bad_typed_data(format!(
                    "field {name} ({ty}) has {} elements",
                    items.len()
                )));
            }
            let mut concatenated = Vec::with_capacity(32 * items.len());
            for item in items {
                if mode == TypedDataEncoding::Spec && self.0.contains_key(element_type) {
                    concatenated.extend(self.encode_data(element_type, item, mode, depth + 1)?);
                } else {
                    concatenated.extend(self.encode_field(
                        name,
                        element_type,
                        item,
                        mode,
                        depth + 1,
                    )?);
                }
            }
            return Ok(keccak(&[&concatenated]));
        }
        if self.0.contains_key(ty) {
            if value.is_null() && mode == TypedDataEncoding::MetaMaskV4 {
                return Ok([0u8; 32]);
            }
            return self.hash_struct(ty, value, mode, depth + 1);
        }
        if value.is_null() {
            return Err(bad_typed_data(format!(
                "missing value for field {name} ({ty})"
            )));
        }
        match ty {
            "string" => {
                let text = value.as_str().ok_or_else(|| {
                    bad_typed_data(format!("field {name} (string) is not a string"))
                })?;
                Ok(keccak(&[text.as_bytes()]))
            }
            "bytes" => {
                let text = value.as_str().ok_or_else(|| {
                    bad_typed_data(format!("field {name} (bytes) is not a hex string"))
                })?;
                Ok(keccak(&[&hex_bytes(text).map_err(|why| {
                    bad_typed_data(format!("field {name} (bytes): {why}"))
                })?]))
            }
            _ => {
                let sol_type = DynSolType::parse(ty)
                    .map_err(|_| bad_typed_data(format!("field {name} has unknown type {ty}")))?;
                let encoded = sol_type
                    .coerce_json(value)
                    .map_err(|why| bad_typed_data(format!("field {name} ({ty}): {why}")))?
                    .abi_encode();
                encoded.as_slice().try_into().map_err(|_| {
                    bad_typed_data(format!("field {name} has a type that is not atomic: {ty}"))
                })
            }
        }
    }
}

/// The EIP-712 hash to sign of a typed-data message given as the JSON that
/// `eth_signTypedData_v4` takes: `{"types", "primaryType", "domain", "message"}`.
/// `types` must define `EIP712Domain`.
///
/// # Errors
///
/// [`Error::InvalidInput`] naming what is wrong: not JSON, a missing or undefined type, a value
/// that does not fit its type, nesting deeper than 32 levels, over 1 MiB.
pub fn typed_data_hash(json: &str, encoding: TypedDataEncoding) -> Result<[u8; 32]> {
    if json.len() > MAX_TYPED_DATA_LEN {
        return Err(bad_typed_data("larger than 1 MiB"));
    }
    let data: Value =
        serde_json::from_str(json).map_err(|e| bad_typed_data(format!("not JSON: {e}")))?;
    let get = |key: &str| {
        data.get(key)
            .ok_or_else(|| bad_typed_data(format!("no \"{key}\"")))
    };
    let types = Types::parse(get("types")?)?;
    if !types.0.contains_key("EIP712Domain") {
        return Err(bad_typed_data("\"types\" does not define EIP712Domain"));
    }
    let primary = get("primaryType")?
        .as_str()
        .ok_or_else(|| bad_typed_data("\"primaryType\" is not a string"))?;
    let empty = Value::Object(Map::new());
    let domain = data.get("domain").unwrap_or(&empty);
    let domain_separator = types.hash_struct("EIP712Domain", domain, encoding, 0)?;
    let mut preimage = vec![0x19, 0x01];
    preimage.extend_from_slice(&domain_separator);
    if primary != "EIP712Domain" {
        let message = data.get("message").unwrap_or(&empty);
        preimage.extend_from_slice(&types.hash_struct(primary, message, encoding, 0)?);
    }
    Ok(keccak(&[&preimage]))
}

fn hex_bytes(text: &str) -> std::result::Result<Vec<u8>, String> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .ok_or_else(|| format!("{text:?} is not 0x-prefixed hex"))?;
    hex::decode(digits).map_err(|_| format!("{text:?} is not hex"))
}

// ------------------------------------------------------------------------------ transactions

/// An unsigned Ethereum transaction, parsed from the JSON object wallets and libraries pass to
/// `eth_signTransaction` (ethers' and viem's field names are accepted).
///
/// Fields: `type` (0 legacy, 1 EIP-2930, 2 EIP-1559, 4 EIP-7702, as a number, a hex string or
/// a name; inferred from the fee and list fields when absent), `chainId` (required: legacy
/// transactions are signed with EIP-155 replay protection), `nonce`, `gasLimit` (or `gas`),
/// `gasPrice` (types 0 and 1), `maxFeePerGas` and `maxPriorityFeePerGas` (types 2 and 4), `to`
/// (absent or `null` to create a contract, not for type 4), `value`, `data` (or `input`),
/// `accessList` (`[{address, storageKeys}]`), `authorizationList` (type 4: signed
/// authorizations `{chainId, address, nonce, yParity, r, s}`, see
/// [`Vault::sign_authorization`](crate::Vault::sign_authorization)), and `from`, which, when
/// given, must be the signing key's address. Quantities are JSON numbers, decimal strings or
/// `0x` hex strings. Unknown fields are errors (a misspelt fee field must not be dropped).
#[derive(Debug, Clone, PartialEq)]
pub struct Transaction {
    inner: Unsigned,
    from: Option<[u8; 20]>,
}

#[derive(Debug, Clone, PartialEq)]
enum Unsigned {
    Legacy(TxLegacy),
    Eip2930(TxEip2930),
    Eip1559(TxEip1559),
    Eip7702(TxEip7702),
}

const TX_FIELDS: &[&str] = &[
    "type",
    "chainId",
    "nonce",
    "gasLimit",
    "gas",
    "gasPrice",
    "maxFeePerGas",
    "maxPriorityFeePerGas",
    "to",
    "value",
    "data",
    "input",
    "accessList",
    "authorizationList",
    "from",
];

fn bad_tx(why: impl std::fmt::Display) -> Error {
    Error::InvalidInput(format!("transaction: {why}"))
}

/// A quantity as a JSON number, a decimal string or a `0x` hex string.
fn quantity(value: &Value, field: &str) -> Result<U256> {
    let bad = || bad_tx(format!("{field} is not a quantity: {value}"));
    match value {
        Value::Number(n) => n.as_u64().map(U256::from).ok_or_else(bad),
        Value::String(s) => {
            if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                if hex.is_empty() {
                    return Ok(U256::ZERO);
                }
                U256::from_str_radix(hex, 16).map_err(|_| bad())
            } else if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                U256::from_str_radix(s, 10).map_err(|_| bad())
            } else {
                Err(bad())
            }
        }
        _ => Err(bad()),
    }
}

fn small<T: TryFrom<U256>>(value: &Value, field: &str) -> Result<T> {
    T::try_from(quantity(value, field)?).map_err(|_| bad_tx(format!("{field} is too large")))
}

fn address(value: &Value, field: &str) -> Result<Address> {
    let text = value
        .as_str()
        .ok_or_else(|| bad_tx(format!("{field} is not an address string")))?;
    Ok(Address::from(parse_eth_address(text)?))
}

fn b256(value: &Value, field: &str) -> Result<B256> {
    let text = value
        .as_str()
        .ok_or_else(|| bad_tx(format!("{field} is not a hex string")))?;
    let bytes = hex_bytes(text).map_err(bad_tx)?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| bad_tx(format!("{field} is not 32 bytes")))?;
    Ok(B256::from(bytes))
}

fn access_list(value: &Value) -> Result<AccessList> {
    let items = value
        .as_array()
        .ok_or_else(|| bad_tx("accessList is not an array"))?;
    let mut list = Vec::with_capacity(items.len());
    for item in items {
        let address = address(
            item.get("address")
                .ok_or_else(|| bad_tx("an accessList entry has no address"))?,
            "accessList address",
        )?;
        let keys = match item.get("storageKeys") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(keys)) => keys
                .iter()
                .map(|key| b256(key, "accessList storage key"))
                .collect::<Result<_>>()?,
            Some(_) => return Err(bad_tx("storageKeys is not an array")),
        };
        list.push(AccessListItem {
            address,
            storage_keys: keys,
        });
    }
    Ok(AccessList(list))
}

fn authorization_list(value: &Value) -> Result<Vec<SignedAuthorization>> {
    let items = value
        .as_array()
        .ok_or_else(|| bad_tx("authorizationList is not an array"))?;
    items
        .iter()
        .map(|item| {
            let get = |key: &str| {
                item.get(key)
                    .ok_or_else(|| bad_tx(format!("an authorization has no {key}")))
            };
            let y_parity: u8 = small(get("yParity")?, "yParity")?;
            if y_parity > 1 {
                return Err(bad_tx("an authorization's yParity is not 0 or 1"));
            }
            Ok(SignedAuthorization::new_unchecked(
                Authorization {
                    chain_id: quantity(get("chainId")?, "authorization chainId")?,
                    address: address(get("address")?, "authorization address")?,
                    nonce: small(get("nonce")?, "authorization nonce")?,
                },
                y_parity,
                quantity(get("r")?, "authorization r")?,
                quantity(get("s")?, "authorization s")?,
            ))
        })
        .collect()
}

impl Transaction {
    /// Parses the JSON object described on [`Transaction`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the field: not JSON, an unknown or missing field, a
    /// field that does not belong to the type, a value out of range, a bad address.
    pub fn from_json(json: &str) -> Result<Transaction> {
        if json.len() > MAX_TYPED_DATA_LEN {
            return Err(bad_tx("larger than 1 MiB"));
        }
        let value: Value =
            serde_json::from_str(json).map_err(|e| bad_tx(format!("not JSON: {e}")))?;
        let object = value
            .as_object()
            .ok_or_else(|| bad_tx("not a JSON object"))?;
        if let Some(unknown) = object.keys().find(|k| !TX_FIELDS.contains(&k.as_str())) {
            return Err(bad_tx(format!("unknown field {unknown:?}")));
        }
        let field = |name: &str| object.get(name).filter(|v| !v.is_null());
        let tx_type: u8 = match field("type") {
            Some(Value::String(name)) if name == "legacy" => 0,
            Some(Value::String(name)) if name == "eip2930" => 1,
            Some(Value::String(name)) if name == "eip1559" => 2,
            Some(Value::String(name)) if name == "eip7702" => 4,
            Some(value) => small(value, "type")?,
            None if field("authorizationList").is_some() => 4,
            None if field("maxFeePerGas").is_some() || field("maxPriorityFeePerGas").is_some() => 2,
            None if field("accessList").is_some() => 1,
            None => 0,
        };
        let required = |name: &str| field(name).ok_or_else(|| bad_tx(format!("no {name}")));
        let forbid = |names: &[&str]| -> Result<()> {
            match names.iter().find(|name| field(name).is_some()) {
                Some(name) => Err(bad_tx(format!("{name} is not a field of type {tx_type}"))),
                None => Ok(()),
            }
        };
        let chain_id: u64 = small(required("chainId")?, "chainId")?;
        let nonce: u64 = small(required("nonce")?, "nonce")?;
        let gas_limit: u64 = match (field("gasLimit"), field("gas")) {
            (Some(_), Some(_)) => return Err(bad_tx("both gasLimit and gas")),
            (Some(v), None) | (None, Some(v)) => small(v, "gasLimit")?,
            (None, None) => return Err(bad_tx("no gasLimit")),
        };
        let to = match field("to") {
            Some(v) => TxKind::Call(address(v, "to")?),
            None => TxKind::Create,
        };
        let value = field("value")
            .map(|v| quantity(v, "value"))
            .transpose()?
            .unwrap_or_default();
        let input = match (field("data"), field("input")) {
            (Some(_), Some(_)) => return Err(bad_tx("both data and input")),
            (Some(v), None) | (None, Some(v)) => Bytes::from(
                hex_bytes(
                    v.as_str()
                        .ok_or_else(|| bad_tx("data is not a hex string"))?,
                )
                .map_err(bad_tx)?,
            ),
            (None, None) => Bytes::new(),
        };
        let access = field("accessList")
            .map(access_list)
            .transpose()?
            .unwrap_or_default();
        let gas_price = || small::<u128>(required("gasPrice")?, "gasPrice");
        // EIP-1559 fees (types 2 and 4): max fee and max priority fee.
        let fees = || -> Result<(u128, u128)> {
            Ok((
                small(required("maxFeePerGas")?, "maxFeePerGas")?,
                small(required("maxPriorityFeePerGas")?, "maxPriorityFeePerGas")?,
            ))
        };
        let inner = match tx_type {
            0 => {
                forbid(&[
                    "maxFeePerGas",
                    "maxPriorityFeePerGas",
                    "accessList",
                    "authorizationList",
                ])?;
                Unsigned::Legacy(TxLegacy {
                    chain_id: Some(chain_id),
                    nonce,
                    gas_price: gas_price()?,
                    gas_limit,
                    to,
                    value,
                    input,
                })
            }
            1 => {
                forbid(&["maxFeePerGas", "maxPriorityFeePerGas", "authorizationList"])?;
                Unsigned::Eip2930(TxEip2930 {
                    chain_id,
                    nonce,
                    gas_price: gas_price()?,
                    gas_limit,
                    to,
                    value,
                    access_list: access,
                    input,
                })
            }
            2 => {
                forbid(&["gasPrice", "authorizationList"])?;
                let (max_fee_per_gas, max_priority_fee_per_gas) = fees()?;
                Unsigned::Eip1559(TxEip1559 {
                    chain_id,
                    nonce,
                    gas_limit,
                    max_fee_per_gas,
                    max_priority_fee_per_gas,
                    to,
                    value,
                    access_list: access,
                    input,
                })
            }
            4 => {
                forbid(&["gasPrice"])?;
                let TxKind::Call(to) = to else {
                    return Err(bad_tx("a type 4 transaction needs a to address"));
                };
                let authorizations = authorization_list(required("authorizationList")?)?;
                if authorizations.is_empty() {
                    return Err(bad_tx("an empty authorizationList"));
                }
                let (max_fee_per_gas, max_priority_fee_per_gas) = fees()?;
                Unsigned::Eip7702(TxEip7702 {
                    chain_id,
                    nonce,
                    gas_limit,
                    max_fee_per_gas,
                    max_priority_fee_per_gas,
                    to,
                    value,
                    access_list: access,
                    authorization_list: authorizations,
                    input,
                })
            }
            other => {
                return Err(bad_tx(format!(
                    "type {other} is not supported (0, 1, 2 or 4; blob transactions are not)"
                )))
            }
        };
        let from = field("from")
            .map(|v| parse_eth_address(v.as_str().ok_or_else(|| bad_tx("from is not a string"))?))
            .transpose()?;
        Ok(Transaction { inner, from })
    }

    /// The transaction's type byte (0, 1, 2 or 4).
    pub fn tx_type(&self) -> u8 {
        match self.inner {
            Unsigned::Legacy(_) => 0,
            Unsigned::Eip2930(_) => 1,
            Unsigned::Eip1559(_) => 2,
            Unsigned::Eip7702(_) => 4,
        }
    }

    /// The hash a signature covers (keccak of the unsigned encoding; EIP-155 for legacy).
    pub fn signing_hash(&self) -> [u8; 32] {
        match &self.inner {
            Unsigned::Legacy(tx) => tx.signature_hash(),
            Unsigned::Eip2930(tx) => tx.signature_hash(),
            Unsigned::Eip1559(tx) => tx.signature_hash(),
            Unsigned::Eip7702(tx) => tx.signature_hash(),
        }
        .0
    }

    /// The signed transaction's raw bytes (EIP-2718 envelope; RLP for legacy).
    pub(crate) fn encode_signed(&self, signature: EthSignature) -> Vec<u8> {
        let signature = signature.to_alloy();
        let envelope: TxEnvelope = match self.inner.clone() {
            Unsigned::Legacy(tx) => tx.into_signed(signature).into(),
            Unsigned::Eip2930(tx) => tx.into_signed(signature).into(),
            Unsigned::Eip1559(tx) => tx.into_signed(signature).into(),
            Unsigned::Eip7702(tx) => tx.into_signed(signature).into(),
        };
        envelope.encoded_2718()
    }

    /// Signs with `key`, checking `from` when it was given.
    pub(crate) fn sign(&self, key: &SigningKey) -> Result<Vec<u8>> {
        if let Some(from) = self.from {
            let address = address_of(key.verifying_key());
            if from != address {
                return Err(bad_tx(format!(
                    "from is {}, but the key's address is {}",
                    crate::eth_checksum_address(&from),
                    crate::eth_checksum_address(&address)
                )));
            }
        }
        Ok(self.encode_signed(sign_prehash(key, &self.signing_hash())?))
    }
}

/// What a signed raw transaction says about itself: its type, hash and signer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignedTransactionInfo {
    /// 0 (legacy), 1, 2, 3 (blob) or 4.
    pub tx_type: u8,
    /// The transaction hash (keccak of the raw bytes).
    pub hash: [u8; 32],
    /// The address that signed it.
    pub from: [u8; 20],
    /// Its chain id (`None` for a legacy transaction without EIP-155).
    pub chain_id: Option<u64>,
}

/// Decodes raw signed transaction bytes and recovers their signer: to check what a wallet
/// signed, or a transaction received from elsewhere.
///
/// # Errors
///
/// [`Error::InvalidInput`] for bytes that are not one canonical signed transaction, or whose
/// signature recovers no key.
pub fn decode_signed_transaction(raw: &[u8]) -> Result<SignedTransactionInfo> {
    let mut rest = raw;
    let envelope = TxEnvelope::decode_2718(&mut rest)
        .map_err(|e| bad_tx(format!("not a signed transaction: {e}")))?;
    if !rest.is_empty() {
        return Err(bad_tx("trailing bytes after the transaction"));
    }
    if envelope.encoded_2718() != raw {
        return Err(bad_tx("not the canonical encoding"));
    }
    let signature = EthSignature::from_alloy(envelope.signature());
    let from = signature
        .recover(&envelope.signature_hash().0)
        .ok_or_else(|| bad_tx("the signature recovers no key"))?;
    use alloy_consensus::Transaction as _;
    Ok(SignedTransactionInfo {
        tx_type: envelope.tx_type() as u8,
        hash: keccak(&[raw]),
        from,
        chain_id: envelope.chain_id(),
    })
}

/// The EIP-7702 authorization hash of (`chain_id`, `address`, `nonce`):
/// keccak(0x05 ‖ rlp([chain_id, address, nonce])).
pub fn authorization_hash(chain_id: u64, address: &[u8; 20], nonce: u64) -> [u8; 32] {
    authorization(chain_id, address, nonce).signature_hash().0
}

fn authorization(chain_id: u64, address: &[u8; 20], nonce: u64) -> Authorization {
    Authorization {
        chain_id: U256::from(chain_id),
        address: Address::from(*address),
        nonce,
    }
}

/// Signs the EIP-7702 authorization of (`chain_id`, `address`, `nonce`) with `key`: its JSON.
pub(crate) fn sign_authorization(
    key: &PrivateKey,
    chain_id: u64,
    address: &[u8; 20],
    nonce: u64,
) -> Result<String> {
    let signature = key.sign_hash(&authorization_hash(chain_id, address, nonce))?;
    Ok(signed_authorization_json(
        chain_id, address, nonce, signature,
    ))
}

/// The JSON of a signed EIP-7702 authorization, as `authorizationList` entries take it.
fn signed_authorization_json(
    chain_id: u64,
    address: &[u8; 20],
    nonce: u64,
    signature: EthSignature,
) -> String {
    serde_json::json!({
        "chainId": format!("{:#x}", chain_id),
        "address": crate::eth_checksum_address(address),
        "nonce": format!("{:#x}", nonce),
        "yParity": format!("{:#x}", signature.y_parity as u8),
        "r": format!("{:#x}", U256::from_be_bytes(signature.r)),
        "s": format!("{:#x}", U256::from_be_bytes(signature.s)),
    })
    .to_string()
}

impl<S: KVStore> Vault<S> {
    /// Signs a 32-byte hash with secp256k1 key pair `name`, recoverably. Sign only hashes
    /// whose preimage you know: a hash can be a transaction.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an Ed25519 key pair; [`Error::NotFound`];
    /// [`Error::Corrupted`]; with [`Access::Password`], what [`unlock`](Vault::unlock) fails
    /// with; storage failures.
    pub async fn sign_hash<'a>(
        &self,
        access: impl Into<Access<'a>>,
        name: &str,
        hash: &[u8; 32],
    ) -> Result<EthSignature> {
        let ks = self.resolve(access.into()).await?;
        self.private_key(&ks, name).await?.sign_hash(hash)
    }

    /// Signs EIP-712 typed data (the JSON of `eth_signTypedData_v4`) with secp256k1 key pair
    /// `name`; see [`typed_data_hash`].
    ///
    /// # Errors
    ///
    /// As [`typed_data_hash`] and [`sign_hash`](Vault::sign_hash).
    pub async fn sign_typed_data<'a>(
        &self,
        access: impl Into<Access<'a>>,
        name: &str,
        json: &str,
        encoding: TypedDataEncoding,
    ) -> Result<EthSignature> {
        let hash = typed_data_hash(json, encoding)?;
        self.sign_hash(access, name, &hash).await
    }

    /// Signs `transaction` with secp256k1 key pair `name`: the raw bytes to broadcast
    /// (`eth_sendRawTransaction`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an Ed25519 key pair or a `from` that is not the key's
    /// address; otherwise as [`sign_hash`](Vault::sign_hash).
    pub async fn sign_transaction<'a>(
        &self,
        access: impl Into<Access<'a>>,
        name: &str,
        transaction: &Transaction,
    ) -> Result<Vec<u8>> {
        let ks = self.resolve(access.into()).await?;
        transaction.sign(self.private_key(&ks, name).await?.secp256k1()?)
    }

    /// Signs an EIP-7702 authorization (delegate the key's account to the code at `address`
    /// on chain `chain_id`, 0 for every chain, at account nonce `nonce`) with secp256k1 key
    /// pair `name`. Returns the signed authorization as JSON, ready for a type 4
    /// transaction's `authorizationList`. An authorization for chain 0 is valid on every
    /// chain: ask the user twice.
    ///
    /// # Errors
    ///
    /// As [`sign_hash`](Vault::sign_hash).
    pub async fn sign_authorization<'a>(
        &self,
        access: impl Into<Access<'a>>,
        name: &str,
        chain_id: u64,
        address: &[u8; 20],
        nonce: u64,
    ) -> Result<String> {
        let ks = self.resolve(access.into()).await?;
        sign_authorization(
            &self.private_key(&ks, name).await?,
            chain_id,
            address,
            nonce,
        )
    }
}

#[cfg(test)]
mod tests {
    //! Unit tests and the official vectors (fixtures extracted from their sources by
    //! `scripts/extract-eth-vectors.py`, which records each repository and commit).
    use super::*;

    fn fixture(text: &str) -> Value {
        serde_json::from_str(text).expect("fixture JSON")
    }

    fn unhex(text: &str) -> Vec<u8> {
        hex::decode(text.trim_start_matches("0x")).expect("hex")
    }

    fn key(text: &str) -> SigningKey {
        SigningKey::from_slice(&unhex(text)).expect("a secp256k1 key")
    }

    #[test]
    fn a_transaction_with_an_unknown_field_is_refused() {
        let err = Transaction::from_json(
            r#"{"chainId":1,"nonce":0,"gasLimit":21000,"maxFeePerGAS":1,"maxPriorityFeePerGas":1}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("maxFeePerGAS"), "{err}");
    }

    #[test]
    fn the_type_is_inferred_from_the_fields() {
        let tx = |json: &str| Transaction::from_json(json).unwrap().tx_type();
        let base = r#""chainId":1,"nonce":0,"gas":21000,"to":"0x000000000000000000000000000000000000dEaD""#;
        assert_eq!(tx(&format!("{{{base},\"gasPrice\":1}}")), 0);
        assert_eq!(
            tx(&format!("{{{base},\"gasPrice\":1,\"accessList\":[]}}")),
            1
        );
        assert_eq!(
            tx(&format!(
                "{{{base},\"maxFeePerGas\":\"0x2\",\"maxPriorityFeePerGas\":\"1\"}}"
            )),
            2
        );
        let wrong = format!("{{{base},\"gasPrice\":1,\"maxFeePerGas\":2,\"type\":0}}");
        assert!(Transaction::from_json(&wrong).is_err());
    }

    #[test]
    fn a_struct_array_differs_between_the_encodings() {
        let json = r#"{"types":{"EIP712Domain":[],"P":[{"name":"a","type":"uint8"}],
            "M":[{"name":"ps","type":"P[]"}]},"primaryType":"M","domain":{},
            "message":{"ps":[{"a":1},{"a":2}]}}"#;
        let v4 = typed_data_hash(json, TypedDataEncoding::MetaMaskV4).unwrap();
        let spec = typed_data_hash(json, TypedDataEncoding::Spec).unwrap();
        assert_ne!(v4, spec);
        // Without arrays of structs they agree.
        let plain = json
            .replace("P[]", "uint8[]")
            .replace(r#"{"a":1},{"a":2}"#, "1,2");
        assert_eq!(
            typed_data_hash(&plain, TypedDataEncoding::MetaMaskV4).unwrap(),
            typed_data_hash(&plain, TypedDataEncoding::Spec).unwrap()
        );
    }

    #[test]
    fn hostile_typed_data_gets_a_typed_error() {
        let cases = [
            "not json",
            r#"{"types":{},"primaryType":"M","message":{}}"#,
            r#"{"types":{"EIP712Domain":[],"M":[{"name":"a","type":"Undefined"}]},"primaryType":"M","message":{"a":1}}"#,
            r#"{"types":{"EIP712Domain":[],"M":[{"name":"a","type":"uint8"}]},"primaryType":"M","message":{"a":300}}"#,
            r#"{"types":{"EIP712Domain":[],"M":[{"name":"a","type":"uint8[2]"}]},"primaryType":"M","message":{"a":[1]}}"#,
            r#"{"types":{"EIP712Domain":[],"M":[{"name":"a","type":"uint8"}]},"primaryType":"M","message":{}}"#,
        ];
        for json in cases {
            for mode in [TypedDataEncoding::MetaMaskV4, TypedDataEncoding::Spec] {
                let err = typed_data_hash(json, mode).unwrap_err();
                assert!(matches!(err, Error::InvalidInput(_)), "{json}: {err:?}");
            }
        }
        // A self-referencing value nested beyond the limit is refused, not a stack overflow.
        let mut message = String::from("null");
        for _ in 0..100 {
            message = format!(r#"{{"next":{message}}}"#);
        }
        let json = format!(
            r#"{{"types":{{"EIP712Domain":[],"N":[{{"name":"next","type":"N"}}]}},"primaryType":"N","message":{message}}}"#
        );
        assert!(typed_data_hash(&json, TypedDataEncoding::MetaMaskV4).is_err());
    }

    /// EIP-712's own example (`assets/eip-712/Example.js`): every intermediate value and the
    /// signature by keccak("cow").
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn eip712_example() {
        let f = fixture(include_str!("../tests/fixtures/eth/eip712-example.json"));
        let data = &f["typed_data"];
        let types = Types::parse(&data["types"]).unwrap();
        let s = |k: &str| f[k].as_str().unwrap().to_owned();
        assert_eq!(types.encode_type("Mail").unwrap(), s("encode_type_mail"));
        let type_hash = types.type_hash("Mail").unwrap();
        assert_eq!(format!("0x{}", hex::encode(type_hash)), s("type_hash_mail"));
        for mode in [TypedDataEncoding::MetaMaskV4, TypedDataEncoding::Spec] {
            let mut encoded = type_hash.to_vec();
            encoded.extend(
                types
                    .encode_data("Mail", &data["message"], mode, 0)
                    .unwrap(),
            );
            assert_eq!(
                format!("0x{}", hex::encode(encoded)),
                s("encode_data_message")
            );
            let hash = types
                .hash_struct("Mail", &data["message"], mode, 0)
                .unwrap();
            assert_eq!(format!("0x{}", hex::encode(hash)), s("struct_hash_message"));
            let domain = types
                .hash_struct("EIP712Domain", &data["domain"], mode, 0)
                .unwrap();
            assert_eq!(format!("0x{}", hex::encode(domain)), s("domain_separator"));
            let signing = typed_data_hash(&data.to_string(), mode).unwrap();
            assert_eq!(format!("0x{}", hex::encode(signing)), s("signing_hash"));
        }
        let signing = typed_data_hash(&data.to_string(), TypedDataEncoding::Spec).unwrap();
        let cow = keccak(&[s("private_key_preimage").as_bytes()]);
        let key = SigningKey::from_slice(&cow).unwrap();
        assert_eq!(
            format!("0x{}", hex::encode(address_of(key.verifying_key()))),
            s("address")
        );
        let signature = sign_prehash(&key, &signing).unwrap();
        assert_eq!(signature.v() as u64, f["v"].as_u64().unwrap());
        assert_eq!(format!("0x{}", hex::encode(signature.r)), s("r"));
        assert_eq!(format!("0x{}", hex::encode(signature.s)), s("s"));
        assert_eq!(
            signature.recover(&signing),
            Some(address_of(key.verifying_key()))
        );
    }

    /// eth-sig-util's `signTypedData` V4 tests: our MetaMaskV4 signatures are theirs, byte for
    /// byte; the Spec encoding differs exactly where arrays of structs (or missing structs) are.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn eth_sig_util_v4_vectors() {
        let f = fixture(include_str!("../tests/fixtures/eth/eth-sig-util-v4.json"));
        let key = key(f["private_key"].as_str().unwrap());
        let cases = f["cases"].as_array().unwrap();
        assert!(cases.len() >= 5);
        for case in cases {
            let name = case["name"].as_str().unwrap();
            let json = case["data"].to_string();
            let hash = typed_data_hash(&json, TypedDataEncoding::MetaMaskV4).unwrap();
            let signature = sign_prehash(&key, &hash).unwrap();
            assert_eq!(
                format!("0x{}", hex::encode(signature.to_bytes())),
                case["signature"].as_str().unwrap(),
                "{name}"
            );
            let spec = typed_data_hash(&json, TypedDataEncoding::Spec);
            match name {
                "should sign data with a custom data type array" => {
                    assert_ne!(spec.unwrap(), hash, "{name}")
                }
                // A struct value left out (`replyTo` inside `replyTo`) or null: V4 hashes
                // zeros, the specification has no such value.
                "should sign data with a custom type property set to null"
                | "should sign data with a recursive data type" => {
                    assert!(spec.is_err(), "{name}")
                }
                _ => assert_eq!(spec.unwrap(), hash, "{name}"),
            }
        }
    }

    const OVERFLOWING: &[&str] = &[
        "GasLimitPriceProductOverflowtMinusOne",
        "TransactionWithHighGasPrice",
        "V_equals38",
    ];

    /// ethereum/tests TransactionTests: every transaction valid at Cancun decodes to its hash
    /// and sender; those whose filler gives EIP-155 or typed fields are rebuilt from the JSON
    /// fields with the filler's signature, to the same bytes.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn ethereum_transaction_tests() {
        let f = fixture(include_str!("../tests/fixtures/eth/transaction-tests.json"));
        let cases = f["cases"].as_array().unwrap();
        assert!(cases.len() >= 40);
        let (mut decoded, mut rebuilt) = (0, 0);
        for case in cases {
            let name = case["name"].as_str().unwrap();
            let raw = unhex(case["txbytes"].as_str().unwrap());
            match decode_signed_transaction(&raw) {
                Ok(info) => {
                    assert_eq!(
                        format!("0x{}", hex::encode(info.hash)),
                        case["hash"].as_str().unwrap(),
                        "{name}"
                    );
                    assert_eq!(
                        format!("0x{}", hex::encode(info.from)),
                        case["sender"].as_str().unwrap(),
                        "{name}"
                    );
                    decoded += 1;
                }
                // Fees above 2^128 - 1 are valid in the protocol but not representable in
                // alloy's (and geth's txpool's) transaction types: refused with a clear error.
                Err(err) if OVERFLOWING.contains(&name) => {
                    assert!(matches!(err, Error::InvalidInput(_)), "{name}: {err}");
                    continue;
                }
                Err(err) => panic!("{name}: {err}"),
            }
            let Some(fields) = case["transaction"].as_object() else {
                continue;
            };
            let v = quantity(&fields["v"], "v").unwrap();
            let typed = raw[0] < 0x80;
            if !typed && v < U256::from(35) {
                continue; // pre-EIP-155: the vault always signs with a chain id
            }
            let mut json = Map::new();
            json.insert("chainId".into(), 1.into());
            for (key, value) in fields {
                let value = match (key.as_str(), value.as_str()) {
                    ("v" | "r" | "s" | "chainId", _) => continue,
                    ("data", Some(text)) => format!("0x{}", text.trim_start_matches("0x")).into(),
                    (_, Some("")) => "0x0".into(),
                    _ => value.clone(),
                };
                json.insert(key.clone(), value);
            }
            if typed {
                json.insert("type".into(), raw[0].into());
            }
            let tx = Transaction::from_json(&Value::Object(json).to_string())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let signature = EthSignature {
                r: quantity(&fields["r"], "r").unwrap().to_be_bytes(),
                s: quantity(&fields["s"], "s").unwrap().to_be_bytes(),
                y_parity: if typed {
                    v == U256::from(1)
                } else {
                    v == U256::from(38)
                },
            };
            assert_eq!(
                hex::encode(tx.encode_signed(signature)),
                hex::encode(raw),
                "{name}"
            );
            rebuilt += 1;
        }
        assert!(
            decoded + OVERFLOWING.len() == cases.len() && rebuilt >= 10,
            "{decoded} {rebuilt}"
        );
    }

    /// ethereum/tests BlockchainTests: type 1 and 2 transactions of valid blocks, rebuilt from
    /// their JSON fields with their signature: the bytes appear in the block's RLP as they are,
    /// and recover to the block's sender.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn transactions_in_valid_blocks() {
        let f = fixture(include_str!(
            "../tests/fixtures/eth/blockchain-transactions.json"
        ));
        let mut per_type = [0; 3];
        for case in f["cases"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let fields = case["transaction"].as_object().unwrap();
            let mut json = Map::new();
            for (key, value) in fields {
                match (key.as_str(), value.as_str()) {
                    ("v" | "r" | "s" | "sender", _) | ("to", Some("")) => {}
                    _ => {
                        json.insert(key.clone(), value.clone());
                    }
                }
            }
            let tx = Transaction::from_json(&Value::Object(json).to_string())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let signature = EthSignature {
                r: quantity(&fields["r"], "r").unwrap().to_be_bytes(),
                s: quantity(&fields["s"], "s").unwrap().to_be_bytes(),
                y_parity: quantity(&fields["v"], "v").unwrap() == U256::from(1),
            };
            let raw = tx.encode_signed(signature);
            let block = unhex(case["block_rlp"].as_str().unwrap());
            assert!(
                block.windows(raw.len()).any(|w| w == raw.as_slice()),
                "{name}: the signed transaction is not in its block"
            );
            let info = decode_signed_transaction(&raw).unwrap();
            assert_eq!(
                format!("0x{}", hex::encode(info.from)),
                fields["sender"].as_str().unwrap(),
                "{name}"
            );
            per_type[tx.tx_type() as usize] += 1;
        }
        assert!(per_type[1] >= 10 && per_type[2] >= 10, "{per_type:?}");
    }

    /// go-ethereum's tracer test data: raw EIP-7702 transactions from mainnet decode as type 4,
    /// canonically, to a sender their prestate holds.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn eip7702_transactions_from_go_ethereum() {
        let f = fixture(include_str!(
            "../tests/fixtures/eth/eip7702-transactions.json"
        ));
        let cases = f["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 2);
        for case in cases {
            let info = decode_signed_transaction(&unhex(case["raw"].as_str().unwrap())).unwrap();
            assert_eq!(info.tx_type, 4);
            let from = Value::from(format!("0x{}", hex::encode(info.from)));
            assert!(
                case["accounts"].as_array().unwrap().contains(&from),
                "{from}"
            );
        }
    }

    /// EIP-155's example: the signing hash and the signed bytes from the private key.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn eip155_example() {
        let f = fixture(include_str!("../tests/fixtures/eth/eip155-example.json"));
        let tx = Transaction::from_json(&f["transaction"].to_string()).unwrap();
        assert_eq!(
            format!("0x{}", hex::encode(tx.signing_hash())),
            f["signing_hash"].as_str().unwrap()
        );
        let signed = tx.sign(&key(f["private_key"].as_str().unwrap())).unwrap();
        assert_eq!(
            format!("0x{}", hex::encode(signed)),
            f["signed"].as_str().unwrap()
        );
    }

    /// eth-sig-util's EIP-7702 authorization: its hash and signature.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn eip7702_authorization_vector() {
        let f = fixture(include_str!(
            "../tests/fixtures/eth/eip7702-authorization.json"
        ));
        let address: [u8; 20] = unhex(f["address"].as_str().unwrap()).try_into().unwrap();
        let hash = authorization_hash(
            f["chain_id"].as_u64().unwrap(),
            &address,
            f["nonce"].as_u64().unwrap(),
        );
        assert_eq!(hex::encode(hash), f["hash"].as_str().unwrap());
        let signature = sign_prehash(&key(f["private_key"].as_str().unwrap()), &hash).unwrap();
        assert_eq!(
            format!("0x{}", hex::encode(signature.to_bytes())),
            f["signature"].as_str().unwrap()
        );
    }

    /// Each type signs, decodes back to its signer, and a type 4 transaction carries the
    /// authorization signed by the vault.
    #[test]
    fn every_type_signs_and_recovers() {
        let key = key("4646464646464646464646464646464646464646464646464646464646464646");
        let me = address_of(key.verifying_key());
        let auth = signed_authorization_json(
            1,
            &[0x11; 20],
            7,
            sign_prehash(&key, &authorization_hash(1, &[0x11; 20], 7)).unwrap(),
        );
        let base = r#""chainId":"0x1","nonce":3,"gasLimit":"50000","to":"0x3535353535353535353535353535353535353535","value":"1000","data":"0xdeadbeef""#;
        let access = r#""accessList":[{"address":"0x3535353535353535353535353535353535353535","storageKeys":["0x0000000000000000000000000000000000000000000000000000000000000001"]}]"#;
        for (json, ty) in [
            (format!("{{{base},\"gasPrice\":\"20000000000\"}}"), 0),
            (format!("{{{base},\"gasPrice\":1,{access}}}"), 1),
            (
                format!("{{{base},\"maxFeePerGas\":9,\"maxPriorityFeePerGas\":1,{access}}}"),
                2,
            ),
            (
                format!(
                    "{{{base},\"maxFeePerGas\":9,\"maxPriorityFeePerGas\":1,\"authorizationList\":[{auth}]}}"
                ),
                4,
            ),
        ] {
            let tx = Transaction::from_json(&json).unwrap();
            assert_eq!(tx.tx_type(), ty);
            let raw = tx.sign(&key).unwrap();
            let info = decode_signed_transaction(&raw).unwrap();
            assert_eq!((info.tx_type, info.from, info.chain_id), (ty, me, Some(1)));
        }
        // A `from` that is not the key's address is refused.
        let json = format!(
            "{{{base},\"gasPrice\":1,\"from\":\"0x0000000000000000000000000000000000000001\"}}"
        );
        assert!(Transaction::from_json(&json).unwrap().sign(&key).is_err());
        // Truncated or extended bytes are refused.
        let raw = Transaction::from_json(&format!("{{{base},\"gasPrice\":1}}"))
            .unwrap()
            .sign(&key)
            .unwrap();
        assert!(decode_signed_transaction(&raw[..raw.len() - 1]).is_err());
        assert!(decode_signed_transaction(&[raw.as_slice(), &[0]].concat()).is_err());
    }
}
