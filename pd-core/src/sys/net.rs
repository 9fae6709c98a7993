//! DHCPv6 UDP sockets and the raw ICMPv6 socket for RS/RA, with per-packet
//! interface information (IPV6_PKTINFO) in and out.
//!
//! Sockets belong to the network namespace of the thread that opens them.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{Ipv6Addr, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd};

use nix::libc;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{
    recvmsg, sendmsg, setsockopt, sockopt, ControlMessage, ControlMessageOwned, MsgFlags,
    SockaddrIn6,
};
use socket2::{Domain, Protocol, SockAddr, SockRef, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// All_DHCP_Relay_Agents_and_Servers (RFC 9915 §7.1).
pub const ALL_DHCP_RELAY_AGENTS_AND_SERVERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2);
/// All-routers, link scope (RFC 4291 §2.7.1): where RSs go.
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);
/// All-nodes, link scope (RFC 4291 §2.7.1): where unsolicited RAs go.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// DHCPv6 client port (RFC 9915 §7.2).
pub const CLIENT_PORT: u16 = 546;
/// DHCPv6 server and relay port (RFC 9915 §7.2).
pub const SERVER_PORT: u16 = 547;
/// The hop limit of every ND message (RFC 4861 §6.1.1, §6.1.2).
pub const ND_HOP_LIMIT: u8 = 255;

/// EADDRINUSE: this membership already exists.
const EADDRINUSE: i32 = 98;

/// A received UDP datagram's metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RxInfo {
    /// Bytes written to the buffer.
    pub len: usize,
    /// Sender address and port (scope id set for link-local senders).
    pub src: SocketAddrV6,
    /// Destination address of the datagram (`::` if the kernel gave none).
    pub dst: Ipv6Addr,
    /// Ingress interface index (0 if the kernel gave none).
    pub ifindex: u32,
}

/// A received ICMPv6 message's metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpRxInfo {
    /// Bytes written to the buffer (starting at the ICMPv6 header).
    pub len: usize,
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address (`::` if the kernel gave none).
    pub dst: Ipv6Addr,
    /// Ingress interface index.
    pub ifindex: u32,
    /// IPv6 hop limit (always 255: [`IcmpSocket::recv`] drops the rest).
    pub hop_limit: u8,
}

/// What one `recvmsg` returned, before any filtering.
struct Raw {
    len: usize,
    truncated: bool,
    src: Option<SocketAddrV6>,
    dst: Option<Ipv6Addr>,
    ifindex: Option<u32>,
    hop_limit: Option<i32>,
}

/// One non-blocking `recvmsg` with packet info and hop limit.
fn recv_raw(sock: &UdpSocket, buf: &mut [u8]) -> io::Result<Raw> {
    let mut cmsg = nix::cmsg_space!(libc::in6_pktinfo, libc::c_int);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrIn6>(
        sock.as_raw_fd(),
        &mut iov,
        Some(cmsg.as_mut_slice()),
        MsgFlags::empty(),
    )?;
    let mut raw = Raw {
        len: msg.bytes,
        truncated: msg.flags.contains(MsgFlags::MSG_TRUNC),
        src: msg.address.map(SocketAddrV6::from),
        dst: None,
        ifindex: None,
        hop_limit: None,
    };
    // A truncated control buffer (ENOBUFS) leaves the info fields empty.
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            match c {
                ControlMessageOwned::Ipv6PacketInfo(pi) => {
                    raw.dst = Some(Ipv6Addr::from(pi.ipi6_addr.s6_addr));
                    raw.ifindex = Some(pi.ipi6_ifindex);
                }
                ControlMessageOwned::Ipv6HopLimit(h) => raw.hop_limit = Some(h),
                _ => {}
            }
        }
    }
    Ok(raw)
}

