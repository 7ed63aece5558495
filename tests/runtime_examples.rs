//! Specification: every runtime example runs end to end on a fresh embedded broker and exits 0
//! once its output equals the model it computes itself (each example checks its own result and
//! exits 1 otherwise).

use std::process::Command;

use rill_test_support::process::example;

/// Runs `name` with `args` and returns its standard output, asserting a clean exit.
fn run(name: &str, args: &[&str]) -> String {
    let output = Command::new(example(name))
        .args(args)
        .output()
        .expect("run the example");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{name} failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn pageview_region_joins_views_with_profiles_and_counts_per_region() {
    let out = run("pageview_region", &["--users", "200", "--views", "5000"]);
    assert!(out.contains("counts equal the model"), "{out}");
}

#[test]
fn pageview_region_under_exactly_once() {
    let out = run(
        "pageview_region",
        &[
            "--users",
            "100",
            "--views",
            "2000",
            "--processing-guarantee",
            "exactly_once_v2",
        ],
    );
    assert!(out.contains("counts equal the model"), "{out}");
}

#[test]
fn fraud_detection_alerts_on_payments_without_a_login() {
    let out = run("fraud_detection", &["--payments", "20000"]);
    assert!(out.contains("equal to the model"), "{out}");
}

#[test]
fn fraud_detection_under_exactly_once() {
    let out = run(
        "fraud_detection",
        &[
            "--payments",
            "1000",
            "--processing-guarantee",
            "exactly_once_v2",
        ],
    );
    assert!(out.contains("equal to the model"), "{out}");
}

#[test]
fn order_enrichment_joins_orders_to_products_by_foreign_key() {
    let out = run(
        "order_enrichment",
        &[
            "--products",
            "100",
            "--orders",
            "2000",
            "--changes",
            "600",
            "--seed",
            "7",
        ],
    );
    assert!(out.contains("enriched orders equal the model"), "{out}");
}

#[test]
fn order_enrichment_under_exactly_once() {
    let out = run(
        "order_enrichment",
        &[
            "--products",
            "50",
            "--orders",
            "1000",
            "--changes",
            "300",
            "--processing-guarantee",
            "exactly_once_v2",
        ],
    );
    assert!(out.contains("enriched orders equal the model"), "{out}");
}

#[test]
fn temperature_alerts_routes_every_reading() {
    let out = run("temperature_alerts", &["--readings", "3000"]);
    assert!(out.contains("readings routed"), "{out}");
}

#[test]
fn windowed_pageviews_emits_each_final_window_once() {
    let out = run("windowed_pageviews", &["--views", "3000"]);
    assert!(
        out.contains("emitted once when it closed, equal to the model"),
        "{out}"
    );
}

#[test]
fn user_sessions_equal_the_session_model() {
    let out = run("user_sessions", &["--clicks", "1000"]);
    assert!(out.contains("equal to the model"), "{out}");
}
