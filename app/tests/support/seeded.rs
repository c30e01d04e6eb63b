//! The one seeding of every property test (included with `#[path]` where one runs): a fixed
//! seed, so a failure replays on every run; `PROPTEST_RNG_SEED=<n>` runs other cases (and
//! replays a run made with it: the seed is printed with a failure).

use proptest::test_runner::{Config as ProptestConfig, RngSeed};

pub fn seeded(cases: u32) -> ProptestConfig {
    let config = ProptestConfig::with_cases(cases);
    let seed = match config.rng_seed {
        RngSeed::Fixed(seed) => seed,
        RngSeed::Random => 2026,
    };
    eprintln!("proptest seed {seed}: PROPTEST_RNG_SEED={seed} replays this run");
    ProptestConfig {
        rng_seed: RngSeed::Fixed(seed),
        ..config
    }
}
