//! Typed DHCPv6 messages: what the engines see.

use std::net::Ipv6Addr;

use crate::duid::Duid;
use crate::prefix::Prefix;

/// Client port (RFC 9915 §7.2).
pub const CLIENT_PORT: u16 = 546;
/// Server and relay port.
pub const SERVER_PORT: u16 = 547;
/// All_DHCP_Relay_Agents_and_Servers (RFC 9915 §7.1).
pub const ALL_DHCP_RELAY_AGENTS_AND_SERVERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2);
/// HOP_COUNT_LIMIT (RFC 9915 §7.6).
pub const HOP_COUNT_LIMIT: u8 = 8;

/// DHCPv6 message types (RFC 9915 §7.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MsgType {
    /// 1
    Solicit,
    /// 2
    Advertise,
    /// 3
    Request,
    /// 4
    Confirm,
    /// 5
    Renew,
    /// 6
    Rebind,
    /// 7
    Reply,
    /// 8
    Release,
    /// 9
    Decline,
    /// 10
    Reconfigure,
    /// 11
    InformationRequest,
    /// Any other client/server message type code (not relay 12/13).
    Other(u8),
}

impl MsgType {
    /// The wire code (RFC 9915 §7.3); `Other(n)` is `n`.
    pub fn code(self) -> u8 {
        match self {
            MsgType::Solicit => 1,
            MsgType::Advertise => 2,
            MsgType::Request => 3,
            MsgType::Confirm => 4,
            MsgType::Renew => 5,
            MsgType::Rebind => 6,
            MsgType::Reply => 7,
            MsgType::Release => 8,
            MsgType::Decline => 9,
            MsgType::Reconfigure => 10,
            MsgType::InformationRequest => 11,
            MsgType::Other(n) => n,
        }
    }

    /// The type of a wire code; 12/13 (relay types) and unknown codes give `Other`.
    pub fn from_code(code: u8) -> Self {
        match code {
            1 => MsgType::Solicit,
            2 => MsgType::Advertise,
            3 => MsgType::Request,
            4 => MsgType::Confirm,
            5 => MsgType::Renew,
            6 => MsgType::Rebind,
            7 => MsgType::Reply,
            8 => MsgType::Release,
            9 => MsgType::Decline,
            10 => MsgType::Reconfigure,
            11 => MsgType::InformationRequest,
            n => MsgType::Other(n),
        }
    }

    /// Sent by servers (Advertise, Reply, Reconfigure): relayed in Relay-Repl,
    /// everything else in Relay-Forw (RFC 9915 §9, §19).
    pub fn is_from_server(self) -> bool {
        matches!(
            self,
            MsgType::Advertise | MsgType::Reply | MsgType::Reconfigure
        )
    }
}

/// Status codes (RFC 9915 §21.13).
pub mod status {
    /// Success.
    pub const SUCCESS: u16 = 0;
    /// UnspecFail.
    pub const UNSPEC_FAIL: u16 = 1;
    /// NoAddrsAvail.
    pub const NO_ADDRS_AVAIL: u16 = 2;
    /// NoBinding.
    pub const NO_BINDING: u16 = 3;
    /// NotOnLink.
    pub const NOT_ON_LINK: u16 = 4;
    /// UseMulticast.
    pub const USE_MULTICAST: u16 = 5;
    /// NoPrefixAvail.
    pub const NO_PREFIX_AVAIL: u16 = 6;
}

/// A Status Code option.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// The code (see [`status`]).
    pub code: u16,
    /// UTF-8 message for humans (may be empty).
    pub message: String,
}

impl Status {
    /// A status with this code and human-readable message.
    pub fn new(code: u16, message: impl Into<String>) -> Self {
        Status {
            code,
            message: message.into(),
        }
    }

    /// Is this the Success code?
    pub fn is_success(&self) -> bool {
        self.code == status::SUCCESS
    }
}

/// An option we do not interpret, kept as code + body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawOption {
    /// Option code.
    pub code: u16,
    /// Option body.
    pub data: Vec<u8>,
}

/// An IA Prefix option (RFC 9915 §21.22) inside an IA_PD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IaPrefix {
    /// Preferred lifetime, seconds.
    pub preferred: u32,
    /// Valid lifetime, seconds.
    pub valid: u32,
    /// The prefix (a hint may carry `::/len` for a length-only hint).
    pub prefix: Prefix,
    /// Status Code inside the IAPREFIX, if any.
    pub status: Option<Status>,
    /// Other options inside (e.g. PD-Exclude, RFC 6603), kept as raw.
    pub options: Vec<RawOption>,
}

impl IaPrefix {
    /// A prefix with these lifetimes, no status and no sub-options.
    pub fn new(prefix: Prefix, preferred: u32, valid: u32) -> Self {
        IaPrefix {
            preferred,
            valid,
            prefix,
            status: None,
            options: Vec::new(),
        }
    }
}

