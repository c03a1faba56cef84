use super::*;
use proptest::prelude::*;

fn input(key: &str, size: u64) -> InputObject {
    InputObject {
        key: key.to_owned(),
        size_bytes: size,
        etag: String::new(),
    }
}

const A: &str = "silver/transaction/dt=2026-12-02/hour=10/shardId-000-1-5.parquet";
const B: &str = "silver/transaction/dt=2026-12-02/hour=11/shardId-000-6-9.parquet";
const Q: &str = "quarantine/transaction/dt=2026-12-01/hour=23/shardId-000-1-5.jsonl";

#[test]
fn states_round_trip_through_text_and_json() {
    for state in BatchState::ALL {
        assert_eq!(state.as_str().parse::<BatchState>(), Ok(state));
        assert_eq!(
            serde_json::to_string(&state).unwrap(),
            format!("\"{}\"", state.as_str())
        );
    }
    assert!("planned".parse::<BatchState>().is_err());
}

#[test]
fn the_life_cycle_of_the_design_is_allowed() {
    use BatchState::*;
    for path in [
        &[Planned, Transformed, Loading, Loaded, Cleaned][..],
        &[
            Planned,
            Launched,
            Transformed,
            Loading,
            LoadFailed,
            Loading,
            Loaded,
        ],
        &[Planned, TransformFailed, Transformed],
        &[Planned, Launched, TransformFailed, Launched],
    ] {
        for pair in path.windows(2) {
            assert!(allowed(pair[0], pair[1]), "{} -> {}", pair[0], pair[1]);
        }
    }
}

#[test]
fn shortcuts_and_regressions_are_refused() {
    use BatchState::*;
    for (from, to) in [
        (Planned, Loading),
        (Planned, Loaded),
        (Transformed, Planned),
        (Transformed, Loaded),
        (Loading, Cleaned),
        (LoadFailed, Cleaned),
        (Loaded, Loading),
        (Cleaned, Planned),
        (Loaded, Loaded),
    ] {
        assert!(!allowed(from, to), "{from} -> {to}");
    }
    assert!(Cleaned.is_terminal());
}

fn state() -> impl Strategy<Value = BatchState> {
    prop::sample::select(BatchState::ALL.to_vec())
}

proptest! {
    #[test]
    fn no_state_moves_to_itself_and_nothing_leaves_cleaned(from in state(), to in state()) {
        prop_assert!(!allowed(from, from));
        prop_assert!(!allowed(BatchState::Cleaned, to));
    }

    /// Whatever path a batch takes, it only reaches CLEANED through LOADED, and LOADED only
    /// through LOADING, which needs TRANSFORMED: nothing is cleaned that was not loaded.
    #[test]
    fn every_walk_reaches_cleaned_only_after_transformed_and_loaded(choices in prop::collection::vec(0usize..4, 0..24)) {
        let mut current = BatchState::Planned;
        let mut seen = vec![current];
        for choice in choices {
            let next = current.successors();
            if next.is_empty() { break; }
            current = next[choice % next.len()];
            seen.push(current);
        }
        if let Some(cleaned) = seen.iter().position(|s| *s == BatchState::Cleaned) {
            let loaded = seen.iter().position(|s| *s == BatchState::Loaded);
            let transformed = seen.iter().position(|s| *s == BatchState::Transformed);
            prop_assert!(matches!((transformed, loaded), (Some(t), Some(l)) if t < l && l < cleaned));
        }
    }

    #[test]
    fn batch_id_ignores_order_and_duplicates(keys in prop::collection::vec("[a-z/=0-9-]{1,20}", 1..8), seed in any::<u64>()) {
        let mut shuffled = keys.clone();
        shuffled.rotate_left((seed as usize) % keys.len());
        shuffled.push(keys[0].clone());
        prop_assert_eq!(
            batch_id(keys.iter().map(String::as_str)),
            batch_id(shuffled.iter().map(String::as_str))
        );
    }

    #[test]
    fn batch_ids_differ_when_inputs_differ(keys in prop::collection::btree_set("[a-z0-9]{1,12}", 2..8)) {
        let all: Vec<&str> = keys.iter().map(String::as_str).collect();
        prop_assert_ne!(batch_id(all.iter().copied()), batch_id(all[1..].iter().copied()));
    }

    #[test]
    fn truncation_keeps_a_char_boundary(text in "\\PC{0,40}", max in 0usize..60) {
        let cut = truncate_utf8(&text, max);
        prop_assert!(cut.len() <= max);
        prop_assert!(text.starts_with(cut));
    }
}

