//! The key-list and key/value-map formats of `config_wire.{h,c}` (spec §4.5).
//!
//! A **key list** is a sequence of records `[u32 len][len bytes]` with no count, no NUL and no
//! padding between records. A **key/value map** is a sequence of `[u32 klen][key][u32 vlen][value]`.
//! Lengths are little-endian (configd copies host order; every NextBSD target is little-endian).
//!
//! Decoding comes in two flavours:
//! - strict ([`KeyList::parse`], [`KvMap::parse`], the iterators): a truncated record is a typed
//!   error;
//! - configd's stop rule ([`KeyList::parse_lenient`], [`KvMap::parse_lenient`]): decoding stops
//!   quietly at the first record that overruns the buffer and keeps what came before it. The
//!   C ABI uses this one because `SCDynamicStoreCopyNotifiedKeys` behaves that way.

use thiserror::Error;

/// `CONFIG_DATA_MAX`: the bound of every inline payload (`array[*:8192] of byte`).
pub const CONFIG_DATA_MAX: usize = 8192;

/// Size of a record's length prefix.
const LEN_PREFIX: usize = 4;

/// A malformed or oversize key list / key-value map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum KeyListError {
    /// Fewer than 4 bytes remain where a record's length should start.
    #[error("key list truncated at offset {offset}: {remaining} byte(s) left, a length needs 4")]
    TruncatedLength {
        /// Offset of the partial length field.
        offset: usize,
        /// Bytes left in the buffer.
        remaining: usize,
    },
    /// A record's length overruns the buffer.
    #[error("key list record at offset {offset} claims {len} byte(s) but only {remaining} remain")]
    TruncatedRecord {
        /// Offset of the record's length field.
        offset: usize,
        /// The length the record claims.
        len: u32,
        /// Bytes left after the length field.
        remaining: usize,
    },
    /// The encoded form would exceed the capacity (`offset + 4 + len > cap`).
    #[error("encoded list needs {needed} bytes, more than the {cap}-byte limit")]
    TooLarge {
        /// Bytes the list would need up to and including the record that did not fit.
        needed: usize,
        /// The capacity.
        cap: usize,
    },
}

/// Appends `[u32 len][bytes]`, failing if the total would exceed `cap`.
fn put_record(out: &mut Vec<u8>, bytes: &[u8], cap: usize) -> Result<(), KeyListError> {
    let needed = out
        .len()
        .saturating_add(LEN_PREFIX)
        .saturating_add(bytes.len());
    // Edge: a record longer than u32::MAX can never fit any cap a u32-sized wire allows.
    if needed > cap || u32::try_from(bytes.len()).is_err() {
        return Err(KeyListError::TooLarge { needed, cap });
    }
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// Reads one record at `*pos`, advancing it.
fn take_record<'a>(bytes: &'a [u8], pos: &mut usize) -> Result<&'a [u8], KeyListError> {
    let offset = *pos;
    let rest = &bytes[offset..];
    if rest.len() < LEN_PREFIX {
        return Err(KeyListError::TruncatedLength {
            offset,
            remaining: rest.len(),
        });
    }
    let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
    let body = &rest[LEN_PREFIX..];
    if (len as usize) > body.len() {
        return Err(KeyListError::TruncatedRecord {
            offset,
            len,
            remaining: body.len(),
        });
    }
    *pos = offset + LEN_PREFIX + len as usize;
    Ok(&body[..len as usize])
}

/// Encodes a key list with capacity `cap` (use [`CONFIG_DATA_MAX`] for wire payloads).
///
/// ```
/// use scnotify::store_messages::keylist::{encode_key_list, CONFIG_DATA_MAX};
/// let bytes = encode_key_list(["ab", "c"], CONFIG_DATA_MAX).unwrap();
/// assert_eq!(bytes, [2, 0, 0, 0, b'a', b'b', 1, 0, 0, 0, b'c']);
/// ```
pub fn encode_key_list<I>(keys: I, cap: usize) -> Result<Vec<u8>, KeyListError>
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    let mut out = Vec::new();
    for key in keys {
        put_record(&mut out, key.as_ref(), cap)?;
    }
    Ok(out)
}

