//! Active bindings per link, each counted link under a small id that the
//! binding's record keeps (so the engine needs no prefix → link map, and a
//! restore clones no key per lease).

use std::collections::HashMap;

use super::limits::LinkKey;

/// A counted link's id (valid while it has bindings).
pub type LinkId = u32;

#[derive(Debug, Default)]
struct Slot {
    /// `None` for a free id.
    key: Option<LinkKey>,
    count: u64,
}

/// Binding counts of the links that have bindings (a link goes when its
/// count drops to zero, so memory follows the bindings, not the traffic).
/// The key map keeps std's keyed SipHash: relay addresses can be forged.
#[derive(Debug, Default)]
pub struct LinkCounts {
    slots: Vec<Slot>,
    index: HashMap<LinkKey, LinkId>,
    free: Vec<LinkId>,
    /// The id last counted (a restore sees the same link again and again).
    recent: Option<LinkId>,
}

impl LinkCounts {
    fn slot(&self, id: LinkId) -> Option<&Slot> {
        self.slots.get(usize::try_from(id).ok()?)
    }

    fn slot_mut(&mut self, id: LinkId) -> Option<&mut Slot> {
        self.slots.get_mut(usize::try_from(id).ok()?)
    }

    /// One more binding on `link`; returns its id.
    pub fn bound(&mut self, link: &LinkKey) -> LinkId {
        let id = match self.recent {
            Some(id) if self.slot(id).and_then(|s| s.key.as_ref()) == Some(link) => Some(id),
            _ => self.index.get(link).copied(),
        };
        let id = match id {
            Some(id) => id,
            None => {
                let slot = Slot {
                    key: Some(link.clone()),
                    count: 0,
                };
                let id = match self.free.pop() {
                    Some(id) => {
                        if let Some(s) = self.slot_mut(id) {
                            *s = slot;
                        }
                        id
                    }
                    None => {
                        self.slots.push(slot);
                        LinkId::try_from(self.slots.len() - 1).unwrap_or(LinkId::MAX)
                    }
                };
                self.index.insert(link.clone(), id);
                id
            }
        };
        if let Some(s) = self.slot_mut(id) {
            s.count += 1;
        }
        self.recent = Some(id);
        id
    }

    /// One binding fewer on link `id`.
    pub fn unbound(&mut self, id: LinkId) {
        let Some(s) = self.slot_mut(id) else {
            return;
        };
        if s.key.is_none() {
            return;
        }
        s.count = s.count.saturating_sub(1);
        if s.count == 0 {
            if let Some(k) = s.key.take() {
                self.index.remove(&k);
            }
            self.free.push(id);
            if self.recent == Some(id) {
                self.recent = None;
            }
        }
    }

    /// The link of `id`.
    pub fn key(&self, id: LinkId) -> Option<&LinkKey> {
        self.slot(id)?.key.as_ref()
    }

    /// Active bindings on `link`.
    pub fn count(&self, link: &LinkKey) -> u64 {
        self.index
            .get(link)
            .and_then(|id| self.slot(*id))
            .map_or(0, |s| s.count)
    }

    /// Links with bindings.
    pub fn links(&self) -> usize {
        self.index.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::net::Ipv6Addr;
    use std::sync::Arc;

    use super::*;

    #[test]
    fn ids_follow_counts_and_are_reused() {
        let mut c = LinkCounts::default();
        let a = LinkKey::Iface(Arc::from("eth0"));
        let b = LinkKey::Relay(Ipv6Addr::LOCALHOST);
        let ia = c.bound(&a);
        assert_eq!(c.bound(&a), ia);
        let ib = c.bound(&b);
        assert_ne!(ia, ib);
        assert_eq!((c.count(&a), c.count(&b), c.links()), (2, 1, 2));
        c.unbound(ib);
        assert_eq!((c.count(&b), c.links()), (0, 1));
        assert_eq!(c.key(ib), None);
        c.unbound(ib); // a stale id is a no-op
        let ib2 = c.bound(&b);
        assert_eq!(ib2, ib, "the free id is reused");
        c.unbound(ia);
        c.unbound(ia);
        assert_eq!(c.count(&a), 0);
        assert_eq!(c.key(ib2), Some(&b));
    }
}
