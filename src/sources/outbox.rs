//! The shares waiting for a connection: found while no pool was connected,
//! or submitted on a connection that ended before the pool answered. They
//! are submitted on the next connection if their job is still good there,
//! else counted stale; the queue is bounded so that a long outage cannot
//! grow memory without limit.

use std::collections::VecDeque;

use crate::hashing::work::Share;

/// Shares kept while disconnected.
pub const MAX_OFFLINE: usize = 1024;

/// A share waiting for a connection, and whether it is a resubmission of
/// one whose first submission got no reply (a `duplicate` answer to it
/// means the first one was accepted).
pub type Waiting = (Share, bool);

/// The bounded queue of shares waiting for a connection, oldest first.
#[derive(Debug, Default)]
pub struct Outbox {
    queue: VecDeque<Waiting>,
}

impl Outbox {
    pub fn new() -> Self {
        Outbox::default()
    }

    /// Queue a share; `false` when the queue is full and the share was
    /// dropped (the caller counts it stale).
    #[must_use]
    pub fn push(&mut self, share: Share, resubmit: bool) -> bool {
        if self.queue.len() >= MAX_OFFLINE {
            return false;
        }
        self.queue.push_back((share, resubmit));
        true
    }

    /// The oldest waiting share.
    pub fn pop(&mut self) -> Option<Waiting> {
        self.queue.pop_front()
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hashing::header::HeaderTemplate;
    use bitcoin::hashes::Hash;

    fn share(n: u32) -> Share {
        Share {
            job_id: format!("job{n}"),
            extranonce2: Vec::new(),
            header: HeaderTemplate::from_bytes(&[0; 80]),
            hash: bitcoin::BlockHash::all_zeros(),
            difficulty: 1.0,
            is_block: false,
            version_bits: 0,
        }
    }

    #[test]
    fn keeps_order_and_refuses_past_the_bound() {
        let mut o = Outbox::new();
        for n in 0..MAX_OFFLINE as u32 {
            assert!(o.push(share(n), n % 2 == 1));
        }
        assert!(!o.push(share(9999), false));
        assert_eq!(o.len(), MAX_OFFLINE);
        let (first, resubmit) = o.pop().unwrap();
        assert_eq!((first.job_id.as_str(), resubmit), ("job0", false));
        assert_eq!(o.pop().unwrap(), (share(1), true));
        assert!(o.push(share(7), false));
        while o.pop().is_some() {}
        assert!(o.is_empty());
    }
}
