//! "Did you mean …?": the nearest valid name to a misspelled one.
//!
//! Suggestions must stay cheap whatever users write: a 10 MB unknown key, or ten thousand
//! programs each depending on a misspelled name, must not turn validation into minutes of
//! edit distances. So a search never compares names longer than [`LONGEST`], skips a
//! candidate whose length alone puts it out of reach, computes only the band of the distance
//! table that can still be close enough, and draws on a [`Budget`] shared by every search of
//! one validation: once it is spent, problems are still reported, without a suggestion.

use crate::config::shown;

/// Names longer than this are never compared: nobody mistypes one 128-character name for
/// another, and every name tinysup knows is far shorter.
pub const LONGEST: usize = 128;

/// Steps (candidates looked at, plus table cells computed) allowed to all the searches of one
/// validation: a few tens of milliseconds at most.
const TOTAL_STEPS: usize = 1 << 25;

/// What the searches of one validation may still spend.
pub struct Budget {
    left: usize,
    /// Two rows of the distance table, reused from search to search.
    rows: (Vec<usize>, Vec<usize>),
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new(TOTAL_STEPS)
    }
}

impl Budget {
    /// A budget of `steps`.
    pub fn new(steps: usize) -> Budget {
        Budget {
            left: steps,
            rows: (Vec::new(), Vec::new()),
        }
    }

    /// The candidate closest to `word` by edit distance (ASCII case-insensitive), if any is
    /// reasonably close: at most a third of the longer name's length, and at least 2 edits.
    /// Among equally close candidates, the first.
    pub fn nearest<'a>(
        &mut self,
        word: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Option<&'a str> {
        if word.len() > LONGEST {
            return None;
        }
        let mut best: Option<(usize, &'a str)> = None;
        for candidate in candidates {
            if self.left == 0 {
                break;
            }
            self.left -= 1;
            if candidate.len() > LONGEST {
                continue;
            }
            let mut limit = (word.len().max(candidate.len()) / 3).max(2);
            if let Some((distance, _)) = best {
                // Only a strictly closer candidate can replace the first best one.
                match distance.checked_sub(1) {
                    Some(closer) => limit = limit.min(closer),
                    None => break,
                }
            }
            if word.len().abs_diff(candidate.len()) > limit {
                continue;
            }
            let cells = (2 * limit + 1) * word.len().min(candidate.len()).max(1);
            if cells > self.left {
                self.left = 0;
                break;
            }
            self.left -= cells;
            let rows = &mut self.rows;
            if let Some(distance) =
                distance_within(word.as_bytes(), candidate.as_bytes(), limit, rows)
            {
                best = Some((distance, candidate));
            }
        }
        best.map(|(_, candidate)| candidate)
    }

    /// `" (did you mean X?)"`, or nothing.
    pub fn did_you_mean<'a>(
        &mut self,
        word: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> String {
        self.nearest(word, candidates)
            .map_or_else(String::new, |n| {
                format!(" (did you mean {}?)", shown::name(n))
            })
    }
}

