"""One meaning of five_to_six ("5" or "5+" -> "6"), used by the sgd CLI and the sgd sweep kind (c = 6)."""

from theory.sgd_analysis import PlateauTransition, five_to_six
from theory.sweeps.kinds.sgd import merge_sgd

# c = 6 transition counts: 5 -> 6 and 5+ -> 6 both count; other moves into 6 and 6 -> 5 do not
C6 = [{"from": "5+", "to": "6", "count": 2}, {"from": "5", "to": "6", "count": 1},
      {"from": "4", "to": "6", "count": 5}, {"from": "6", "to": "5", "count": 1},
      {"from": "4+", "to": "5+", "count": 3}]


def test_five_to_six_counts_the_five_gon_family():
    assert five_to_six(C6) == 3
    objs = [PlateauTransition(run=i, from_label=f, to_label=t, step=10, loss_before=0.07, loss_after=0.05)
            for i, (f, t) in enumerate([("5+", "6"), ("5", "6"), ("4", "6"), ("6", "5")])]
    assert five_to_six(objs) == 2
    assert five_to_six([{"from": "4+", "to": "4", "count": 2}]) == 0  # c = 4: no 6-gon


def _part(offset, transitions):
    return {
        "fraction_on_plateaus": 1.0, "fraction_matched": 1.0, "transitions": transitions, "final_phases": {"6": 1},
        "runs": 1, "diverged_runs": 0, "run_offset": offset,
        "antecedent": {"n_transitions": 0, "theory": None, "estimated": None, "loss_decreasing": 0},
        "phase_sequences": [["6"]], "plateaus": [], "config": {"seeds": [offset]},
    }


def test_sweep_merge_reports_the_same_five_to_six():
    merged = merge_sgd([_part(0, C6[:2]), _part(1, C6[2:])])
    assert merged["five_to_six"] == five_to_six(merged["transitions"]) == 3


def test_antecedent_check_is_a_dataclass_that_merges():
    from theory.sgd_analysis import AntecedentCheck, SignCounts

    a = AntecedentCheck(2, SignCounts(loss_down_llc_up=2), None, 2)
    b = AntecedentCheck(3, SignCounts(loss_down_llc_up=1, loss_down_llc_down=1, undetermined=1),
                        SignCounts(loss_down_llc_up=1), 3)
    m = AntecedentCheck.total([a, b])
    assert (m.n_transitions, m.loss_decreasing, m.theory.loss_down_llc_up, m.estimated.loss_down_llc_up) == (5, 5, 3, 1)
    assert m.theory.consistent_fraction == 3 / 4
    assert AntecedentCheck.from_dict(m.to_dict()) == m
    assert m.to_dict()["theory"]["consistent_fraction"] == 0.75
