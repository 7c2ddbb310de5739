//! The simulator's own random numbers.
//!
//! We implement the generator here instead of using the `rand` crate on
//! purpose: the simulated data feeds compression benchmarks, golden tests and
//! `minetsdb demo`, and must stay bit-identical for a given seed forever.
//! `rand` has changed its algorithms and its float/normal conversions between
//! releases, so a dependency upgrade would silently change every number. The
//! algorithms below are fixed by this file alone.
//!
//! (The transcendental functions used by the model, `exp`, `ln`, `sin`, come
//! from the platform's libm; they are the same on every build of one
//! platform. Most exposed values are rounded to display precision, which
//! also hides last-bit differences between platforms.)

/// SplitMix64 step: used to seed xoshiro and to derive independent streams.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256** (Blackman & Vigna), seeded through SplitMix64.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    s: [u64; 4],
    /// Second value of the last Box-Muller pair, not yet handed out.
    spare_normal: Option<f64>,
}

impl Rng {
    /// Stream `stream` of seed `seed`. Different parts of the model draw from
    /// different streams, so adding a GPU does not change the rig's outages,
    /// and timestamp jitter does not change the values.
    pub(crate) fn stream(seed: u64, stream: u64) -> Rng {
        let mut sm = seed ^ stream.wrapping_mul(0xD6E8_FEB8_6659_FD93);
        // Mix once more so that nearby seeds and streams decorrelate.
        let _ = splitmix64(&mut sm);
        let s = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        Rng {
            s,
            spare_normal: None,
        }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1), 53 random bits.
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [lo, hi).
    pub(crate) fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Uniform integer in [0, n); n > 0. (Multiply-shift; the tiny bias is
    /// irrelevant here.)
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// True with probability p.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// Standard normal by Box-Muller (both values of each pair are used).
    pub(crate) fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        // 1 - uniform is in (0, 1], so ln never sees 0.
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = std::f64::consts::TAU * u2;
        self.spare_normal = Some(r * theta.sin());
        r * theta.cos()
    }

    /// Normal with mean `mean` and standard deviation `sd`.
    pub(crate) fn gauss(&mut self, mean: f64, sd: f64) -> f64 {
        mean + sd * self.normal()
    }

    /// Exponential with mean `mean`.
    pub(crate) fn exponential(&mut self, mean: f64) -> f64 {
        -(1.0 - self.uniform()).ln() * mean
    }

    /// Poisson with mean `lambda`, by inversion. Large means are split into
    /// chunks of 30 (a sum of Poissons is Poisson) so `exp(-lambda)` never
    /// underflows; very large means (only after long gaps between scrapes)
    /// use the normal approximation.
    pub(crate) fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda.is_nan() || lambda <= 0.0 {
            return 0;
        }
        if lambda > 3000.0 {
            return self.gauss(lambda, lambda.sqrt()).round().max(0.0) as u64;
        }
        let mut rest = lambda;
        let mut k = 0;
        while rest > 30.0 {
            k += self.poisson_inversion(30.0);
            rest -= 30.0;
        }
        k + self.poisson_inversion(rest)
    }

    fn poisson_inversion(&mut self, lambda: f64) -> u64 {
        let u = self.uniform();
        let mut p = (-lambda).exp();
        let mut cdf = p;
        let mut x = 0u64;
        while u > cdf && x < 1000 {
            x += 1;
            p *= lambda / x as f64;
            cdf += p;
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoshiro_reference_vector() {
        // First outputs of the reference C implementation from state 1,2,3,4.
        let mut r = Rng {
            s: [1, 2, 3, 4],
            spare_normal: None,
        };
        let v: Vec<u64> = (0..4).map(|_| r.next_u64()).collect();
        assert_eq!(v, [11520, 0, 1509978240, 1215971899390074240]);
    }

    #[test]
    fn fixed_output_for_a_seed() {
        // Pin seeding and streams: if these change, every simulated data set
        // does. Change them only deliberately.
        let mut r = Rng::stream(1, 0);
        let v: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        assert_eq!(
            v,
            [0xf9d20113ec80c6d5, 0xd16e236e5cdc6563, 0x68a40f278366062a]
        );
        let mut r = Rng::stream(42, 0);
        let v: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        let mut r2 = Rng::stream(42, 0);
        let v2: Vec<u64> = (0..3).map(|_| r2.next_u64()).collect();
        assert_eq!(v, v2);
        assert_ne!(v, {
            let mut r3 = Rng::stream(42, 1);
            (0..3).map(|_| r3.next_u64()).collect::<Vec<_>>()
        });
    }

    #[test]
    fn moments() {
        let mut r = Rng::stream(7, 7);
        let n = 200_000;
        let (mut s, mut s2) = (0.0, 0.0);
        for _ in 0..n {
            let z = r.normal();
            s += z;
            s2 += z * z;
        }
        let mean = s / n as f64;
        let var = s2 / n as f64 - mean * mean;
        assert!(mean.abs() < 0.01, "{mean}");
        assert!((var - 1.0).abs() < 0.02, "{var}");

        for lambda in [0.3, 2.5, 45.0, 5000.0] {
            let n = 50_000;
            let sum: u64 = (0..n).map(|_| r.poisson(lambda)).sum();
            let mean = sum as f64 / n as f64;
            assert!(
                (mean - lambda).abs() < 0.03 * lambda + 0.02,
                "{lambda}: {mean}"
            );
        }
        let u: f64 = (0..n).map(|_| r.uniform()).sum::<f64>() / n as f64;
        assert!((u - 0.5).abs() < 0.01);
    }
}
