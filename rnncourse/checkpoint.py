"""Checkpoints as safetensors weights plus a JSON of the constructor's arguments.

The contract (docs/exercises.md, "Trained models"): a notebook saves ``<stem>.safetensors``
and ``<stem>.json`` beside itself; the grader rebuilds the student's class from the
JSON and loads the weights on the CPU. No pickle is ever loaded: safetensors is a
plain tensor format, and the JSON may hold only numbers, strings, booleans and lists.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

FORMAT_VERSION = 1
MAX_BYTES = 64 * 2**20  # a course model is a few MB at most
MAX_JSON_BYTES = 64 * 2**10


class CheckpointError(RuntimeError):
    """A checkpoint is missing, too large, corrupt, non-finite or does not fit its class."""


def _paths(stem: str | Path) -> tuple[Path, Path]:
    stem = Path(stem)
    if stem.suffix in (".safetensors", ".json"):
        stem = stem.with_suffix("")
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def _check_json_value(value, where: str) -> None:
    if isinstance(value, bool | int | str) or value is None:
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CheckpointError(f"{where} is {value}: constructor arguments must be finite")
        return
    if isinstance(value, list):
        for i, v in enumerate(value):
            _check_json_value(v, f"{where}[{i}]")
        return
    raise CheckpointError(f"{where} has type {type(value).__name__}: only numbers, strings, "
                          "booleans and lists can be saved as constructor arguments")


def save_checkpoint(model: torch.nn.Module, stem: str | Path, init_kwargs: dict) -> tuple[Path, Path]:
    """Save ``model``'s weights and the keyword arguments that rebuild it.

    ``init_kwargs`` must satisfy ``type(model)(**init_kwargs)`` and contain only JSON
    numbers, strings, booleans and lists. Weights are moved to the CPU first, so a
    checkpoint saved on a GPU loads anywhere.
    """
    for k, v in init_kwargs.items():
        _check_json_value(v, f"init_kwargs[{k!r}]")
    weights_path, json_path = _paths(stem)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(weights_path))
    meta = {"format": FORMAT_VERSION, "class": type(model).__name__, "init_kwargs": init_kwargs}
    json_path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return weights_path, json_path


def load_checkpoint(stem: str | Path, cls: type[torch.nn.Module], *, max_bytes: int = MAX_BYTES,
                    max_parameters: int = 20_000_000) -> torch.nn.Module:
    """Rebuild ``cls`` from ``<stem>.json`` and load ``<stem>.safetensors`` on the CPU.

    Raises ``CheckpointError`` with a message a student can act on when anything is
    wrong: missing or oversized files, invalid JSON, a file that is not safetensors
    (a pickle, say), weights that do not fit the class, or NaN/inf values.
    """
    weights_path, json_path = _paths(stem)
    for p in (weights_path, json_path):
        if not p.is_file():
            raise CheckpointError(f"checkpoint file {p.name} is missing: run the training cell, "
                                  "which saves it, and submit it beside the notebook")
    size = weights_path.stat().st_size
    if size > max_bytes:
        raise CheckpointError(f"{weights_path.name} is {size / 2**20:.1f} MiB, the limit is "
                              f"{max_bytes / 2**20:.0f} MiB: is the model much larger than asked?")
    if json_path.stat().st_size > MAX_JSON_BYTES:
        raise CheckpointError(f"{json_path.name} is larger than {MAX_JSON_BYTES} bytes")
    try:
        meta = json.loads(json_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{json_path.name} is not valid JSON ({e})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("init_kwargs"), dict):
        raise CheckpointError(f"{json_path.name} must hold an object with 'init_kwargs'")
    kwargs = meta["init_kwargs"]
    for k, v in kwargs.items():
        _check_json_value(v, f"init_kwargs[{k!r}]")
    if meta.get("class") not in (None, cls.__name__):
        raise CheckpointError(f"{json_path.name} was saved from class {meta.get('class')!r}, "
                              f"expected {cls.__name__!r}")
    try:
        state = load_file(str(weights_path), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{weights_path.name} is not a valid safetensors file ({e}); "
                              "save it with rnncourse.save_checkpoint") from None
    try:
        model = cls(**kwargs)
    except Exception as e:  # the student's constructor and their saved arguments
        raise CheckpointError(f"{cls.__name__}(**{kwargs}) failed: {type(e).__name__}: {e}") from None
    n_params = sum(p.numel() for p in model.parameters())
    if n_params > max_parameters:
        raise CheckpointError(f"{cls.__name__}(**{kwargs}) has {n_params:,} parameters, "
                              f"the limit is {max_parameters:,}")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        raise CheckpointError(f"{weights_path.name} does not fit {cls.__name__}: missing {missing}, "
                              f"unexpected {extra}")
    for k, v in state.items():
        if tuple(v.shape) != tuple(expected[k].shape):
            raise CheckpointError(f"{weights_path.name}: {k} has shape {tuple(v.shape)}, "
                                  f"{cls.__name__}(**{kwargs}) expects {tuple(expected[k].shape)}")
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise CheckpointError(f"{weights_path.name}: {k} contains NaN or inf: training "
                                  "diverged; lower the learning rate or clip gradients")
    model.load_state_dict(state)
    return model.eval()
