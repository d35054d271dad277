"""The checkpoint contract: safetensors + JSON, rebuilt on the CPU, every bad file refused clearly."""

import json
import pickle

import pytest
import torch
from torch import nn

from rnncourse import CheckpointError, load_checkpoint, save_checkpoint


class Tiny(nn.Module):
    def __init__(self, d=3, h=4, name="x"):
        super().__init__()
        self.init_kwargs = dict(d=d, h=h, name=name)
        self.lin = nn.Linear(d, h)


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    m = Tiny(3, 5)
    save_checkpoint(m, tmp_path / "model", m.init_kwargs)
    return m, tmp_path / "model"


def test_round_trip(saved):
    m, stem = saved
    m2 = load_checkpoint(stem, Tiny)
    assert m2.init_kwargs == m.init_kwargs
    for k, v in m.state_dict().items():
        assert torch.equal(v, m2.state_dict()[k])
    assert not m2.training


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="missing: run the training cell"):
        load_checkpoint(tmp_path / "nothing", Tiny)


def test_pickle_renamed_is_refused(saved, tmp_path):
    _, stem = saved

    class Evil:
        def __reduce__(self):
            return (print, ("pickle code ran",))

    stem.with_suffix(".safetensors").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(CheckpointError, match="not a valid safetensors"):
        load_checkpoint(stem, Tiny)


def test_corrupt_bytes(saved):
    _, stem = saved
    p = stem.with_suffix(".safetensors")
    p.write_bytes(p.read_bytes()[:40])
    with pytest.raises(CheckpointError, match="not a valid safetensors"):
        load_checkpoint(stem, Tiny)


def test_nan_weights(tmp_path):
    m = Tiny()
    with torch.no_grad():
        m.lin.weight[0, 0] = float("nan")
    save_checkpoint(m, tmp_path / "m", m.init_kwargs)
    with pytest.raises(CheckpointError, match="NaN or inf"):
        load_checkpoint(tmp_path / "m", Tiny)


def test_wrong_shape(saved):
    _, stem = saved
    meta = json.loads(stem.with_suffix(".json").read_text())
    meta["init_kwargs"]["h"] = 7
    stem.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="has shape"):
        load_checkpoint(stem, Tiny)


def test_oversized(saved):
    _, stem = saved
    with pytest.raises(CheckpointError, match="limit"):
        load_checkpoint(stem, Tiny, max_bytes=10)


def test_json_with_objects_or_garbage(saved):
    _, stem = saved
    stem.with_suffix(".json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(stem, Tiny)
    stem.with_suffix(".json").write_text(json.dumps({"init_kwargs": {"d": {"__class__": "os.system"}}}))
    with pytest.raises(CheckpointError, match="only numbers, strings"):
        load_checkpoint(stem, Tiny)


def test_save_refuses_unserialisable_kwargs(tmp_path):
    with pytest.raises(CheckpointError):
        save_checkpoint(Tiny(), tmp_path / "m", {"d": object()})
