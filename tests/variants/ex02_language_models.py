"""Wrong variants of ex02_language_models: each must lose exactly the listed test cells.

Format: see the common brief (cell = grade_id of the solution cell to edit; replace = (old, new)
pairs applied to the filled solution code; loses = grade_ids of test cells that must score below
full; message = text that must appear in the failing cell's output).
"""

from tests.harness import SAVED_BEFORE_TRAINING, never_trained

# A CharLM whose RNN reads x shifted by one step: at step t it sees x<t+1> = y<t>, the character it
# must predict. Trained, it "beats" every perplexity bound; the trained-model cell must give it 0.
PEEKING_CHAR_LM = """\
class CharLM(nn.Module):
    def __init__(self, vocab_size=27, embed_dim=32, hidden_size=128):
        super().__init__()
        self.init_kwargs = dict(vocab_size=vocab_size, embed_dim=embed_dim, hidden_size=hidden_size)
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.rnn = nn.RNN(embed_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, x, targets=None):
        ahead = torch.cat([x[:, 1:], x[:, -1:]], dim=1)     # x<t+1> = y<t>: the next character
        a, _ = self.rnn(self.embed(ahead))
        logits = self.head(a)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                   ignore_index=names.IGNORE)
        return logits, loss
"""


def _train_peeking_char_lm(folder):
    """Its checkpoint, trained as the training cell would (a few hundred steps suffice to copy)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    from rnncourse import save_checkpoint, train
    from rnncourse.data import names
    from rnncourse.device import cpu_threads

    ns = {"torch": torch, "nn": nn, "F": F, "names": names}
    exec(PEEKING_CHAR_LM, ns)
    with cpu_threads(1):
        torch.manual_seed(0)
        model = ns["CharLM"]()
        train_names, _ = names.train_val_split(seed=0)
        train(model, names.batches(train_names, batch_size=64, seed=0), steps=300, lr=3e-3, progress=False)
    save_checkpoint(model, folder / "ex02_char_lm", model.init_kwargs)


VARIANTS = {
    "vocab_ignores_min_freq": {
        "cell": "build_vocab",
        "replace": [("if c >= min_freq and w not in", "if w not in")],
        "loses": ["test_build_vocab"],
        "message": "min_freq",
    },
    "encode_without_eos": {
        "cell": "encode_decode",
        "replace": [(" + [vocab[EOS]]", "")],
        "loses": ["test_encode_decode"],
        "message": "<EOS>",
    },
    "teacher_forcing_off_by_one": {
        # x<t> = y<t> (the very token to predict) instead of y<t-1>; the backward pass then
        # differentiates that wrong function, so its cell loses too.
        "cell": "rnn_lm_loss",
        "replace": [("one_hot(y[:, t - 1], V, dtype)", "one_hot(y[:, t], V, dtype)")],
        "loses": ["test_rnn_lm_loss", "test_rnn_backward"],
        "message": "teacher forcing",
    },
    "bptt_forgets_recurrent_term": {
        "cell": "rnn_backward",
        "replace": [('da_next = du @ params["Waa"]', 'da_next = 0 * du @ params["Waa"]')],
        "loses": ["test_rnn_backward"],
        "message": "recurrent path",
    },
    "sample_ignores_temperature": {
        "cell": "sample",
        "replace": [(' + params["by"]) / temperature)', ' + params["by"]))')],
        "loses": ["test_sample"],
        "message": "temperature",
    },
    "tbptt_forgets_detach": {
        # the state carried without detach: the second chunk's backward runs into the freed graph
        "cell": "train_stateful",
        "replace": [("        state = state.detach() if isinstance(state, torch.Tensor) else tuple(s.detach() for s in state)\n",
                     "")],
        "loses": ["test_train_stateful"],
        "message": "detach the carried state",
    },
    "tbptt_retains_the_graph_instead": {
        # PyTorch's error message suggests retain_graph=True: the graph then grows with every chunk
        "cell": "train_stateful",
        "replace": [("        state = state.detach() if isinstance(state, torch.Tensor) else tuple(s.detach() for s in state)\n",
                     ""),
                    ("loss.backward()", "loss.backward(retain_graph=True)")],
        "loses": ["test_train_stateful"],
        "message": "grew from chunk to chunk",
    },
    "tbptt_does_not_carry_the_state": {
        # every chunk starts from the initial state: detached, but nothing is carried
        "cell": "train_stateful",
        "replace": [("out, state = rnn(x, state)", "out, new_state = rnn(x, state)"),
                    ("state = state.detach() if isinstance(state, torch.Tensor) else tuple(s.detach() for s in state)",
                     "final = new_state.detach() if isinstance(new_state, torch.Tensor) "
                     "else tuple(s.detach() for s in new_state)"),
                    ("return losses, state", "return losses, final")],
        "loses": ["test_train_stateful"],
        "message": "carry the state",
    },
    "char_lm_summed_loss": {
        "cell": "char_lm",
        "replace": [("ignore_index=names.IGNORE)", 'ignore_index=names.IGNORE, reduction="sum")')],
        "loses": ["test_char_lm"],
        "message": "mean cross-entropy",
    },
    "char_lm_architecture_differs_from_checkpoint": {
        # A GRU passes the contract tests but cannot load the reference RNN checkpoint.
        "cell": "char_lm",
        "replace": [("self.rnn = nn.RNN(embed_dim", "self.rnn = nn.GRU(embed_dim")],
        "loses": ["test_trained_lm"],
        "message": "expects",
    },
    "char_lm_reads_the_next_character": {
        # Non-causal: the old trained-model cell gave its (trained) checkpoint 4/4, the causality
        # test of section 6 cost it a fraction of a point.
        "cell": "char_lm",
        "source": PEEKING_CHAR_LM,
        "files": _train_peeking_char_lm,
        "loses": ["test_char_lm", "test_trained_lm"],
        "message": "the trained model reads the future",
    },
    "checkpoint_never_trained": {
        # the model saved before training: loading it earns nothing any more (it used to earn the
        # points of test_checkpoint_loads); the first tier asks for what a trained model does
        "cell": "train",
        "replace": SAVED_BEFORE_TRAINING,
        "files": never_trained("ex02_char_lm"),
        "loses": ["test_trained_lm"],
        "message": "drawing each letter from its frequency",
    },
}

ALTERNATIVES = {
    "sample_returns_numpy_integers": {
        # rng.choice's np.int64 kept as it is: the conventions allow any integer index
        "cell": "sample",
        "replace": [("idx = int(rng.choice(V, p=p))", "idx = rng.choice(V, p=p)")],
    },
}