/// An IA_PD option (RFC 9915 §21.21).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IaPd {
    /// Identity Association id.
    pub iaid: u32,
    /// T1, seconds.
    pub t1: u32,
    /// T2, seconds.
    pub t2: u32,
    /// IA Prefix options.
    pub prefixes: Vec<IaPrefix>,
    /// Status Code inside the IA_PD, if any.
    pub status: Option<Status>,
}

impl IaPd {
    /// An IA_PD with these timers, no prefixes and no status.
    pub fn new(iaid: u32, t1: u32, t2: u32) -> Self {
        IaPd {
            iaid,
            t1,
            t2,
            prefixes: Vec::new(),
            status: None,
        }
    }
}

/// An IA_NA or IA_TA seen in a message: we only answer it with a status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IaAddr {
    /// true for IA_TA (option 4), false for IA_NA (option 3).
    pub temporary: bool,
    /// Identity Association id.
    pub iaid: u32,
    /// T1 (0 for IA_TA).
    pub t1: u32,
    /// T2 (0 for IA_TA).
    pub t2: u32,
    /// Status Code inside, if any.
    pub status: Option<Status>,
}

/// A client/server message (everything but Relay-Forw/Relay-Repl).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Message type.
    pub msg_type: MsgType,
    /// 24-bit transaction id.
    pub xid: [u8; 3],
    /// Client Identifier (option 1).
    pub client_id: Option<Duid>,
    /// Server Identifier (option 2).
    pub server_id: Option<Duid>,
    /// IA_PD options, in order.
    pub ia_pd: Vec<IaPd>,
    /// IA_NA / IA_TA options, in order.
    pub ia_addr: Vec<IaAddr>,
    /// Option Request option (6) codes.
    pub oro: Vec<u16>,
    /// Preference (7).
    pub preference: Option<u8>,
    /// Elapsed Time (8), hundredths of a second.
    pub elapsed: Option<u16>,
    /// Top-level Status Code (13).
    pub status: Option<Status>,
    /// Rapid Commit (14) present.
    pub rapid_commit: bool,
    /// Reconfigure Accept (20) present.
    pub reconfigure_accept: bool,
    /// DNS Recursive Name Servers (23, RFC 3646).
    pub dns_servers: Vec<Ipv6Addr>,
    /// SOL_MAX_RT (82, RFC 9915 §21.24).
    pub sol_max_rt: Option<u32>,
    /// Every other option, kept.
    pub other: Vec<RawOption>,
}

impl Message {
    /// An empty message of this type and transaction id.
    pub fn new(msg_type: MsgType, xid: [u8; 3]) -> Self {
        Message {
            msg_type,
            xid,
            client_id: None,
            server_id: None,
            ia_pd: Vec::new(),
            ia_addr: Vec::new(),
            oro: Vec::new(),
            preference: None,
            elapsed: None,
            status: None,
            rapid_commit: false,
            reconfigure_accept: false,
            dns_servers: Vec::new(),
            sol_max_rt: None,
            other: Vec::new(),
        }
    }
}

/// One Relay-Forw / Relay-Repl header with its options (RFC 9915 §9).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayHop {
    /// Hop count.
    pub hop_count: u8,
    /// Link address (may be ::).
    pub link_addr: Ipv6Addr,
    /// Peer address.
    pub peer_addr: Ipv6Addr,
    /// Interface-Id (18), echoed in the Relay-Repl.
    pub interface_id: Option<Vec<u8>>,
    /// Other relay options (e.g. Remote-Id), kept.
    pub other: Vec<RawOption>,
}

/// A message with its relay encapsulation, outermost relay first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// Relays from the outermost (the one that sent us the datagram) inwards.
    pub relays: Vec<RelayHop>,
    /// The client/server message inside.
    pub msg: Message,
}

impl Envelope {
    /// A message sent or received directly (no relays).
    pub fn direct(msg: Message) -> Self {
        Envelope {
            relays: Vec::new(),
            msg,
        }
    }
}

/// Why a datagram or message was discarded. Counted and logged at debug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Discard {
    /// Shorter than a header.
    TooShort,
    /// An option runs past the end of its container.
    OptionOverrun,
    /// A fixed-size option (or its nested options) has the wrong length.
    BadOptionLength,
    /// A relay message nested deeper than HOP_COUNT_LIMIT.
    TooManyHops,
    /// Relay-Forw/Relay-Repl without a Relay Message option.
    NoRelayMessage,
    /// A message type this side never accepts.
    UnexpectedType,
    /// Missing Client Identifier where one is required.
    MissingClientId,
    /// Missing Server Identifier where one is required.
    MissingServerId,
    /// Server Identifier present where forbidden.
    UnexpectedServerId,
    /// Server Identifier is not ours.
    NotForUs,
    /// An option appears twice where only one is allowed.
    DuplicateOption,
    /// Malformed DUID.
    BadDuid,
    /// IA or IAPREFIX values the RFC says to discard (T1 > T2, pref > valid, …).
    BadLifetimes,
    /// Prefix length over 128 or host bits.
    BadPrefix,
    /// Message carries options forbidden for its type (e.g. IA in Information-Request).
    ForbiddenOption,
    /// Transaction id does not match what we sent.
    WrongXid,
}
