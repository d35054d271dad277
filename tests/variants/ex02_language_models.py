"""Wrong variants of ex02_language_models: each must lose exactly the listed test cells.

Format: see the common brief (cell = grade_id of the solution cell to edit; replace = (old, new)
pairs applied to the filled solution code; loses = grade_ids of test cells that must score below
full; message = text that must appear in the failing cell's output).
"""

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
}


ALTERNATIVES = {
    "sample_returns_numpy_integers": {
        # rng.choice's np.int64 kept as it is: the conventions allow any integer index
        "cell": "sample",
        "replace": [("idx = int(rng.choice(V, p=p))", "idx = rng.choice(V, p=p)")],
    },
}
