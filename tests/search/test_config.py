"""Config: TOML and flags, validation, and errors that name the bad key."""

from __future__ import annotations

import pytest

from optsearch.cli import build_parser, main
from optsearch.cli.search import build_config
from optsearch.errors import ConfigError
from optsearch.search.config import RunConfig, load_toml


def test_defaults_are_valid_and_round_trip_through_json():
    cfg = RunConfig()
    assert RunConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("data, key, hint", [
    ({"search": {"populaton": 4}}, "populaton", "population"),
    ({"seeed": 1}, "seeed", "seed"),
    ({"mutation": {"weights": {"insrt": 1.0}}}, "insrt", "insert"),
    ({"mutation": {"primitives": {"sgn": 2.0}}}, "sgn", "sign"),
    ({"serch": {"population": 4}}, "serch", "[search]"),
])
def test_typo_names_the_key_and_the_valid_ones(data, key, hint):
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict(data, where="run.toml")
    msg = str(err.value)
    assert msg.startswith("run.toml") and repr(key) in msg and hint in msg
    assert "valid keys" in msg or "valid" in msg


@pytest.mark.parametrize("data, words", [
    ({"search": {"population": "big"}}, "population"),
    ({"search": {"tournament": 9, "population": 4}}, "tournament"),
    ({"search": {"algorithm": "annealing"}}, "algorithm"),
    ({"mutation": {"weights": {"insert": -1}}}, "weights.insert"),
    ({"search": {"generations": 0, "time_budget": 0, "max_evaluations": 0}}, "generations"),
])
def test_bad_values_are_rejected_with_the_key(data, words):
    with pytest.raises(ConfigError, match=words.replace(".", r"\.")):
        RunConfig.from_dict(data)


def test_toml_then_flags(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text('seed = 3\n[search]\npopulation = 32\ngenerations = 7\n'
                    '[mutation]\nweights = {constant = 1.0}\n[eval]\ntasks = ["digits_mlp"]\n')
    args = build_parser().parse_args(["search", "--config", str(toml), "--generations", "9",
                                      "--lr-multipliers", "0.5,1,2",
                                      "--primitive-weights", "sign=3,exp=0", "--no-cache"])
    cfg = build_config(args)
    assert (cfg.seed, cfg.search.population, cfg.search.generations) == (3, 32, 9)
    assert cfg.mutation.weights == {"constant": 1.0}
    assert cfg.eval.tasks == ["digits_mlp"] and cfg.eval.lr_multipliers == [0.5, 1, 2]
    assert cfg.mutation.primitives == {"sign": 3, "exp": 0} and cfg.eval.cache is False


def test_bad_toml_file_is_a_config_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[search\npopulation = 3\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_toml(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_toml(tmp_path / "missing.toml")


def test_cli_reports_a_config_typo_without_a_traceback(tmp_path, capsys):
    toml = tmp_path / "run.toml"
    toml.write_text("[search]\ntournment = 3\n")
    code = main(["search", "--config", str(toml), "--runs-dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown key 'tournment'" in err and "did you mean 'tournament'" in err
    assert "Traceback" not in err
    assert not (tmp_path / "runs").exists()  # nothing was created for a bad config