/// One non-blocking `sendmsg` to `to`, out of `ifindex` (0: routing
/// decides) from `src` (`None`: the kernel picks).
fn send_raw(
    sock: &UdpSocket,
    bytes: &[u8],
    to: SocketAddrV6,
    ifindex: u32,
    src: Option<Ipv6Addr>,
) -> io::Result<usize> {
    let info = libc::in6_pktinfo {
        ipi6_addr: libc::in6_addr {
            s6_addr: src.unwrap_or(Ipv6Addr::UNSPECIFIED).octets(),
        },
        ipi6_ifindex: ifindex,
    };
    let with_info = [ControlMessage::Ipv6PacketInfo(&info)];
    let cmsgs: &[ControlMessage] = if ifindex == 0 && src.is_none() {
        &[]
    } else {
        &with_info
    };
    // The kernel rejects a scope id that disagrees with the packet info.
    let scope = if ifindex == 0 { to.scope_id() } else { ifindex };
    let addr = SockaddrIn6::from(SocketAddrV6::new(*to.ip(), to.port(), 0, scope));
    Ok(sendmsg(
        sock.as_raw_fd(),
        &[IoSlice::new(bytes)],
        cmsgs,
        MsgFlags::empty(),
        Some(&addr),
    )?)
}

/// Join `group` on `ifindex`; already being a member is fine.
fn join(sock: &UdpSocket, group: Ipv6Addr, ifindex: u32) -> io::Result<()> {
    match SockRef::from(sock).join_multicast_v6(&group, ifindex) {
        Err(e) if e.raw_os_error() == Some(EADDRINUSE) => Ok(()),
        r => r,
    }
}

/// Receive buffer asked for on DHCP sockets (4 MiB).
const RECV_BUFFER: usize = 4 * 1024 * 1024;

/// A UDP/IPv6 socket for DHCPv6 (client port 546 or server port 547).
#[derive(Debug)]
pub struct DhcpSocket {
    sock: UdpSocket,
}

