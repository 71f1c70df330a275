"""Offline replay of routing policies: parsing, folds, the learned router, the metrics."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from locallama_gui.core.evaluation import (
    LearnedRouter,
    ModelOutcome,
    OutcomeFormatError,
    OutcomeRecord,
    PromptFeatures,
    RouterConfig,
    aiq,
    apgr,
    cpt,
    cross_validated_predictions,
    evaluate,
    fill_costs,
    kfold_indices,
    nondecreasing_hull,
    oracle_predictions,
    parse_mt_bench,
    parse_outcomes_csv,
    parse_outcomes_jsonl,
    pgr,
    random_predictions,
    sniff_jsonl,
    sweep,
)
from locallama_gui.core.models import Usage

W, S = "weak-model", "strong-model"
GSM8K = "routing/gsm8k-mixtral-gpt4.csv"
MIXTRAL = "mistralai/Mixtral-8x7B-Instruct-v0.1"
GPT4 = "gpt-4-1106-preview"


def rec(
    w: float, s: float, prompt: str = "p", category: str | None = None, **costs
) -> OutcomeRecord:
    return OutcomeRecord(
        prompt=prompt,
        outcomes={
            W: ModelOutcome(w, cost_usd=costs.get("wc", Decimal("0.001"))),
            S: ModelOutcome(s, cost_usd=costs.get("sc", Decimal("0.01"))),
        },
        category=category,
    )


def priced(records):
    return fill_costs(
        records,
        lambda m, u: (
            Decimal("0.00000024") * (u.prompt_tokens + u.completion_tokens)
            if m == MIXTRAL
            else Decimal("0.00001") * u.prompt_tokens + Decimal("0.00003") * u.completion_tokens,
            "test",
        ),
    )


# --- metrics on hand-computed cases -------------------------------------------------------


def test_pgr_is_zero_at_weak_one_at_strong_and_refuses_no_gap():
    assert pgr(0.6, 0.6, 0.8) == 0.0
    assert pgr(0.8, 0.6, 0.8) == pytest.approx(1.0)
    assert pgr(0.7, 0.6, 0.8) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        pgr(0.5, 0.5, 0.5)


def test_apgr_of_the_straight_line_from_weak_to_strong_is_one_half():
    # what a random router does on average: quality grows linearly with the strong share
    assert apgr([(0.0, 0.6), (1.0, 0.8)], 0.6, 0.8) == pytest.approx(0.5)
    pts = [(x / 10, 0.6 + 0.02 * x) for x in range(11)]
    assert apgr(pts, 0.6, 0.8) == pytest.approx(0.5)
    assert cpt(pts, 0.6, 0.8, 0.5) == pytest.approx(0.5)
    assert cpt(pts, 0.6, 0.8, 0.8) == pytest.approx(0.8)


def test_a_router_identical_to_always_strong_scores_one():
    assert apgr([(1.0, 0.8)], 0.6, 0.8) == pytest.approx(1.0)
    # strong's quality at every share of strong calls
    assert apgr([(0.0, 0.8), (0.5, 0.8), (1.0, 0.8)], 0.6, 0.8) == pytest.approx(1.0)
    assert cpt([(1.0, 0.8)], 0.6, 0.8, 0.8) == 1.0


def test_the_oracle_recovers_more_than_the_gap():
    # (weak, strong) per prompt: the oracle sends the two prompts only the strong model
    # solves first, keeps the prompt only the weak one solves on the weak model longest.
    records = [rec(0, 1), rec(1, 0), rec(1, 1), rec(0, 1)]
    curve = sweep(records, oracle_predictions(records, [W, S], S), [W, S], S)
    got = [(p.strong_share, p.quality) for p in curve]
    assert got == [(0.0, 0.5), (0.5, 1.0), (0.75, 1.0), (1.0, 0.75)]
    # PGR 0, 2, 2, 1 at shares 0, .5, .75, 1: 0.5 + 0.5 + 0.375
    assert apgr(got, 0.5, 0.75) == pytest.approx(1.375)
    assert apgr(got, 0.5, 0.75) > 1
    assert cpt(got, 0.5, 0.75, 0.5) == pytest.approx(0.125)


def test_cpt_interpolates_and_is_none_when_never_reached():
    pts = [(0.0, 0.6), (0.4, 0.7), (1.0, 0.8)]  # PGR 0, 0.5, 1
    assert cpt(pts, 0.6, 0.8, 0.5) == pytest.approx(0.4)
    assert cpt(pts, 0.6, 0.8, 0.8) == pytest.approx(0.4 + 0.6 * 0.6)
    assert cpt([(0.0, 0.6), (1.0, 0.7)], 0.6, 0.8, 0.8) is None


def test_nondecreasing_hull_drops_points_under_the_hull_and_past_the_best():
    pts = [(0.0, 0.5), (0.5, 0.6), (1.0, 0.9), (2.0, 0.8)]
    assert nondecreasing_hull(pts) == [(0.0, 0.5), (1.0, 0.9)]
    assert nondecreasing_hull([(0.0, 0.5), (0.5, 0.85), (1.0, 0.9)]) == [
        (0.0, 0.5),
        (0.5, 0.85),
        (1.0, 0.9),
    ]
    # the same cost twice: the better point stands
    assert nondecreasing_hull([(0.0, 0.5), (0.0, 0.7), (1.0, 0.6)]) == [(0.0, 0.7)]


def test_aiq_areas_by_hand():
    assert aiq([(0.0, 0.5), (0.5, 0.6), (1.0, 0.9)], 0.0, 1.0) == pytest.approx(0.7)
    assert aiq([(0.0, 0.5), (0.5, 0.85), (1.0, 0.9)], 0.0, 1.0) == pytest.approx(0.775)
    # flat past the best point: 0.7 over [0, 1], then 0.9 over [1, 2]
    assert aiq([(0.0, 0.5), (1.0, 0.9), (2.0, 0.8)], 0.0, 2.0) == pytest.approx(0.8)
    # the two single models alone: the straight line between them
    assert aiq([(1.0, 0.6), (3.0, 0.8)], 1.0, 3.0) == pytest.approx(0.7)


# --- folds -------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 300), k=st.integers(2, 25), seed=st.integers(0, 10**6))
def test_kfold_partitions_evenly_and_deterministically(n, k, seed):
    folds = kfold_indices(n, k, seed)
    assert len(folds) == min(n, k)
    flat = [i for f in folds for i in f]
    assert sorted(flat) == list(range(n))
    sizes = [len(f) for f in folds]
    assert max(sizes) - min(sizes) <= 1
    assert kfold_indices(n, k, seed) == folds


def test_kfold_depends_on_the_seed_and_refuses_one_fold():
    assert kfold_indices(100, 5, 0) != kfold_indices(100, 5, 1)
    with pytest.raises(ValueError):
        kfold_indices(10, 1)


# --- the sweep ---------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1)),
        min_size=1,
        max_size=40,
    )
)
def test_sweep_runs_from_all_weak_to_all_strong_monotonically(rows):
    records = [rec(round(w, 3), round(s, 3)) for w, s, _, _ in rows]
    preds = [{W: a, S: b} for _, _, a, b in rows]
    curve = sweep(records, preds, [W, S], S)
    n = len(records)
    assert curve[0].strong_share == 0.0
    assert curve[0].quality == pytest.approx(sum(r.outcomes[W].score for r in records) / n)
    assert curve[0].cost_usd == Decimal("0.001") * n
    assert curve[-1].strong_share == 1.0
    assert curve[-1].quality == pytest.approx(sum(r.outcomes[S].score for r in records) / n)
    assert curve[-1].cost_usd == Decimal("0.01") * n
    shares = [p.strong_share for p in curve]
    thresholds = [p.threshold for p in curve]
    assert shares == sorted(shares)
    assert thresholds == sorted(thresholds)


def test_sweep_decision_rule_weak_when_its_prediction_reaches_the_threshold():
    records = [rec(1, 1, "a"), rec(0, 1, "b"), rec(1, 0, "c")]
    preds = [{W: 0.8, S: 0.8}, {W: 0.2, S: 0.8}, {W: 0.6, S: 0.8}]  # ratios 1, 0.25, 0.75
    curve = sweep(records, preds, [W, S], S)
    # threshold <= 0.25: all weak; (0.25, 0.75]: b strong; (0.75, 1]: b, c; above: all
    got = [(round(p.threshold, 6), round(p.strong_share, 3)) for p in curve[:3]]
    assert got == [(0.0, 0.0), (0.75, 0.333), (1.0, 0.667)]
    assert curve[-1].threshold > 1.0
    assert curve[-1].strong_share == 1.0


def test_sweep_over_three_models_takes_the_cheapest_good_enough_one():
    mid = "mid-model"

    def three(w, m, s):
        return OutcomeRecord(
            "p",
            {
                W: ModelOutcome(w, cost_usd=Decimal("1")),
                mid: ModelOutcome(m, cost_usd=Decimal("2")),
                S: ModelOutcome(s, cost_usd=Decimal("4")),
            },
        )

    records = [three(0, 1, 1), three(0, 0, 1)]
    preds = [{W: 0.1, mid: 0.9, S: 1.0}, {W: 0.1, mid: 0.2, S: 1.0}]
    curve = sweep(records, preds, [W, mid, S], S)
    at_half = next(p for p in curve if p.threshold >= 0.5)
    assert dict(at_half.shares) == {mid: 0.5, S: 0.5}
    assert at_half.cost_usd == Decimal("6")
    assert at_half.quality == 1.0


# --- parsing -----------------------------------------------------------------------------


def test_gsm8k_csv_reads_correctness_columns_and_skips_responses(data_dir: Path):
    parsed = parse_outcomes_csv((data_dir / GSM8K).read_text(), source="gsm8k", category="math")
    assert len(parsed.records) == 1319
    assert parsed.notes == ()
    assert set(parsed.records[0].outcomes) == {MIXTRAL, GPT4}
    assert parsed.records[0].category == "math"
    weak = sum(r.outcomes[MIXTRAL].score for r in parsed.records) / 1319
    strong = sum(r.outcomes[GPT4].score for r in parsed.records) / 1319
    assert round(weak, 3) == 0.638
    assert round(strong, 3) == 0.857


def test_csv_category_column_costs_and_bad_columns():
    text = (
        "prompt,category,a,b,b_cost_usd,notes\nhello,chat,1,0.5,0.002,fine\nsum,,False,True,,ok\n"
    )
    parsed = parse_outcomes_csv(text, source="t.csv", category="math")
    r0, r1 = parsed.records
    assert r0.category == "chat" and r1.category == "math"
    assert r0.outcomes["a"].score == 1.0 and r0.outcomes["b"].score == 0.5
    assert r0.outcomes["b"].cost_usd == Decimal("0.002")
    assert r1.outcomes["b"].cost_usd is None
    assert set(r0.outcomes) == {"a", "b"}
    assert any("'notes'" in n for n in parsed.notes)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("question,a\nx,1\n", "prompt"),
        ("prompt,a\nx,yes please\n", "no model column"),
        ("", "header"),
    ],
)
def test_csv_errors_are_one_line(text, message):
    with pytest.raises(OutcomeFormatError, match=message) as e:
        parse_outcomes_csv(text, source="f.csv")
    assert "\n" not in str(e.value)


def test_jsonl_outcomes_with_costs_tokens_and_shorthand_scores():
    text = (
        '{"prompt": "2+2?", "category": "math", "models": {"a": {"score": 1, '
        '"cost_usd": "0.0001", "prompt_tokens": 5, "completion_tokens": 7}, "b": 0.25}}\n'
        "\n"
        '{"prompt": "hi", "models": {"a": true, "b": false}}\n'
    )
    parsed = parse_outcomes_jsonl(text, source="o.jsonl", category="chat")
    r0, r1 = parsed.records
    assert r0.category == "math" and r1.category == "chat"
    assert r0.outcomes["a"] == ModelOutcome(1.0, Decimal("0.0001"), 5, 7)
    assert r0.outcomes["b"].score == 0.25
    assert (r1.outcomes["a"].score, r1.outcomes["b"].score) == (1.0, 0.0)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 2: not valid JSON"),
        ('{"prompt": "x", "models": {"a": 1.5}}', "outside"),
        ('{"prompt": "x", "models": {"a": "maybe"}}', "not a score"),
        ('{"models": {"a": 1}}', "prompt"),
        ('{"prompt": "x", "models": {}}', "models"),
        ('{"prompt": "x", "models": {"a": {"score": 1, "cost_usd": "-2"}}}', "non-negative"),
    ],
)
def test_jsonl_errors_name_the_line(line, message):
    text = '{"prompt": "ok", "models": {"a": 1}}\n' + line + "\n"
    with pytest.raises(OutcomeFormatError, match=message):
        parse_outcomes_jsonl(text, source="o.jsonl")


def test_mt_bench_join_averages_turns_and_maps_scores(data_dir: Path):
    d = data_dir / "routing"
    judgements = (d / "mt-bench-judgements.jsonl").read_text()
    questions = (d / "mt-bench-questions.jsonl").read_text()
    assert sniff_jsonl(judgements) == "mt-bench-judgements"
    assert sniff_jsonl(questions) == "mt-bench-questions"
    parsed = parse_mt_bench(judgements, questions)
    assert len(parsed.records) == 80
    assert len({r.category for r in parsed.records}) == 8
    assert all(set(r.outcomes) == {MIXTRAL, GPT4} for r in parsed.records)
    # the prompt is the question's turns, never the judged conversation
    assert all("### Assistant" not in r.prompt for r in parsed.records)


def test_mt_bench_by_hand():
    questions = '{"question_id": 7, "category": "math", "turns": ["one?", "two?"]}\n'
    judgements = (
        '{"question_id": 7, "model": "a", "turn": 1, "score": 10}\n'
        '{"question_id": 7, "model": "a", "turn": 2, "score": 8}\n'
        '{"question_id": 7, "model": "b", "turn": 1, "score": 1}\n'
        '{"question_id": 7, "model": "b", "turn": 2, "score": -1}\n'
        '{"question_id": 99, "model": "b", "turn": 1, "score": 5}\n'
    )
    parsed = parse_mt_bench(judgements, questions)
    (r,) = parsed.records
    assert r.outcomes["a"].score == pytest.approx((9 + 7) / 2 / 9)
    assert r.outcomes["b"].score == 0.0
    assert r.category == "math" and r.prompt == "one?\n\ntwo?"
    assert len(parsed.notes) == 2  # one judgement outside 1..10, one unknown question


def test_fill_costs_keeps_recorded_costs_and_prices_the_rest():
    records = [
        OutcomeRecord(
            "a prompt of some words",
            {"a": ModelOutcome(1.0, cost_usd=Decimal("0.5")), "b": ModelOutcome(0.0)},
        ),
        OutcomeRecord("x", {"a": ModelOutcome(1.0), "b": ModelOutcome(1.0, prompt_tokens=10)}),
    ]
    seen: list[tuple[str, Usage]] = []

    def cost_of(model_id: str, usage: Usage):
        seen.append((model_id, usage))
        return Decimal(usage.prompt_tokens + usage.completion_tokens), "flat"

    out = fill_costs(records, cost_of, output_tokens=100)
    assert out[0].outcomes["a"].cost_usd == Decimal("0.5")
    assert out[0].outcomes["a"].cost_source == "recorded"
    b0 = out[0].outcomes["b"]
    assert b0.completion_tokens == 100 and b0.prompt_tokens and b0.prompt_tokens > 0
    assert b0.cost_usd == Decimal(b0.prompt_tokens + 100) and b0.cost_source == "flat"
    assert out[1].outcomes["b"].cost_usd == Decimal(110)
    assert len(seen) == 3


# --- the router --------------------------------------------------------------------------


def test_observed_quality_shrinks_toward_the_prior_with_few_samples():
    records = [rec(1, 1, f"p{i}", "chat") for i in range(40)] + [rec(0, 1, "x", "rare")]
    feats = [PromptFeatures.of(r) for r in records]
    router = LearnedRouter.fit(records, feats, [W, S], config=RouterConfig(use_features=False))
    overall = router.overall[W]
    assert overall == pytest.approx((4 * 0.5 + 41 * (40 / 41)) / 45)
    # one failure in "rare" moves the weak model's quality there a fifth of the way
    assert router.by_category[(W, "rare")] == pytest.approx((4 * overall + 0.0) / 5)
    q = router.predict(PromptFeatures("rare", 0.0, 0.0))
    assert 0.7 < q[W] < overall


def test_predictions_never_see_their_own_outcome():
    rng = random.Random(3)
    records = [
        rec(rng.random(), rng.random(), "word " * rng.randint(1, 60), rng.choice("ab"))
        for _ in range(60)
    ]
    before = cross_validated_predictions(records, [W, S], folds=5, seed=1)
    flipped = list(records)
    flipped[17] = rec(1.0 - records[17].outcomes[W].score, 0.0, records[17].prompt, "b")
    after = cross_validated_predictions(flipped, [W, S], folds=5, seed=1)
    assert after[17] == before[17]
    assert after != before  # the outcome does teach the router about the other folds


def test_router_exploits_categories_that_carry_signal():
    rng = random.Random(0)
    records = []
    for i in range(400):
        cat = rng.choice(["math", "chat"])
        w = 0.0 if cat == "math" and rng.random() < 0.8 else 1.0
        records.append(rec(w, 1.0, f"prompt {i}", cat))
    result = evaluate(records, folds=5, seed=0)
    # the best a category-level router can do: math first (PGR 0 -> 1 over half the
    # prompts), then flat at 1: 0.75
    assert result.router.apgr > 0.7
    assert 0.4 < result.random.apgr < 0.6
    assert result.oracle.apgr > result.router.apgr


def test_router_learns_from_the_prompt_complexity_without_categories():
    rng = random.Random(1)
    records = []
    for i in range(500):
        hard = rng.random() < 0.5
        text = (
            "Prove step by step, with the algorithm and its edge cases, why " * 3
            if hard
            else "Say hi"
        ) + f" #{i}"
        w = 0.0 if hard and rng.random() < 0.9 else 1.0
        records.append(rec(w, 1.0, text))
    # at best 0.75 (the hard half first); blind to the text, all prompts look alike
    assert evaluate(records, folds=5).router.apgr > 0.68
    blind = evaluate(records, folds=5, config=RouterConfig(use_features=False))
    assert blind.router.apgr < 0.6


def test_random_router_is_near_one_half_and_oracle_above_one_on_many_prompts():
    rng = random.Random(5)
    records = [rec(float(rng.random() < 0.6), float(rng.random() < 0.85)) for _ in range(2000)]
    preds = random_predictions(len(records), [W, S], seed=11)
    curve = sweep(records, preds, [W, S], S)
    pts = [(p.strong_share, p.quality) for p in curve]
    weak = sum(r.outcomes[W].score for r in records) / 2000
    strong = sum(r.outcomes[S].score for r in records) / 2000
    assert apgr(pts, weak, strong) == pytest.approx(0.5, abs=0.06)
    oracle = sweep(records, oracle_predictions(records, [W, S], S), [W, S], S)
    assert apgr([(p.strong_share, p.quality) for p in oracle], weak, strong) > 1.0


def test_evaluate_defaults_roles_and_checks_them():
    records = [rec(0, 1, "a"), rec(1, 1, "b"), rec(0, 0, "c")]
    result = evaluate(records, folds=3)
    assert (result.weak, result.strong) == (W, S)
    with pytest.raises(ValueError, match="not scored"):
        evaluate(records, folds=3, weak="nope")
    with pytest.raises(ValueError, match="gap"):
        evaluate([rec(1, 1, "a"), rec(0, 0, "b")], folds=2)


def test_gsm8k_router_beats_random_clearly_and_is_deterministic(data_dir: Path):
    parsed = parse_outcomes_csv((data_dir / GSM8K).read_text(), category="math")
    records = priced(parsed.records)
    result = evaluate(records, folds=5, seed=0)
    assert (result.weak, result.strong) == (MIXTRAL, GPT4)
    assert result.router.apgr > 0.55
    assert result.router.apgr > result.random.apgr + 0.05
    assert 0.45 < result.random.apgr < 0.55
    assert result.oracle.apgr > 1.0
    assert result.router.cpt50 is not None and result.router.cpt50 < 0.45
    assert result.random.aiq < result.router.aiq < result.oracle.aiq
    again = evaluate(records, folds=5, seed=0)
    assert again.router == result.router


def test_mt_bench_router_uses_the_categories(data_dir: Path):
    d = data_dir / "routing"
    parsed = parse_mt_bench(
        (d / "mt-bench-judgements.jsonl").read_text(),
        (d / "mt-bench-questions.jsonl").read_text(),
    )
    result = evaluate(priced(parsed.records), folds=5, seed=0)
    assert result.router.apgr > 0.6
    assert result.router.apgr > result.random.apgr + 0.1