/// Encodes a key/value map with capacity `cap`.
pub fn encode_kv_map<I, K, V>(pairs: I, cap: usize) -> Result<Vec<u8>, KeyListError>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let mut out = Vec::new();
    for (k, v) in pairs {
        put_record(&mut out, k.as_ref(), cap)?;
        put_record(&mut out, v.as_ref(), cap)?;
    }
    Ok(out)
}

/// A borrowed, encoded key list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyList<'a>(pub &'a [u8]);

impl<'a> KeyList<'a> {
    /// Iterates over the records; yields one error and then stops at a truncated record.
    pub fn iter(&self) -> KeyListIter<'a> {
        KeyListIter {
            bytes: self.0,
            pos: 0,
            failed: false,
        }
    }

    /// Strict decode: every record, or the first error.
    pub fn parse(&self) -> Result<Vec<&'a [u8]>, KeyListError> {
        self.iter().collect()
    }

    /// configd's stop rule: the records before the first truncated one, plus that error if any.
    pub fn parse_lenient(&self) -> (Vec<&'a [u8]>, Option<KeyListError>) {
        let mut keys = Vec::new();
        for item in self.iter() {
            match item {
                Ok(k) => keys.push(k),
                Err(e) => return (keys, Some(e)),
            }
        }
        (keys, None)
    }
}

/// Iterator over a [`KeyList`]'s records.
#[derive(Clone, Debug)]
pub struct KeyListIter<'a> {
    bytes: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> Iterator for KeyListIter<'a> {
    type Item = Result<&'a [u8], KeyListError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.bytes.len() {
            return None;
        }
        let r = take_record(self.bytes, &mut self.pos);
        self.failed = r.is_err();
        Some(r)
    }
}

/// A borrowed, encoded key/value map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KvMap<'a>(pub &'a [u8]);

/// One `(key, value)` record of a [`KvMap`].
pub type KvPair<'a> = (&'a [u8], &'a [u8]);

impl<'a> KvMap<'a> {
    /// Iterates over the pairs; yields one error and then stops at a truncated record.
    pub fn iter(&self) -> KvMapIter<'a> {
        KvMapIter {
            bytes: self.0,
            pos: 0,
            failed: false,
        }
    }

    /// Strict decode.
    pub fn parse(&self) -> Result<Vec<KvPair<'a>>, KeyListError> {
        self.iter().collect()
    }

    /// configd's stop rule: the pairs before the first truncated one, plus that error if any.
    pub fn parse_lenient(&self) -> (Vec<KvPair<'a>>, Option<KeyListError>) {
        let mut pairs = Vec::new();
        for item in self.iter() {
            match item {
                Ok(p) => pairs.push(p),
                Err(e) => return (pairs, Some(e)),
            }
        }
        (pairs, None)
    }
}

