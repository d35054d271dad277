"""Device choice: ``cuda`` when available, else ``cpu`` (override with RNNCOURSE_DEVICE)."""

import contextlib
import os

import torch


def pick_device(prefer: str | None = None) -> torch.device:
    """The device to train on.

    ``prefer`` or the environment variable ``RNNCOURSE_DEVICE`` (``cpu``, ``cuda``,
    ``cuda:1``, ``mps``) wins; otherwise CUDA if present, else the CPU.
    """
    name = prefer or os.environ.get("RNNCOURSE_DEVICE")
    if name:
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


@contextlib.contextmanager
def cpu_threads(n: int = 1):
    """Run a block with ``n`` intra-op CPU threads, then restore the previous number.

    The course's models are small: one thread is as fast as several on a CPU, and on a
    shared or busy machine several threads can be ten times slower (they wait for each other).
    """
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)
