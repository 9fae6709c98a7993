//! DUIDs (RFC 9915 §11): build, parse, colon-hex text form.

use std::fmt;
use std::str::FromStr;

/// Hardware type Ethernet (RFC 826 / IANA ARP hardware types).
pub const HW_ETHERNET: u16 = 1;
/// Longest DUID allowed (RFC 9915 §11.1: up to 128 octets of content + type).
pub const MAX_LEN: usize = 130;

/// A DHCP Unique Identifier, kept as its wire bytes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Duid(Vec<u8>);

/// The decoded form of a DUID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DuidKind<'a> {
    /// Type 1: link-layer address plus time (seconds since 2000-01-01 UTC).
    Llt {
        /// Hardware type.
        hw_type: u16,
        /// Time.
        time: u32,
        /// Link-layer address.
        lladdr: &'a [u8],
    },
    /// Type 2: enterprise number plus identifier.
    En {
        /// IANA private enterprise number.
        enterprise: u32,
        /// Identifier.
        id: &'a [u8],
    },
    /// Type 3: link-layer address.
    Ll {
        /// Hardware type.
        hw_type: u16,
        /// Link-layer address.
        lladdr: &'a [u8],
    },
    /// Type 4 (RFC 6355): UUID.
    Uuid([u8; 16]),
    /// Any other type: kept opaque.
    Other(u16, &'a [u8]),
}

/// Why bytes or text are not a DUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DuidError {
    /// Fewer than 3 octets (a type and at least one octet), or over 130.
    #[error("a DUID must be 3 to 130 octets, got {0}")]
    Length(usize),
    /// A known type with the wrong body length.
    #[error("DUID type {0} has a malformed body")]
    Body(u16),
    /// Not colon-separated hex octets.
    #[error("{0:?} is not colon-separated hex (e.g. 00:03:00:01:02:00:00:00:00:01)")]
    Text(String),
}

impl Duid {
    /// Wrap wire bytes, checking the length and known types' bodies.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DuidError> {
        if bytes.len() < 3 || bytes.len() > MAX_LEN {
            return Err(DuidError::Length(bytes.len()));
        }
        let d = Duid(bytes.to_vec());
        d.kind()?;
        Ok(d)
    }

    /// DUID-LLT.
    pub fn llt(hw_type: u16, time: u32, lladdr: &[u8]) -> Self {
        let mut v = vec![0, 1];
        v.extend_from_slice(&hw_type.to_be_bytes());
        v.extend_from_slice(&time.to_be_bytes());
        v.extend_from_slice(lladdr);
        Duid(v)
    }

    /// DUID-EN.
    pub fn en(enterprise: u32, id: &[u8]) -> Self {
        let mut v = vec![0, 2];
        v.extend_from_slice(&enterprise.to_be_bytes());
        v.extend_from_slice(id);
        Duid(v)
    }

    /// DUID-LL.
    pub fn ll(hw_type: u16, lladdr: &[u8]) -> Self {
        let mut v = vec![0, 3];
        v.extend_from_slice(&hw_type.to_be_bytes());
        v.extend_from_slice(lladdr);
        Duid(v)
    }

    /// DUID-UUID (RFC 6355).
    pub fn uuid(uuid: [u8; 16]) -> Self {
        let mut v = vec![0, 4];
        v.extend_from_slice(&uuid);
        Duid(v)
    }

    /// The wire bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The DUID type code.
    pub fn type_code(&self) -> u16 {
        match self.0.as_slice() {
            [a, b, ..] => u16::from_be_bytes([*a, *b]),
            _ => 0,
        }
    }

    /// Decode the type-specific body.
    pub fn kind(&self) -> Result<DuidKind<'_>, DuidError> {
        let t = self.type_code();
        let body = self.0.get(2..).unwrap_or_default();
        let be16 = |b: &[u8]| {
            b.get(..2)
                .and_then(|x| <[u8; 2]>::try_from(x).ok())
                .map(u16::from_be_bytes)
        };
        let be32 = |b: &[u8]| {
            b.get(..4)
                .and_then(|x| <[u8; 4]>::try_from(x).ok())
                .map(u32::from_be_bytes)
        };
        let bad = DuidError::Body(t);
        Ok(match t {
            1 => DuidKind::Llt {
                hw_type: be16(body).ok_or(bad.clone())?,
                time: body.get(2..).and_then(be32).ok_or(bad.clone())?,
                lladdr: body.get(6..).filter(|r| !r.is_empty()).ok_or(bad)?,
            },
            2 => DuidKind::En {
                enterprise: be32(body).ok_or(bad.clone())?,
                id: body.get(4..).filter(|r| !r.is_empty()).ok_or(bad)?,
            },
            3 => DuidKind::Ll {
                hw_type: be16(body).ok_or(bad.clone())?,
                lladdr: body.get(2..).filter(|r| !r.is_empty()).ok_or(bad)?,
            },
            4 => DuidKind::Uuid(body.try_into().map_err(|_| bad)?),
            other => DuidKind::Other(other, body),
        })
    }
}

