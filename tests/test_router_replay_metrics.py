"""RouteLLM's metrics on a tiny replay set, against values computed by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kaizen.models.replay import apgr, cpt, curve, load_replay, pgr, replay, threshold_points

# Four prompts (weak, strong): (0, 1), (1, 1), (0, 1), (1, 0)
#   q_weak = 2/4 = 0.5, q_strong = 3/4 = 0.75, gap 0.25
CSV_A = "prompt,mistralai/Weak-Model,Strong-Model\n" + "p1,False,True\np2,True,True\n"
CSV_B = "Prompt,weak,STRONG\n" + '"p3, with a comma",0,1\np4,yes,0.0\n'
Q_WEAK, Q_STRONG = 0.5, 0.75
# A router measured at two cost settings: (strong share, quality)
#   (0.25, 0.5625): PGR = (0.5625 - 0.5) / 0.25 = 0.25
#   (0.50, 0.6875): PGR = (0.6875 - 0.5) / 0.25 = 0.75
# The curve with the trivial ends: (0, 0), (0.25, 0.25), (0.5, 0.75), (1, 1)
POINTS = [(0.5, 0.6875), (0.25, 0.5625)]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "mmlu_a.csv").write_text(CSV_A)
    (tmp_path / "mmlu_b.csv").write_text(CSV_B)
    return tmp_path


def test_loads_a_folder_with_loosely_named_columns(folder: Path):
    data = load_replay(folder)
    assert data.prompts == ["p1", "p2", "p3, with a comma", "p4"]
    assert data.outcomes.tolist() == [[0, 1], [1, 1], [0, 1], [1, 0]]
    assert data.domains == ["mmlu_a", "mmlu_a", "mmlu_b", "mmlu_b"]
    assert data.weak.mean() == Q_WEAK and data.strong.mean() == Q_STRONG
    assert load_replay(folder / "mmlu_a.csv").prompts == ["p1", "p2"]


def test_graded_outcomes_and_bad_values(tmp_path: Path):
    (tmp_path / "g.csv").write_text("q,w,s\nx,0.25,0.9\n")
    assert load_replay(tmp_path / "g.csv").outcomes.tolist() == [[0.25, 0.9]]
    (tmp_path / "bad.csv").write_text("q,w,s\nx,1.5,0\n")
    with pytest.raises(ValueError):
        load_replay(tmp_path / "bad.csv")


def test_pgr_cpt_apgr_by_hand():
    assert pgr(0.6875, Q_WEAK, Q_STRONG) == 0.75
    assert curve(POINTS, Q_WEAK, Q_STRONG) == [(0.0, 0.0), (0.25, 0.25), (0.5, 0.75), (1.0, 1.0)]
    # trapezoids: 0.25 * (0 + 0.25) / 2 + 0.25 * (0.25 + 0.75) / 2 + 0.5 * (0.75 + 1) / 2
    #           = 0.03125 + 0.125 + 0.4375 = 0.59375
    assert apgr(POINTS, Q_WEAK, Q_STRONG) == pytest.approx(0.59375)
    # PGR 0.5 is crossed between (0.25, 0.25) and (0.5, 0.75): 0.25 + 0.25 * 0.25 / 0.5
    assert cpt(POINTS, 0.5, Q_WEAK, Q_STRONG) == pytest.approx(0.375)
    # PGR 0.8 between (0.5, 0.75) and (1, 1): 0.5 + 0.5 * 0.05 / 0.25
    assert cpt(POINTS, 0.8, Q_WEAK, Q_STRONG) == pytest.approx(0.6)
    # random routing is the diagonal: APGR 0.5, CPT(x) = x
    diagonal = [(s, Q_WEAK + s * (Q_STRONG - Q_WEAK)) for s in (0.3, 0.6)]
    assert apgr(diagonal, Q_WEAK, Q_STRONG) == pytest.approx(0.5)
    assert cpt(diagonal, 0.8, Q_WEAK, Q_STRONG) == pytest.approx(0.8)


def test_threshold_points_of_a_perfect_score(folder: Path):
    # score = strong - weak: 1, 0, 1, -1. Deciles (numpy linear quantiles) 1.0 .. -1.0;
    # at threshold 1 both gainful prompts go strong: quality (1+1+1+1)/4 = 1.0, share 0.5
    data = load_replay(folder)
    points = threshold_points(data.strong - data.weak, data)
    assert (0.5, 1.0) in points and (1.0, 0.75) in points and (0.0, 0.5) in points


def test_replay_reveals_only_the_chosen_outcome(folder: Path):
    data = load_replay(folder)
    embeddings = np.eye(4)
    result = replay(data, embeddings, np.arange(4), 0.0, {data.models[0]: 0.05, data.models[1]: 1})
    share, quality = result.online
    assert 0.0 <= share <= 1.0 and quality in (0.0, 0.25, 0.5, 0.75, 1.0)
