//! The dependency graph of the programs: a cycle, if there is one, and the start order.
//!
//! Both run on every configuration as PID 1, before anything starts, so they must stay
//! linear whatever users write (10,000 programs in a chain, in any order) and must not
//! recurse: a chain as long as the stack is deep would overflow it. Programs are found by
//! index, names are looked up once, in a hash map.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use super::ProgramSpec;

/// For each program, the indices of the programs it depends on (unknown names left out:
/// they are reported apart).
pub fn dependency_indices(specs: &[ProgramSpec]) -> Vec<Vec<usize>> {
    let index: HashMap<&str, usize> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| (spec.name.as_str(), i))
        .collect();
    specs
        .iter()
        .map(|spec| {
            spec.depends_on
                .iter()
                .filter_map(|name| index.get(name.as_str()).copied())
                .collect()
        })
        .collect()
}

/// A dependency cycle, as the indices of the programs along it (the first repeated at the
/// end), if any. Depth-first from each program in the order written, dependencies in the
/// order listed, with an explicit stack.
pub fn find_cycle(dependencies: &[Vec<usize>]) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        /// On the current path, at this depth.
        OnPath(usize),
        Done,
    }
    let mut marks = vec![Mark::New; dependencies.len()];
    // (program, how many of its dependencies have been followed)
    let mut path: Vec<(usize, usize)> = Vec::new();
    for root in 0..dependencies.len() {
        if marks[root] != Mark::New {
            continue;
        }
        marks[root] = Mark::OnPath(0);
        path.push((root, 0));
        while let Some((node, followed)) = path.last_mut() {
            let node = *node;
            let Some(&next) = dependencies[node].get(*followed) else {
                marks[node] = Mark::Done;
                path.pop();
                continue;
            };
            *followed += 1;
            match marks[next] {
                Mark::OnPath(depth) => {
                    let mut cycle: Vec<usize> = path[depth..].iter().map(|&(p, _)| p).collect();
                    cycle.push(next);
                    return Some(cycle);
                }
                Mark::New => {
                    marks[next] = Mark::OnPath(path.len());
                    path.push((next, 0));
                }
                Mark::Done => {}
            }
        }
    }
    None
}

/// `dependency cycle: a → b → a`; a long cycle with its first five and its last program.
pub fn describe_cycle(names: &[&str]) -> String {
    // `names` ends with its first name again.
    let programs = names.len().saturating_sub(1);
    if names.len() <= 12 {
        return format!("dependency cycle: {}", names.join(" → "));
    }
    format!(
        "dependency cycle of {programs} programs: {} → … → {}",
        names[..5].join(" → "),
        names[names.len() - 2..].join(" → ")
    )
}

/// The start order, as indices: dependency order, ties in the order written. Each step
/// takes the first program, in the order written, whose dependencies have all been placed
/// (Kahn's algorithm, the ready programs in a min-heap of their written positions).
/// Programs on a cycle (never: cycles are refused first) come last, in the order written.
pub fn start_order(dependencies: &[Vec<usize>]) -> Vec<usize> {
    let n = dependencies.len();
    // How many dependencies of each program are not placed yet (a name listed twice counts
    // twice, and is placed twice).
    let mut waiting: Vec<usize> = dependencies.iter().map(Vec::len).collect();
    let mut dependents = vec![Vec::new(); n];
    for (i, deps) in dependencies.iter().enumerate() {
        for &d in deps {
            dependents[d].push(i);
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&i| waiting[i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(n);
    let mut placed = vec![false; n];
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        placed[i] = true;
        for &dependent in &dependents[i] {
            waiting[dependent] -= 1;
            if waiting[dependent] == 0 {
                ready.push(Reverse(dependent));
            }
        }
    }
    order.extend((0..n).filter(|&i| !placed[i]));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule as first written (quadratic): repeatedly take the first program, in the
    /// order written, whose dependencies are all placed.
    fn reference_order(dependencies: &[Vec<usize>]) -> Vec<usize> {
        let mut left: Vec<usize> = (0..dependencies.len()).collect();
        let mut placed = vec![false; dependencies.len()];
        let mut order = Vec::new();
        while !left.is_empty() {
            let next = left
                .iter()
                .position(|&i| dependencies[i].iter().all(|&d| placed[d]))
                .unwrap_or(0);
            let i = left.remove(next);
            placed[i] = true;
            order.push(i);
        }
        order
    }

    /// A small deterministic generator (xorshift), so the cases are the same on every run.
    struct Random(u64);

    impl Random {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    #[test]
    fn the_start_order_is_the_rule_as_written() {
        let mut random = Random(0x9e37_79b9_7f4a_7c15);
        for case in 0..500 {
            let n = 1 + case % 40;
            // A hidden order; each program depends on a few that come before it in it,
            // written in a shuffled order.
            let mut hidden: Vec<usize> = (0..n).collect();
            for i in (1..n).rev() {
                hidden.swap(i, random.below(i + 1));
            }
            let mut dependencies = vec![Vec::new(); n];
            for position in 1..n {
                for _ in 0..random.below(4) {
                    let before = hidden[random.below(position)];
                    dependencies[hidden[position]].push(before);
                }
            }
            assert_eq!(
                start_order(&dependencies),
                reference_order(&dependencies),
                "{dependencies:?}"
            );
            assert_eq!(find_cycle(&dependencies), None);
        }
    }

    #[test]
    fn cycles() {
        assert_eq!(
            find_cycle(&[vec![1], vec![2], vec![0]]),
            Some(vec![0, 1, 2, 0])
        );
        assert_eq!(find_cycle(&[vec![0]]), Some(vec![0, 0]));
        // Found from the first program written that leads to one, along the first path.
        assert_eq!(
            find_cycle(&[vec![1], vec![2, 3], vec![], vec![1]]),
            Some(vec![1, 3, 1])
        );
        assert_eq!(find_cycle(&[vec![1, 1], vec![]]), None);
        assert_eq!(
            describe_cycle(&["a", "b", "a"]),
            "dependency cycle: a → b → a"
        );
    }
}
