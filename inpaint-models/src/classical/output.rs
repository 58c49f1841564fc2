//! The arrays of a large region of interest, reused between runs and, when large, backed by
//! huge pages (see [`inpaint_core::buffer`]).

use inpaint_core::buffer::advise_huge_pages;

/// Makes `v` hold `len` copies of `value`, reusing its allocation when it is large enough, and
/// otherwise allocating one advised to use huge pages when it is large.
pub(super) fn refill<T: Copy>(v: &mut Vec<T>, len: usize, value: T) {
    v.clear();
    if v.capacity() < len {
        *v = Vec::new();
        if v.try_reserve_exact(len).is_ok() {
            advise_huge_pages(v.spare_capacity_mut());
        }
    }
    v.resize(len, value);
}

#[cfg(test)]
mod tests {
    use super::refill;

    #[test]
    fn refills_small_and_large_vectors() {
        let large = 4 << 20;
        let mut v = vec![7u32; 10];
        for (len, value) in [(3, 1u32), (large, 2), (5, 3), (large / 2 + 1, 4)] {
            refill(&mut v, len, value);
            assert_eq!(v.len(), len);
            assert!(v.iter().all(|&x| x == value));
        }
    }
}
