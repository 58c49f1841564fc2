//! The priority queue of the fast marching method, ordered as OpenCV's `CvPriorityQueueFloat`.
//!
//! OpenCV keeps a sorted doubly linked list and inserts each new element after every element
//! whose `T` is less than *or equal to* its own, then pops the head. So elements come out by
//! increasing `T`, and elements with equal `T` in the order they went in (FIFO). A binary heap
//! keyed on `(T, insertion number)` pops in exactly that order, in `O(log n)` rather than the
//! linked list's `O(n)` insertion.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A min-queue of grid cells by arrival time `T`, first in first out among equal times.
#[derive(Debug, Default)]
pub(super) struct Queue {
    /// `(T bits << 32 | insertion number, cell)`. Every `T` pushed is `≥ +0.0`, and for such
    /// floats the bit pattern orders like the value.
    heap: BinaryHeap<Reverse<(u64, u32)>>,
    next: u32,
}

impl Queue {
    /// Empties the queue and restarts the insertion count.
    pub(super) fn clear(&mut self) {
        self.heap.clear();
        self.next = 0;
    }

    /// Adds `cell` with arrival time `t` (`t ≥ 0`, never NaN).
    ///
    /// The caller keeps the number of pushes below `2³²`: a grid has at most `u32::MAX` cells
    /// and each cell is pushed at most once per march.
    pub(super) fn push(&mut self, cell: u32, t: f32) {
        debug_assert!(t >= 0.0, "arrival times are never negative");
        // `+ 0.0` turns a `-0.0` into `+0.0`, which compares equal to it, as in OpenCV.
        let key = u64::from((t + 0.0).to_bits()) << 32 | u64::from(self.next);
        self.next = self.next.wrapping_add(1);
        self.heap.push(Reverse((key, cell)));
    }

    /// Removes the cell with the smallest `T`, the earliest pushed among equals.
    pub(super) fn pop(&mut self) -> Option<u32> {
        self.heap.pop().map(|Reverse((_, cell))| cell)
    }
}

#[cfg(test)]
mod tests {
    use super::Queue;

    #[test]
    fn pops_by_time_then_fifo() {
        let mut q = Queue::default();
        for (cell, t) in [(0, 1.0), (1, 0.5), (2, 1.0), (3, 0.0), (4, 0.5), (5, 1.0)] {
            q.push(cell, t);
        }
        let order: Vec<u32> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, [3, 1, 4, 0, 2, 5]);
    }

    #[test]
    fn negative_zero_ties_with_zero() {
        let mut q = Queue::default();
        q.push(7, 0.0);
        q.push(8, -0.0);
        q.push(9, 0.0);
        let order: Vec<u32> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, [7, 8, 9]);
    }
}
