"""``g2p_en``'s pretrained neural model, run offline and in batches, for chapter 8's comparison.

``g2p_en`` (2.1.0, Park and Kim) is the pip package people install to pronounce English words. Its
``G2p`` object looks a word up in CMUdict and only falls back on its network for words it
lacks; importing the package downloads NLTK data (a tagger and NLTK's CMUdict), which fails
without a network. Chapter 8 wants the *network* on our test words, so this module reads the
weights that ship in the package (``checkpoint20.npz``) without importing it, and runs the same
computation as ``G2p.predict`` with PyTorch, many words at a time:

* graphemes ``<pad> <unk> </s> a..z``, each word followed by ``</s>``; a one-layer
  *unidirectional* GRU encoder (128 units) over the letters' 64-dimensional embeddings;
* a one-layer GRU decoder started from the encoder's last state, without attention, reading the
  previous phoneme's embedding from ``<s>``; greedy, at most 20 phonemes, stopping at ``</s>``;
* phonemes with stress digits (70 symbols and 4 specials).

``G2p.grucell`` is PyTorch's GRU (gates in the order reset, update, candidate; the reset gate
applied to ``W_hn h + b_hn``), so ``nn.GRU`` with the checkpoint's matrices computes the same
numbers. ``tests/test_g2p_baseline.py`` checks the outputs against ``G2p.predict`` itself.

The model was trained on the whole dictionary, test words included: scores on our test words
flatter it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

GRAPHEMES = ["<pad>", "<unk>", "</s>"] + list("abcdefghijklmnopqrstuvwxyz")
PHONEMES = ["<pad>", "<unk>", "<s>", "</s>"] + [
    "AA0", "AA1", "AA2", "AE0", "AE1", "AE2", "AH0", "AH1", "AH2", "AO0", "AO1", "AO2", "AW0", "AW1", "AW2",
    "AY0", "AY1", "AY2", "B", "CH", "D", "DH", "EH0", "EH1", "EH2", "ER0", "ER1", "ER2", "EY0", "EY1", "EY2",
    "F", "G", "HH", "IH0", "IH1", "IH2", "IY0", "IY1", "IY2", "JH", "K", "L", "M", "N", "NG", "OW0", "OW1",
    "OW2", "OY0", "OY1", "OY2", "P", "R", "S", "SH", "T", "TH", "UH0", "UH1", "UH2", "UW", "UW0", "UW1", "UW2",
    "V", "W", "Y", "Z", "ZH"]
SOS, EOS, MAX_LEN = 2, 3, 20


def checkpoint_path() -> Path:
    """Where the installed ``g2p_en`` keeps its weights, found without importing the package."""
    spec = importlib.util.find_spec("g2p_en")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("g2p_en is not installed (pip install g2p_en==2.1.0)")
    return Path(next(iter(spec.submodule_search_locations))) / "checkpoint20.npz"


def _gru(prefix: str, v) -> nn.GRU:
    w_ih = torch.from_numpy(np.asarray(v[f"{prefix}_w_ih"], dtype=np.float32))
    gru = nn.GRU(w_ih.shape[1], w_ih.shape[0] // 3, batch_first=True)
    with torch.no_grad():
        for name in ("w_ih", "w_hh", "b_ih", "b_hh"):
            target = getattr(gru, name.replace("w_", "weight_").replace("b_", "bias_") + "_l0")
            target.copy_(torch.from_numpy(np.asarray(v[f"{prefix}_{name}"], dtype=np.float32)))
    return gru


class PretrainedG2p(nn.Module):
    """``g2p_en``'s encoder-decoder with its published weights."""

    def __init__(self, path: str | Path | None = None):
        super().__init__()
        with np.load(checkpoint_path() if path is None else path) as v:
            self.enc_emb = nn.Embedding.from_pretrained(torch.from_numpy(v["enc_emb"].astype(np.float32)))
            self.dec_emb = nn.Embedding.from_pretrained(torch.from_numpy(v["dec_emb"].astype(np.float32)))
            self.encoder, self.decoder = _gru("enc", v), _gru("dec", v)
            self.fc = nn.Linear(*v["fc_w"].shape[::-1])
            with torch.no_grad():
                self.fc.weight.copy_(torch.from_numpy(v["fc_w"].astype(np.float32)))
                self.fc.bias.copy_(torch.from_numpy(v["fc_b"].astype(np.float32)))
        self.eval()

    @torch.no_grad()
    def predict(self, words: Sequence[str], batch_size: int = 1024) -> list[tuple[str, ...]]:
        """Greedy pronunciations (with stress digits), as ``G2p.predict`` gives them one by one."""
        g2idx = {g: i for i, g in enumerate(GRAPHEMES)}
        out: list[tuple[str, ...]] = []
        for start in range(0, len(words), batch_size):
            chunk = words[start:start + batch_size]
            ids = [[g2idx.get(c, 1) for c in w] + [2] for w in chunk]
            lengths = torch.tensor([len(x) for x in ids])
            src = torch.zeros(len(ids), int(lengths.max()), dtype=torch.long)
            for i, x in enumerate(ids):
                src[i, :len(x)] = torch.tensor(x)
            packed = nn.utils.rnn.pack_padded_sequence(self.enc_emb(src), lengths, batch_first=True,
                                                       enforce_sorted=False)
            _, h = self.encoder(packed)                    # the state after each word's own </s>
            y = torch.full((len(ids),), SOS, dtype=torch.long)
            steps = []
            for _ in range(MAX_LEN):
                s, h = self.decoder(self.dec_emb(y)[:, None], h)
                y = self.fc(s[:, 0]).argmax(-1)
                steps.append(y)
            for row in torch.stack(steps, 1).tolist():
                phones = []
                for p in row:
                    if p == EOS:
                        break
                    phones.append(PHONEMES[p])
                out.append(tuple(phones))
        return out