impl DhcpSocket {
    /// Bind `[::]:port` (IPv6 only, SO_REUSEADDR, non-blocking, with
    /// IPV6_RECVPKTINFO); must be called within a tokio runtime.
    pub fn bind(port: u16) -> io::Result<Self> {
        let sock = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
        sock.set_only_v6(true)?;
        sock.set_reuse_address(true)?;
        sock.set_nonblocking(true)?;
        setsockopt(&sock, sockopt::Ipv6RecvPacketInfo, &true)?;
        // A burst of Solicits from routers rebooting together must not
        // overflow the default ~200-datagram queue; best effort (the kernel
        // caps it at net.core.rmem_max).
        if let Err(e) = sock.set_recv_buffer_size(RECV_BUFFER) {
            tracing::debug!(error = %e, "cannot enlarge the receive buffer");
        }
        let any = SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0);
        sock.bind(&SockAddr::from(any))?;
        Ok(DhcpSocket {
            sock: UdpSocket::from_std(sock.into())?,
        })
    }

    /// Join All_DHCP_Relay_Agents_and_Servers (ff02::1:2) on `ifindex`
    /// (servers and relays, RFC 9915 §7.1); joining twice is fine.
    pub fn join(&self, ifindex: u32) -> io::Result<()> {
        join(&self.sock, ALL_DHCP_RELAY_AGENTS_AND_SERVERS, ifindex)
    }

    /// The bound local port.
    pub fn local_port(&self) -> io::Result<u16> {
        Ok(self.sock.local_addr()?.port())
    }

    /// Filter a raw receive: truncated datagrams are dropped (`None`).
    fn accept(raw: Raw) -> Option<RxInfo> {
        if raw.truncated {
            tracing::debug!(len = raw.len, "dropping truncated datagram");
            return None;
        }
        let src = raw.src?;
        Some(RxInfo {
            len: raw.len,
            src,
            dst: raw.dst.unwrap_or(Ipv6Addr::UNSPECIFIED),
            ifindex: raw.ifindex.unwrap_or(0),
        })
    }

    /// Wait for the next datagram (truncated ones are dropped: give a
    /// 64 KiB buffer).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<RxInfo> {
        loop {
            let raw = self
                .sock
                .async_io(Interest::READABLE, || recv_raw(&self.sock, buf))
                .await?;
            if let Some(info) = Self::accept(raw) {
                return Ok(info);
            }
        }
    }

    /// The next queued datagram, or `Ok(None)` when none is waiting.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<Option<RxInfo>> {
        loop {
            match self
                .sock
                .try_io(Interest::READABLE, || recv_raw(&self.sock, buf))
            {
                Ok(raw) => {
                    if let Some(info) = Self::accept(raw) {
                        return Ok(Some(info));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// The next queued datagram, or `Ok(None)` when none is waiting, read
    /// whatever the runtime last learnt of the socket's readiness (a loop
    /// that slept without polling the reactor still sees what queued).
    pub fn recv_now(&self, buf: &mut [u8]) -> io::Result<Option<RxInfo>> {
        loop {
            match recv_raw(&self.sock, buf) {
                Ok(raw) => {
                    if let Some(info) = Self::accept(raw) {
                        return Ok(Some(info));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// Send `bytes` to `to` out of interface `ifindex` (0: let routing
    /// decide; needed for link-local and multicast destinations).
    pub async fn send(&self, bytes: &[u8], to: SocketAddrV6, ifindex: u32) -> io::Result<usize> {
        self.sock
            .async_io(Interest::WRITABLE, || {
                send_raw(&self.sock, bytes, to, ifindex, None)
            })
            .await
    }

    /// Send from a thread outside the runtime (the server's lease writer):
    /// like [`send`](Self::send), but waits for room in the send buffer with
    /// poll(2), at most `SEND_WAIT_MS` per attempt.
    pub fn send_now(&self, bytes: &[u8], to: SocketAddrV6, ifindex: u32) -> io::Result<usize> {
        loop {
            match send_raw(&self.sock, bytes, to, ifindex, None) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let mut fds = [PollFd::new(self.sock.as_fd(), PollFlags::POLLOUT)];
                    if poll(&mut fds, PollTimeout::from(SEND_WAIT_MS))? == 0 {
                        return Err(io::ErrorKind::TimedOut.into());
                    }
                }
                r => return r,
            }
        }
    }
}

/// How long [`DhcpSocket::send_now`] waits for send-buffer room.
const SEND_WAIT_MS: u16 = 100;

/// A raw ICMPv6 socket for Router Solicitations and Advertisements.
///
/// It sees every ICMPv6 message the host receives: callers filter by type.
#[derive(Debug)]
pub struct IcmpSocket {
    // A raw socket carried in a tokio UdpSocket for readiness only: every
    // read and write goes through recvmsg/sendmsg on its descriptor.
    sock: UdpSocket,
}

impl IcmpSocket {
    /// Open the socket: hop limit 255 for unicast and multicast (RFC 4861
    /// §6.1), no multicast loopback, IPV6_RECVPKTINFO and IPV6_RECVHOPLIMIT
    /// on; must be called within a tokio runtime.
    pub fn new() -> io::Result<Self> {
        let sock = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))?;
        sock.set_nonblocking(true)?;
        sock.set_unicast_hops_v6(u32::from(ND_HOP_LIMIT))?;
        sock.set_multicast_hops_v6(u32::from(ND_HOP_LIMIT))?;
        sock.set_multicast_loop_v6(false)?;
        sock.set_recv_hoplimit_v6(true)?;
        setsockopt(&sock, sockopt::Ipv6RecvPacketInfo, &true)?;
        Ok(IcmpSocket {
            sock: UdpSocket::from_std(sock.into())?,
        })
    }

    /// Join all-routers (ff02::2) on `ifindex`, to hear RSs; idempotent.
    pub fn join_all_routers(&self, ifindex: u32) -> io::Result<()> {
        join(&self.sock, ALL_ROUTERS, ifindex)
    }

    /// Join all-nodes (ff02::1) on `ifindex`; idempotent (hosts are always
    /// members, this only matters on odd setups).
    pub fn join_all_nodes(&self, ifindex: u32) -> io::Result<()> {
        join(&self.sock, ALL_NODES, ifindex)
    }

    /// Filter a raw receive: truncated messages and any hop limit but 255
    /// are dropped (`None`).
    fn accept(raw: Raw) -> Option<IcmpRxInfo> {
        if raw.truncated {
            tracing::debug!(len = raw.len, "dropping truncated icmpv6 message");
            return None;
        }
        let src = raw.src?;
        // RFC 4861 §6.1.1, §6.1.2: an RS or RA whose hop limit is not 255
        // did not come from this link; a missing hop limit is no proof.
        let hop_limit = match raw.hop_limit {
            Some(h) if h == i32::from(ND_HOP_LIMIT) => ND_HOP_LIMIT,
            other => {
                tracing::debug!(src = %src.ip(), hop_limit = ?other, "dropping icmpv6: hop limit not 255");
                return None;
            }
        };
        Some(IcmpRxInfo {
            len: raw.len,
            src: *src.ip(),
            dst: raw.dst.unwrap_or(Ipv6Addr::UNSPECIFIED),
            ifindex: raw.ifindex.unwrap_or(src.scope_id()),
            hop_limit,
        })
    }

    /// Wait for the next ICMPv6 message with hop limit 255.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<IcmpRxInfo> {
        loop {
            let raw = self
                .sock
                .async_io(Interest::READABLE, || recv_raw(&self.sock, buf))
                .await?;
            if let Some(info) = Self::accept(raw) {
                return Ok(info);
            }
        }
    }

    /// The next queued message with hop limit 255, or `Ok(None)`.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<Option<IcmpRxInfo>> {
        loop {
            match self
                .sock
                .try_io(Interest::READABLE, || recv_raw(&self.sock, buf))
            {
                Ok(raw) => {
                    if let Some(info) = Self::accept(raw) {
                        return Ok(Some(info));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// Send an ICMPv6 message (the kernel fills in the checksum) to `dst`
    /// out of `ifindex`, from `src` (`None`: the kernel picks, normally
    /// the link-local address, as RFC 4861 §6.1.2 wants for RAs).
    pub async fn send(
        &self,
        bytes: &[u8],
        dst: Ipv6Addr,
        ifindex: u32,
        src: Option<Ipv6Addr>,
    ) -> io::Result<usize> {
        let to = SocketAddrV6::new(dst, 0, 0, 0);
        self.sock
            .async_io(Interest::WRITABLE, || {
                send_raw(&self.sock, bytes, to, ifindex, src)
            })
            .await
    }
}

/// The index of interface `name` in the calling thread's namespace.
pub fn ifindex(name: &str) -> io::Result<u32> {
    Ok(nix::net::if_::if_nametoindex(name)?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn raw(hop_limit: Option<i32>, truncated: bool) -> Raw {
        Raw {
            len: 8,
            truncated,
            src: Some(SocketAddrV6::new("fe80::1".parse().unwrap(), 0, 0, 4)),
            dst: Some(ALL_ROUTERS),
            ifindex: Some(4),
            hop_limit,
        }
    }

    #[test]
    fn icmp_hop_limit_must_be_255() {
        assert_eq!(
            IcmpSocket::accept(raw(Some(255), false)).unwrap().hop_limit,
            255
        );
        assert!(IcmpSocket::accept(raw(Some(64), false)).is_none());
        assert!(IcmpSocket::accept(raw(Some(1), false)).is_none());
        assert!(IcmpSocket::accept(raw(None, false)).is_none());
        assert!(IcmpSocket::accept(raw(Some(255), true)).is_none());
    }

    #[test]
    fn dhcp_drops_truncated_and_keeps_info() {
        assert!(DhcpSocket::accept(raw(None, true)).is_none());
        let info = DhcpSocket::accept(raw(None, false)).unwrap();
        assert_eq!(info.ifindex, 4);
        assert_eq!(info.dst, ALL_ROUTERS);
        let mut r = raw(None, false);
        r.dst = None;
        r.ifindex = None;
        let info = DhcpSocket::accept(r).unwrap();
        assert_eq!((info.dst, info.ifindex), (Ipv6Addr::UNSPECIFIED, 0));
    }

    #[tokio::test]
    async fn loopback_round_trip_reports_packet_info() {
        // Unprivileged and namespace-free: two sockets on ::1.
        let a = DhcpSocket::bind(0).unwrap();
        let b = DhcpSocket::bind(0).unwrap();
        let pb = b.local_port().unwrap();
        let lo = ifindex("lo").unwrap();
        let mut buf = [0u8; 64];
        assert!(b.try_recv(&mut buf).unwrap().is_none());
        a.send(
            b"hello",
            SocketAddrV6::new(Ipv6Addr::LOCALHOST, pb, 0, 0),
            0,
        )
        .await
        .unwrap();
        let info = b.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..info.len], b"hello");
        assert_eq!(info.dst, Ipv6Addr::LOCALHOST);
        assert_eq!(info.ifindex, lo);
        assert_eq!(info.src.port(), a.local_port().unwrap());
        // Explicit egress interface works too; try_recv drains it.
        b.send(
            b"back",
            SocketAddrV6::new(Ipv6Addr::LOCALHOST, a.local_port().unwrap(), 0, 0),
            lo,
        )
        .await
        .unwrap();
        let mut got = None;
        for _ in 0..400 {
            got = a.try_recv(&mut buf).unwrap();
            if got.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let info = got.expect("datagram within 2 s");
        assert_eq!(&buf[..info.len], b"back");
        assert_eq!(info.src.port(), pb);
    }
}
