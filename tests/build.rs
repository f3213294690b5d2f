//! Which optional services the tests were built to use: the PostgreSQL and
//! Redis variants are compiled as `#[ignore]`d tests (with the variable to
//! set as the reason) when their variables are unset, so `cargo test` lists
//! them as ignored instead of printing `ok` for tests that never ran.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(loki_postgres)");
    println!("cargo::rustc-check-cfg=cfg(loki_redis)");
    println!("cargo::rerun-if-env-changed=LOKI_TEST_DATABASE_URL");
    println!("cargo::rerun-if-env-changed=LOKI_TEST_REDIS_URL");
    if std::env::var_os("LOKI_TEST_DATABASE_URL").is_some() {
        println!("cargo::rustc-cfg=loki_postgres");
    }
    if std::env::var_os("LOKI_TEST_REDIS_URL").is_some() {
        println!("cargo::rustc-cfg=loki_redis");
    }
}
