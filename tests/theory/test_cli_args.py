"""Bad input on every command and flag: one line naming the argument, exit code 2, no traceback.

All cases run ``main([...])`` in-process and fail in argument parsing or in the checks right after it,
before any computation (the memory guards refuse sizes that would need terabytes).
"""

from __future__ import annotations

import argparse

import pytest

from theory.cli import build_parser, main
from theory.cli.args import comma_ints, dataset_bytes, finite_float, memory_budget, output_dir, search_bytes

FILE = "@FILE"  # replaced by an existing regular file
UNDER_FILE = "@FILE/sub"  # a path whose parent is a file

CASES = [
    # kgon
    (["kgon", "--k", "5", "--c", "1"], "--c"),
    (["kgon", "--k", "x", "--c", "6"], "--k"),
    (["kgon", "--k", "7", "--c", "6"], "--k"),
    (["kgon", "--k", "5", "--c", "6", "--r", "0"], "--r"),
    (["kgon", "--k", "5", "--c", "6", "--sigma-plus", "-1"], "--sigma-plus"),
    (["kgon", "--k", "5", "--c", "6", "--sigma-plus", "2"], "--sigma-plus"),
    (["kgon", "--k", "5", "--c", "6", "--sigma-minus", "6"], "--sigma-minus"),
    (["kgon", "--k", "5", "--c", "10000000"], "--c"),
    (["kgon", "--k", "5", "--c", "6", "--plot", UNDER_FILE], "--plot"),
    # critical-points
    (["critical-points", "--c", "1"], "--c"),
    (["critical-points", "--c", "6", "--r", "0"], "--r"),
    (["critical-points", "--c", "6", "--seed", "-3"], "--seed"),
    (["critical-points", "--c", "6", "--n-starts", "0"], "--n-starts"),
    (["critical-points", "--c", "6", "--n-starts", "1000000000000"], "--n-starts"),
    (["critical-points", "--c", "6", "--max-loss", "nan"], "--max-loss"),
    (["critical-points", "--c", "6", "--max-loss", "inf"], "--max-loss"),
    (["critical-points", "--c", "6", "--csv", UNDER_FILE], "--csv"),
    (["critical-points", "--c", "6", "--plot", UNDER_FILE], "--plot"),
    (["critical-points", "--c", "1000000"], "--c"),
    (["critical-points", "--c", "6", "--importance", "1,1,1,1,1"], "--importance"),
    (["critical-points", "--c", "6", "--importance", "1,1,1,1,1,0"], "--importance"),
    (["critical-points", "--c", "6", "--importance", "1,1,1,1,1,nan"], "--importance"),
    # transitions
    (["transitions", "--c", "1"], "--c"),
    (["transitions", "--c", "1000000"], "--c"),
    (["transitions", "--c", "6", "--r", "-1"], "--r"),
    (["transitions", "--c", "6", "--importance", "1,1,1,1,1,1,1"], "--importance"),
    (["transitions", "--c", "6", "--importance", "1,-1,1,1,1,1"], "--importance"),
    (["transitions", "--c", "6", "--importance", "1,1,1,1,1,0.5", "--order", "refined"], "--importance"),
    (["transitions", "--c", "6", "--plot", UNDER_FILE], "--plot"),
    # reproduce
    (["reproduce", "--out", FILE], "--out"),
    (["reproduce", "--out", UNDER_FILE], "--out"),
    (["reproduce", "--out", "@DIR", "--seed", "-1"], "--seed"),
    # run
    (["run", "@DIR/missing.toml", "--out", "@DIR/o"], "FILE"),
    (["run", "@DIR", "--out", "@DIR/o"], "FILE"),
    (["run", FILE, "--out", UNDER_FILE], "--out"),
    (["run", FILE, "--out", "@DIR/o", "--workers", "0"], "--workers"),
    (["run", FILE, "--out", "@DIR/o", "--executor", "slurm"], "--executor"),
    # sgd
    (["sgd", "--c", "6", "--runs", "0"], "--runs"),
    (["sgd", "--c", "1", "--runs", "1"], "--c"),
    (["sgd", "--c", "6", "--runs", "1", "--lr", "nan"], "--lr"),
    (["sgd", "--c", "6", "--runs", "1", "--lr", "inf"], "--lr"),
    (["sgd", "--c", "6", "--runs", "1", "--lr", "-0.1"], "--lr"),
    (["sgd", "--c", "6", "--runs", "1", "--lr", "0"], "--lr"),
    (["sgd", "--c", "6", "--runs", "1", "--epochs", "0"], "--epochs"),
    (["sgd", "--c", "6", "--runs", "1", "--seed", "-1"], "--seed"),
    (["sgd", "--c", "6", "--runs", "1", "--n", "0"], "--n"),
    (["sgd", "--c", "6", "--runs", "1", "--n", "100000000000"], "--n"),
    (["sgd", "--c", "6", "--runs", "1", "--batch-size", "0"], "--batch-size"),
    (["sgd", "--c", "6", "--runs", "1", "--batch-size", "2000"], "--batch-size"),
    (["sgd", "--c", "6", "--runs", "1", "--init-k", "7"], "--init-k"),
    (["sgd", "--c", "6", "--runs", "1", "--checkpoints", "1"], "--checkpoints"),
    (["sgd", "--c", "6", "--runs", "1", "--llc-per-plateau", "-1"], "--llc-per-plateau"),
    (["sgd", "--c", "6", "--runs", "1", "--out", UNDER_FILE], "--out"),
    (["sgd", "--c", "6", "--runs", "1", "--plot", "@DIR"], "--plot"),
    (["sgd", "--c", "6", "--runs", "1", "--sparsity", "1"], "--sparsity"),
    (["sgd", "--c", "6", "--runs", "1", "--sparsity", "nan"], "--sparsity"),
    (["sgd", "--c", "6", "--runs", "1", "--importance", "1,1,1,1,1"], "--importance"),
    (["sgd", "--c", "6", "--runs", "1", "--importance", "1,1,1,1,1,0"], "--importance"),
    (["sgd", "--c", "6", "--runs", "1", "--input-scale", "1,1,1,1,1,1,1"], "--input-scale"),
    (["sgd", "--c", "6", "--runs", "1", "--input-scale", "1,,1"], "--input-scale"),
    # llc
    (["llc", "--point", "5", "--c", "6", "--n", "1"], "--n"),
    (["llc", "--point", "5", "--c", "1", "--n", "100"], "--c"),
    (["llc", "--point", "5", "--c", "6", "--n", "1000000000000"], "--n"),
    (["llc", "--point", "5", "--c", "6", "--n", "100", "--eps", "nan"], "--eps"),
    (["llc", "--point", "5", "--c", "6", "--n", "100", "--eps", "0"], "--eps"),
    (["llc", "--point", "5", "--c", "6", "--n", "100", "--gamma", "-1"], "--gamma"),
    (["llc", "--point", "5", "--c", "6", "--n", "100", "--gamma", "inf"], "--gamma"),
    (["llc", "--point", "5", "--c", "6", "--n", "100", "--chains", "0"], "--chains"),
    (["llc", "--point", "5", "--c", "6", "--n", "100", "--burnin", "-1"], "--burnin"),
    (["llc", "--point", "5", "--c", "6", "--n", "100", "--draws", "0"], "--draws"),
    (["llc", "--point", "5", "--c", "6", "--n", "100", "--batch-size", "0"], "--batch-size"),
    (["llc", "--point", "5", "--c", "6", "--n", "100", "--batch-size", "101"], "--batch-size"),
    (["llc", "--point", "5", "--c", "6", "--n", "100", "--seed", "-1"], "--seed"),
    (["llc", "--point", "5", "--c", "6", "--n", "100", "--plot", UNDER_FILE], "--plot"),
    (["llc", "--point", "5", "--c", "6", "--n", "100", "--sparsity", "-0.1"], "--sparsity"),
    (["llc", "--point", "5", "--c", "6", "--n", "100", "--importance", "1,1,x,1,1,1"], "--importance"),
    (["llc", "--point", "5", "--c", "6", "--n", "100", "--input-scale", "inf,1,1,1,1,1"], "--input-scale"),
    # failure
    (["failure", "--c", "6", "--runs", "0"], "--runs"),
    (["failure", "--c", "6", "--runs", "2", "--optimizer", "rmsprop"], "--optimizer"),
    (["failure", "--c", "6", "--runs", "2", "--plot", UNDER_FILE], "--plot"),
    (["thermo", "--posterior", "@DIR/missing"], "--posterior"),
    (["thermo", "--posterior", "@DIR", "--plot", UNDER_FILE], "--plot"),
    # development (the command's own module; its flags use the same validators)
    (["development", "--c", "6", "--runs", "1"], "--runs"),
    (["development", "--c", "6", "--runs", "3", "--lr", "nan"], "--lr"),
    (["development", "--c", "6", "--runs", "3", "--out", UNDER_FILE], "--out"),
    # compare (the command's own module; its flags use the same validators)
    (["compare", "--posterior", "@DIR", "--beta", "nan"], "--beta"),
    (["compare", "--posterior", "@DIR", "--level", "1"], "--level"),
    (["compare", "--posterior", "@DIR", "--plot", UNDER_FILE], "--plot"),
    # posterior
    (["posterior", "--c", "6", "--n", "100", "--out", UNDER_FILE], "--out"),
    (["posterior", "--c", "6", "--n", "100", "--out", FILE], "--out"),
    (["posterior", "--c", "6", "--n", "1000000000000", "--out", "@DIR/p"], "--n"),
    (["posterior", "--c", "6", "--n", "100,", "--out", "@DIR/p"], "--n"),
    (["posterior", "--c", "6", "--n", "", "--out", "@DIR/p"], "--n"),
    (["posterior", "--c", "1", "--n", "100", "--out", "@DIR/p"], "--c"),
    (["posterior", "--c", "6", "--n", "100", "--out", "@DIR/p", "--chains", "0"], "--chains"),
    (["posterior", "--c", "6", "--n", "100", "--out", "@DIR/p", "--warmup", "-1"], "--warmup"),
    (["posterior", "--c", "6", "--n", "100", "--out", "@DIR/p", "--samples", "0"], "--samples"),
    (["posterior", "--c", "6", "--n", "100", "--out", "@DIR/p", "--seed", "-2"], "--seed"),
    (["posterior", "--c", "6", "--n", "100", "--out", "@DIR/p", "--data-seed", "x"], "--data-seed"),
    (["posterior", "--c", "6", "--n", "100", "--out", "@DIR/p", "--method", "gibbs"], "--method"),
    (["posterior", "--c", "6", "--n", "100", "--out", "@DIR/p", "--init", "zero"], "--init"),
    (["posterior", "--c", "6", "--n", "100", "--out", "@DIR/p", "--threshold", "nan"], "--threshold"),
    (["posterior", "--c", "6", "--n", "100", "--out", "@DIR/p", "--threshold", "0"], "--threshold"),
    (["posterior", "--c", "6", "--n", "100", "--out", "@DIR/p", "--n-temps", "0"], "--n-temps"),
    (["posterior", "--c", "6", "--n", "100", "--out", "@DIR/p", "--plot", UNDER_FILE], "--plot"),
    (["posterior", "--c", "6", "--n", "100", "--out", "@DIR/p", "--r", "0"], "--r"),
    (["posterior", "--c", "6", "--n", "100", "--out", "@DIR/p", "--sparsity", "2"], "--sparsity"),
    (["posterior", "--c", "6", "--n", "100", "--out", "@DIR/p", "--importance", "1,1"], "--importance"),
    (["posterior", "--c", "6", "--n", "100", "--out", "@DIR/p", "--input-scale", "1,1,1,1,1,-2"], "--input-scale"),
    (["posterior", "--c", "6", "--n", "100", "--out", "@DIR/p", "--sparsity", "0.5", "--plot", "@DIR/o.png"], "--plot"),
]


