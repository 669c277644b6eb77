"""Files optsearch reads or writes fail cleanly; NaN gradients behave as in torch.optim."""

from __future__ import annotations

import errno
import json

import pytest
import torch

import optsearch
from optsearch.errors import StoreError
from optsearch.store import RunStore


@pytest.fixture
def store(tmp_path):
    s = RunStore.create(tmp_path, "r1", {"seed": 1})
    yield s
    s.close()


def test_disk_full_while_writing_a_checkpoint_keeps_the_previous_one(store, monkeypatch):
    store.save_checkpoint({"generation": 1, "population": [1, 2, 3]})

    def full_disk(obj, fh, *a, **k):
        fh.write('{"generation": 2, "popul')  # part of the file reached the disk, then ENOSPC
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(json, "dump", full_disk)
    with pytest.raises(StoreError) as e:
        store.save_checkpoint({"generation": 2, "population": [4, 5]})
    monkeypatch.undo()
    assert "checkpoint.json" in str(e.value) and "No space left" in str(e.value)
    assert store.load_checkpoint() == {"generation": 1, "population": [1, 2, 3]}
    assert not list(store.path.glob("*.tmp"))


def test_truncated_checkpoint_names_the_file(store):
    store.save_checkpoint({"generation": 1})
    path = store.path / "checkpoint.json"
    path.write_text(path.read_text()[:5])
    with pytest.raises(StoreError, match="checkpoint.json"):
        store.load_checkpoint()


def test_corrupted_run_store_is_a_clear_error(tmp_path):
    s = RunStore.create(tmp_path, "bad", {"seed": 1})
    s.close()
    (tmp_path / "bad" / "run.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError) as e:
        RunStore.open("bad", tmp_path)
    assert "bad" in str(e.value)


# Config typos and invalid TOML: tests/search/test_config.py.


REFERENCES = {
    "sgd_momentum": (lambda ps: torch.optim.SGD(ps, lr=1e-2, momentum=0.9), {}),
    "adam": (lambda ps: torch.optim.Adam(ps, lr=1e-2), {}),
    "adamw": (lambda ps: torch.optim.AdamW(ps, lr=1e-2), {}),
    "rmsprop": (lambda ps: torch.optim.RMSprop(ps, lr=1e-2), {}),
}


@pytest.mark.parametrize("rule", sorted(REFERENCES))
@pytest.mark.parametrize("path", ["eager", "foreach"])
def test_nan_gradients_propagate_like_torch_optim(rule, path):
    make_ref, hyper = REFERENCES[rule]
    torch.manual_seed(0)
    start = torch.randn(4, 3)
    ours = torch.nn.Parameter(start.clone())
    ref = torch.nn.Parameter(start.clone())
    opt = optsearch.optimizer(rule, [ours], lr=1e-2, foreach=(path == "foreach"), **hyper)
    ref_opt = make_ref([ref])
    grads = [torch.randn(4, 3), torch.full((4, 3), float("nan")), torch.randn(4, 3)]
    grads[1][0] = 1.0  # one row stays finite
    for g in grads:
        ours.grad, ref.grad = g.clone(), g.clone()
        opt.step()  # never raises
        ref_opt.step()
        assert torch.equal(torch.isnan(ours), torch.isnan(ref))
    assert torch.isnan(ours[1:]).all() and torch.isfinite(ours[0]).all()
