//! The in-memory network device between a smoltcp interface and the links.
//!
//! It holds at most one received frame (the host feeds frames one at a time,
//! so every state change can be attributed to the packet that caused it) and
//! collects every frame the interface transmits. It never refuses to
//! transmit: queueing and loss are the links' business.

use smoltcp::phy::{self, Checksum, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use std::sync::Arc;

pub(crate) struct SimDevice {
    pub rx: Option<Arc<[u8]>>,
    pub tx: Vec<Arc<[u8]>>,
    pub mtu: usize,
}

impl SimDevice {
    pub fn new(mtu: usize) -> SimDevice {
        SimDevice {
            rx: None,
            tx: Vec::new(),
            mtu,
        }
    }
}

pub(crate) struct RxToken(Arc<[u8]>);

pub(crate) struct TxToken<'a>(&'a mut Vec<Arc<[u8]>>);

impl phy::Device for SimDevice {
    type RxToken<'a> = RxToken;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(RxToken, TxToken<'_>)> {
        let frame = self.rx.take()?;
        Some((RxToken(frame), TxToken(&mut self.tx)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxToken<'_>> {
        Some(TxToken(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        // smoltcp computes every checksum it sends, but does not verify the
        // ones it receives: the host does that itself, before smoltcp sees
        // the frame, for every frame a link corrupted (`wire::verify`), and
        // reports the discard in the trace. A frame no link touched carries
        // the checksums its sender's smoltcp computed, so verifying them
        // again would only cost time (a tenth of a bulk transfer's).
        caps.checksum.ipv4 = Checksum::Tx;
        caps.checksum.tcp = Checksum::Tx;
        caps.checksum.udp = Checksum::Tx;
        caps.checksum.icmpv4 = Checksum::Tx;
        caps
    }
}

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        // Built in place as the shared buffer the trace and the links keep:
        // one allocation per frame, no copy.
        let mut buf: Arc<[u8]> = std::iter::repeat_n(0u8, len).collect();
        let r = f(Arc::get_mut(&mut buf).expect("a fresh buffer has one owner"));
        self.0.push(buf);
        r
    }
}