/// The Levenshtein distance between `a` and `b` (bytes, ASCII case-insensitive) if it is at
/// most `limit`. Only the cells within `limit` of the diagonal are computed (Ukkonen's band);
/// the others cannot lead to a distance within the limit.
fn distance_within(
    a: &[u8],
    b: &[u8],
    limit: usize,
    rows: &mut (Vec<usize>, Vec<usize>),
) -> Option<usize> {
    if a.len().abs_diff(b.len()) > limit {
        return None;
    }
    // Anything above the limit is the same as "too far"; capping keeps the sums small.
    let far = limit + 1;
    let (previous, current) = rows;
    previous.clear();
    previous.extend((0..=b.len()).map(|j| j.min(far)));
    current.clear();
    current.resize(b.len() + 1, far);
    for i in 1..=a.len() {
        let low = i.saturating_sub(limit).max(1);
        let high = (i + limit).min(b.len());
        current[0] = i.min(far);
        // The cells just outside the band read as far by the next row.
        current[low - 1] = if low == 1 { current[0] } else { far };
        if high < b.len() {
            current[high + 1] = far;
        }
        let mut row_min = current[low - 1];
        for j in low..=high {
            let substitution =
                previous[j - 1] + usize::from(!a[i - 1].eq_ignore_ascii_case(&b[j - 1]));
            let cell = substitution
                .min(previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(far);
            current[j] = cell;
            row_min = row_min.min(cell);
        }
        if row_min > limit {
            return None;
        }
        std::mem::swap(previous, current);
    }
    let distance = previous[b.len()];
    (distance <= limit).then_some(distance)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 5] = [
        "shutdown_timeout",
        "output",
        "timestamps",
        "color",
        "programs",
    ];

    fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
        Budget::default().nearest(word, candidates)
    }

    /// The whole table, for comparison.
    fn levenshtein(a: &[u8], b: &[u8]) -> usize {
        let mut previous: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.iter().enumerate() {
            let mut current = vec![i + 1; b.len() + 1];
            for (j, cb) in b.iter().enumerate() {
                let substitution = previous[j] + usize::from(!ca.eq_ignore_ascii_case(cb));
                current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
            }
            previous = current;
        }
        previous[b.len()]
    }

    #[test]
    fn finds_the_nearest() {
        assert_eq!(nearest("shutdown_timout", NAMES), Some("shutdown_timeout"));
        assert_eq!(nearest("colour", NAMES), Some("color"));
        assert_eq!(nearest("OUTPUT", NAMES), Some("output"));
        assert_eq!(nearest("program", NAMES), Some("programs"));
        assert_eq!(nearest("zzzzzzzz", NAMES), None);
        let mut budget = Budget::default();
        assert_eq!(
            budget.did_you_mean("timestamp", NAMES),
            " (did you mean timestamps?)"
        );
        assert_eq!(budget.did_you_mean("qqqqqqqq", NAMES), "");
        // Ties: the first written.
        assert_eq!(nearest("ab", ["ax", "xb"]), Some("ax"));
    }

    #[test]
    fn the_band_gives_the_whole_table_s_answer() {
        // Every pair of short words over a small alphabet, at every limit.
        let mut words = vec![Vec::new()];
        for length in 1..=4 {
            let mut n = 0u32;
            while n < 3u32.pow(length) {
                words.push(
                    (0..length)
                        .map(|p| b"abC"[(n / 3u32.pow(p) % 3) as usize])
                        .collect(),
                );
                n += 1;
            }
        }
        let mut rows = (Vec::new(), Vec::new());
        for a in &words {
            for b in &words {
                let full = levenshtein(a, b);
                for limit in 0..=5 {
                    let banded = distance_within(a, b, limit, &mut rows);
                    assert_eq!(
                        banded,
                        (full <= limit).then_some(full),
                        "{a:?} {b:?} {limit}"
                    );
                }
            }
        }
    }

    #[test]
    fn huge_words_cost_nothing() {
        let huge = "k".repeat(10 << 20);
        let mut budget = Budget::new(1000);
        assert_eq!(budget.nearest(&huge, NAMES), None);
        assert_eq!(
            budget.nearest("output", [huge.as_str(), "outpt"]),
            Some("outpt")
        );
        assert_eq!(
            budget.left,
            1000 - 2 - 5 * 5,
            "the huge candidate was only looked at"
        );
    }

    #[test]
    fn a_spent_budget_stops_suggesting() {
        let names: Vec<String> = (0..10_000).map(|i| format!("p{i}")).collect();
        let mut budget = Budget::new(50_000);
        let mut found = 0;
        for i in 0..10_000 {
            let typo = format!("q{i}");
            if budget
                .nearest(&typo, names.iter().map(String::as_str))
                .is_some()
            {
                found += 1;
            }
        }
        assert!((1..100).contains(&found), "{found} suggestions");
        assert_eq!(budget.left, 0);
    }
}