/// Iterator over a [`KvMap`]'s pairs.
#[derive(Clone, Debug)]
pub struct KvMapIter<'a> {
    bytes: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> Iterator for KvMapIter<'a> {
    type Item = Result<KvPair<'a>, KeyListError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.bytes.len() {
            return None;
        }
        let r = take_record(self.bytes, &mut self.pos)
            .and_then(|k| take_record(self.bytes, &mut self.pos).map(|v| (k, v)));
        self.failed = r.is_err();
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn record_format_is_le_length_then_bytes_without_padding() {
        let b = encode_key_list(["abc", "", "d"], CONFIG_DATA_MAX).unwrap();
        assert_eq!(
            b,
            [3, 0, 0, 0, b'a', b'b', b'c', 0, 0, 0, 0, 1, 0, 0, 0, b'd']
        );
        let keys = KeyList(&b).parse().unwrap();
        assert_eq!(keys, [&b"abc"[..], b"", b"d"]);
    }

    #[test]
    fn capacity_is_offset_plus_4_plus_len() {
        // One key of 8188 bytes exactly fills 8192.
        let key = vec![b'k'; CONFIG_DATA_MAX - 4];
        assert_eq!(
            encode_key_list([&key], CONFIG_DATA_MAX).unwrap().len(),
            CONFIG_DATA_MAX
        );
        let key = vec![b'k'; CONFIG_DATA_MAX - 3];
        assert_eq!(
            encode_key_list([&key], CONFIG_DATA_MAX),
            Err(KeyListError::TooLarge {
                needed: CONFIG_DATA_MAX + 1,
                cap: CONFIG_DATA_MAX
            })
        );
        // Empty records still cost 4 bytes: 2048 empty keys fit, 2049 do not.
        assert!(encode_key_list(vec![""; 2048], CONFIG_DATA_MAX).is_ok());
        assert!(encode_key_list(vec![""; 2049], CONFIG_DATA_MAX).is_err());
    }

    #[test]
    fn truncated_tails_are_typed_errors_strictly_and_dropped_leniently() {
        let mut b = encode_key_list(["one", "two"], CONFIG_DATA_MAX).unwrap();
        b.extend_from_slice(&[9, 0, 0, 0, b'x']);
        assert_eq!(
            KeyList(&b).parse(),
            Err(KeyListError::TruncatedRecord {
                offset: 14,
                len: 9,
                remaining: 1
            })
        );
        let (keys, err) = KeyList(&b).parse_lenient();
        assert_eq!(keys, [&b"one"[..], b"two"]);
        assert!(err.is_some());

        let b = [1, 0, 0, 0, b'a', 7, 0];
        assert_eq!(
            KeyList(&b).parse(),
            Err(KeyListError::TruncatedLength {
                offset: 5,
                remaining: 2
            })
        );
        // A huge length does not overflow.
        let b = [0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            KeyList(&b).parse(),
            Err(KeyListError::TruncatedRecord { .. })
        ));
    }

    #[test]
    fn kv_map_round_trip_and_truncated_value() {
        let b = encode_kv_map([("k1", "v1"), ("k2", "")], CONFIG_DATA_MAX).unwrap();
        assert_eq!(
            KvMap(&b).parse().unwrap(),
            [(&b"k1"[..], &b"v1"[..]), (b"k2", b"")]
        );
        // Key present, value length missing.
        let b = encode_key_list(["k"], CONFIG_DATA_MAX).unwrap();
        assert_eq!(
            KvMap(&b).parse(),
            Err(KeyListError::TruncatedLength {
                offset: 5,
                remaining: 0
            })
        );
        assert_eq!(KvMap(&b).parse_lenient().0, Vec::<KvPair<'_>>::new());
    }

    proptest! {
        #[test]
        fn key_list_round_trips(keys in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..64), 0..40)) {
            let b = encode_key_list(&keys, CONFIG_DATA_MAX).unwrap();
            let back: Vec<Vec<u8>> =
                KeyList(&b).parse().unwrap().into_iter().map(<[u8]>::to_vec).collect();
            prop_assert_eq!(back, keys);
        }

        #[test]
        fn kv_map_round_trips(pairs in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..32),
             proptest::collection::vec(any::<u8>(), 0..32)), 0..30)) {
            let b = encode_kv_map(pairs.iter().map(|(k, v)| (k, v)), CONFIG_DATA_MAX).unwrap();
            let back: Vec<(Vec<u8>, Vec<u8>)> = KvMap(&b).parse().unwrap().into_iter()
                .map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
            prop_assert_eq!(back, pairs);
        }

        #[test]
        fn arbitrary_bytes_never_panic_and_lenient_is_a_prefix_of_strict(
            bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let strict = KeyList(&bytes).parse();
            let (lenient, err) = KeyList(&bytes).parse_lenient();
            match strict {
                Ok(all) => { prop_assert_eq!(all, lenient); prop_assert!(err.is_none()); }
                Err(e) => prop_assert_eq!(Some(e), err),
            }
            let _ = KvMap(&bytes).parse();
        }
    }
}