impl fmt::Display for Duid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Duid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Duid({self})")
    }
}

impl FromStr for Duid {
    type Err = DuidError;
    /// Colon-separated hex octets; `-` separators and a bare hex string also work.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || DuidError::Text(s.to_string());
        let t = s.trim();
        let bytes: Vec<u8> = if t.contains(':') || t.contains('-') {
            t.split([':', '-'])
                .map(|o| {
                    if o.is_empty() || o.len() > 2 {
                        return Err(bad());
                    }
                    u8::from_str_radix(o, 16).map_err(|_| bad())
                })
                .collect::<Result<_, _>>()?
        } else {
            if t.len() % 2 != 0 || !t.is_ascii() {
                return Err(bad());
            }
            (0..t.len() / 2)
                .map(|i| {
                    let o = t.get(2 * i..2 * i + 2).ok_or_else(bad)?;
                    u8::from_str_radix(o, 16).map_err(|_| bad())
                })
                .collect::<Result<_, _>>()?
        };
        Duid::from_bytes(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];

    #[test]
    fn build_and_parse_each_type() {
        let llt = Duid::llt(HW_ETHERNET, 0x2a2b2c2d, &MAC);
        assert_eq!(llt.to_string(), "00:01:00:01:2a:2b:2c:2d:02:00:00:00:00:01");
        assert_eq!(
            llt.kind(),
            Ok(DuidKind::Llt {
                hw_type: 1,
                time: 0x2a2b2c2d,
                lladdr: &MAC
            })
        );
        let en = Duid::en(2495, &[1, 2, 3]);
        assert_eq!(en.to_string(), "00:02:00:00:09:bf:01:02:03");
        assert_eq!(
            en.kind(),
            Ok(DuidKind::En {
                enterprise: 2495,
                id: &[1, 2, 3]
            })
        );
        let ll = Duid::ll(HW_ETHERNET, &MAC);
        assert_eq!(ll.to_string(), "00:03:00:01:02:00:00:00:00:01");
        assert_eq!(
            ll.kind(),
            Ok(DuidKind::Ll {
                hw_type: 1,
                lladdr: &MAC
            })
        );
        let uuid = Duid::uuid([7; 16]);
        assert_eq!(uuid.kind(), Ok(DuidKind::Uuid([7; 16])));
        for d in [llt, en, ll, uuid] {
            assert_eq!(d.to_string().parse::<Duid>(), Ok(d.clone()));
            assert_eq!(Duid::from_bytes(d.as_bytes()), Ok(d));
        }
    }

    #[test]
    fn text_forms() {
        let d: Duid = "00:03:00:01:02:00:00:00:00:01".parse().expect("duid");
        assert_eq!(d, Duid::ll(1, &MAC));
        assert_eq!(
            "000300010200000000 01".replace(' ', "").parse::<Duid>(),
            Ok(d.clone())
        );
        assert_eq!("00-03-00-01-02-00-00-00-00-01".parse::<Duid>(), Ok(d));
        assert!(matches!(
            "00:03:0g".parse::<Duid>(),
            Err(DuidError::Text(_))
        ));
        assert!(matches!("00::03".parse::<Duid>(), Err(DuidError::Text(_))));
        assert!(matches!("0003f".parse::<Duid>(), Err(DuidError::Text(_))));
        assert!(matches!("00:03".parse::<Duid>(), Err(DuidError::Length(2))));
        assert!(matches!("é".parse::<Duid>(), Err(DuidError::Text(_))));
    }

    #[test]
    fn malformed_bodies() {
        assert_eq!(Duid::from_bytes(&[]), Err(DuidError::Length(0)));
        assert_eq!(Duid::from_bytes(&[0, 1, 0]), Err(DuidError::Body(1)));
        assert_eq!(Duid::from_bytes(&[0, 3, 0, 1]), Err(DuidError::Body(3)));
        assert_eq!(Duid::from_bytes(&[0, 4, 1, 2]), Err(DuidError::Body(4)));
        assert_eq!(
            Duid::from_bytes(&[0, 2, 0, 0, 0, 1]),
            Err(DuidError::Body(2))
        );
        assert_eq!(Duid::from_bytes(&[0; 131]), Err(DuidError::Length(131)));
        // Unknown types are kept opaque.
        let d = Duid::from_bytes(&[0xff, 0xff, 9]).expect("opaque");
        assert_eq!(d.kind(), Ok(DuidKind::Other(0xffff, &[9])));
    }
}