def _argv(argv, tmp_path):
    f = tmp_path / "a-file.txt"
    f.write_text("keep me")
    return [a.replace("@FILE", str(f)).replace("@DIR", str(tmp_path)) for a in argv], f


@pytest.mark.parametrize("argv, flag", CASES, ids=[" ".join(a[:1] + [f]) + f"-{i}" for i, (a, f) in enumerate(CASES)])
def test_bad_argument_is_one_line_naming_it(argv, flag, tmp_path, capsys):
    args, f = _argv(argv, tmp_path)
    assert main(args) == 2
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1, cap.err
    assert lines[0].startswith(f"tmsphase {argv[0]}: error: argument {flag}"), lines[0]
    assert "Traceback" not in cap.err and cap.out == ""
    assert f.read_text() == "keep me"  # nothing written over the file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file.txt"]  # nothing created


def test_every_command_is_covered():
    """Each command of the parser has at least one bad-input case above."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    covered = {argv[0] for argv, _ in CASES}
    assert covered == set(sub.choices)


def test_messages_say_what_is_allowed(tmp_path, capsys):
    assert main(["sgd", "--c", "6", "--runs", "1", "--lr", "nan"]) == 2
    assert capsys.readouterr().err == "tmsphase sgd: error: argument --lr: must be a finite number > 0; got 'nan'.\n"
    assert main(["transitions", "--c", "1000000"]) == 2
    err = capsys.readouterr().err
    assert "PiB of memory" in err and "budget" in err
    assert main(["posterior", "--c", "6", "--n", "100,1000000000000", "--out", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert "n = 1000000000000 samples" in err and "TiB" in err


def test_memory_estimates_scale_as_documented():
    assert dataset_bytes(2 * 10**6) - dataset_bytes(10**6) == 240 * 10**6
    assert search_bytes(12) > 3.9 * search_bytes(6)  # quadratic in c
    assert search_bytes(6) < 10 * 2**20 < memory_budget()  # the published c = 6 search fits anywhere
    assert dataset_bytes(10**9) > 200 * 2**30  # the case of the issue: ~ 224 GiB


def test_validators_accept_good_values(tmp_path):
    assert comma_ints()("100, 300,1000") == [100, 300, 1000]
    assert finite_float(0, min_inclusive=False)("1e-3") == 1e-3
    assert output_dir(str(tmp_path / "new" / "deeper")) == tmp_path / "new" / "deeper"
    with pytest.raises(argparse.ArgumentTypeError, match="is a file, not a directory"):
        f = tmp_path / "f"
        f.write_text("")
        output_dir(str(f / "x"))


def test_help_exits_0(capsys):
    assert main(["--help"]) == 0
    assert "COMMAND" in capsys.readouterr().out
