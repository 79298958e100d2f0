//! The values a sector was read as, and the rule that picks one.

/// One distinct value a sector was read as.
#[derive(Debug)]
struct Candidate {
    data: Vec<u8>,
    /// Reads of this value without a C2 error.
    clean: u32,
    /// Reads of this value flagged by C2.
    flagged: u32,
}

/// The reads of one sector that did not match at once.
#[derive(Debug, Default)]
pub(super) struct Votes {
    cands: Vec<Candidate>,
}

/// Clean reads of one value that make it accepted (EAC's secure mode: two
/// matching reads).
pub(super) const MATCHES_NEEDED: u32 = 2;

impl Votes {
    /// Counts one read.
    pub(super) fn add(&mut self, data: &[u8], flagged: bool) {
        let c = match self.cands.iter_mut().find(|c| c.data == data) {
            Some(c) => c,
            None => {
                self.cands.push(Candidate {
                    data: data.to_vec(),
                    clean: 0,
                    flagged: 0,
                });
                let Some(c) = self.cands.last_mut() else {
                    return;
                };
                c
            }
        };
        if flagged {
            c.flagged += 1;
        } else {
            c.clean += 1;
        }
    }

    /// The value read cleanly [`MATCHES_NEEDED`] times, if any.
    pub(super) fn accepted(&self) -> Option<&[u8]> {
        self.cands
            .iter()
            .find(|c| c.clean >= MATCHES_NEEDED)
            .map(|c| c.data.as_slice())
    }

    /// The best value when none was accepted: the one read cleanly most
    /// often, then read most often at all; ties go to the value seen first.
    pub(super) fn best(&self) -> Option<&[u8]> {
        let mut best: Option<&Candidate> = None;
        for c in &self.cands {
            let better = match best {
                None => true,
                Some(b) => (c.clean, c.clean + c.flagged) > (b.clean, b.clean + b.flagged),
            };
            if better {
                best = Some(c);
            }
        }
        best.map(|c| c.data.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_clean_matches_accept() {
        let mut v = Votes::default();
        v.add(&[1, 2], false);
        v.add(&[1, 3], false);
        assert_eq!(v.accepted(), None);
        v.add(&[1, 3], true);
        assert_eq!(v.accepted(), None, "a flagged read is no match");
        v.add(&[1, 3], false);
        assert_eq!(v.accepted(), Some(&[1, 3][..]));
    }

    #[test]
    fn best_prefers_clean_then_frequent() {
        let mut v = Votes::default();
        assert_eq!(v.best(), None);
        v.add(&[9], true);
        v.add(&[9], true);
        v.add(&[7], false);
        assert_eq!(v.best(), Some(&[7][..]));
        let mut w = Votes::default();
        w.add(&[1], true);
        w.add(&[2], true);
        w.add(&[2], true);
        assert_eq!(w.best(), Some(&[2][..]));
    }
}