#[test]
fn batch_id_names_the_window_and_is_pinned() {
    let id = batch_id([B, A, Q]);
    assert!(id.starts_with("20261201T23-20261202T11-"), "{id}");
    assert_eq!(id.len(), "20261201T23-20261202T11-".len() + 16);
    // Pinned: the id must never change for the same inputs (gold keys depend on it).
    let mut hasher = Sha256::new();
    for key in [Q, A, B] {
        hasher.update(key.as_bytes());
        hasher.update(b"\n");
    }
    assert_eq!(&id[24..], &hex(&hasher.finalize())[..16]);
    assert_eq!(
        batch_id(["local/x.parquet"]).split('-').next(),
        Some("unpartitioned")
    );
}

#[test]
fn plan_sorts_dedupes_and_round_trips() {
    let plan = Plan::new(vec![input(B, 20), input(A, 10), input(B, 20)]);
    assert_eq!(plan.inputs, vec![input(A, 10), input(B, 20)]);
    assert_eq!(plan.batch_id, batch_id([A, B]));
    assert_eq!(plan.input_bytes(), 30);
    assert_eq!(plan.key(), format!("gold/_plans/{}.json", plan.batch_id));
    assert_eq!(Plan::from_json(&plan.to_json()).unwrap(), plan);
    assert_eq!(
        plan.to_json(),
        Plan::new(vec![input(A, 10), input(B, 20)]).to_json()
    );
}

#[test]
fn selection_skips_claimed_and_caps_in_key_order() {
    let chosen = select_inputs(
        vec![input(B, 1), input(Q, 1), input(A, 1)],
        |key| key == Q,
        1,
    );
    assert_eq!(chosen, vec![input(A, 1)]);
    assert!(select_inputs(vec![input(A, 1)], |_| true, 10).is_empty());
}

#[test]
fn events_carry_their_detail_type_and_round_trip() {
    use events::*;
    let too_large = TransformTooLarge {
        batch_id: "b".into(),
        bucket: "lake".into(),
        plan_key: plan_key("b"),
        input_objects: 3,
        input_bytes: 900,
        input_rows: 0,
        max_rows: 10,
        max_bytes: 100,
    };
    let value = serde_json::to_value(&too_large).unwrap();
    assert_eq!(value["plan_key"], "gold/_plans/b.json");
    assert_eq!(
        parse_detail::<TransformTooLarge>("TransformTooLarge", &value)
            .unwrap()
            .unwrap(),
        too_large
    );
    assert!(parse_detail::<BatchLoaded>("TransformTooLarge", &value).is_none());
    assert_eq!(BatchTransformed::DETAIL_TYPE, "BatchTransformed");
    assert_eq!(BatchLoaded::DETAIL_TYPE, "BatchLoaded");
    assert_eq!(BatchLoadFailed::DETAIL_TYPE, "BatchLoadFailed");
    assert_eq!(BatchCleaned::DETAIL_TYPE, "BatchCleaned");
    let failed: BatchLoadFailed = serde_json::from_str(
        r#"{"batch_id":"b","manifest_key":"gold/_manifests/b.json","error":"ERROR: x"}"#,
    )
    .unwrap();
    assert_eq!(failed.statement_id, None);
}
