//! "Did you mean …?": the nearest valid name to a misspelled one.

/// The candidate closest to `word` by edit distance (case-insensitive), if any candidate is
/// reasonably close: at most a third of the longer name's length, and at least 2 edits.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|candidate| (distance(&word, &candidate.to_ascii_lowercase()), candidate))
        .filter(|(d, candidate)| *d <= (word.len().max(candidate.len()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, candidate)| candidate)
}

/// `" (did you mean X?)"`, or nothing.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    nearest(word, candidates).map_or_else(String::new, |n| {
        format!(" (did you mean {}?)", crate::config::shown::name(n))
    })
}

/// Levenshtein distance over bytes.
fn distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_nearest() {
        let names = [
            "shutdown_timeout",
            "output",
            "timestamps",
            "color",
            "programs",
        ];
        assert_eq!(nearest("shutdown_timout", names), Some("shutdown_timeout"));
        assert_eq!(nearest("colour", names), Some("color"));
        assert_eq!(nearest("OUTPUT", names), Some("output"));
        assert_eq!(nearest("program", names), Some("programs"));
        assert_eq!(nearest("zzzzzzzz", names), None);
        assert_eq!(
            did_you_mean("timestamp", names),
            " (did you mean timestamps?)"
        );
        assert_eq!(did_you_mean("qqqqqqqq", names), "");
    }

    #[test]
    fn distances() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("same", "same"), 0);
    }
}
