//! End-to-end Rust examples for pets; run one with
//! `cargo run --release -p pets-examples --example encode_ae`.
