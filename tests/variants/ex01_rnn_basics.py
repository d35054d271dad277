"""Wrong variants of ex01: each must lose exactly the listed test cells (see tests/harness.py)."""

VARIANTS = {
    "missing_bias": {
        "cell": "rnn_cell_forward",
        "replace": [(' + params["ba"])', ")")],
        "loses": ["test_rnn_cell_forward", "test_rnn_forward"],
        "message": "did you forget `+ ba`?",
    },
    "unstable_softmax": {
        "cell": "softmax",
        "replace": [("shifted = z - np.max(z, axis=axis, keepdims=True)", "shifted = z")],
        "loses": ["test_softmax"],
        "message": "subtract the maximum",
    },
    "waa_not_transposed": {
        "cell": "rnn_cell_forward",
        "replace": [('a_prev @ params["Waa"].T', 'a_prev @ params["Waa"]')],
        "loses": ["test_rnn_cell_forward", "test_rnn_forward"],
        "message": "without transposing it",
    },
    "tfidf_without_idf": {
        "cell": "tfidf",
        "replace": [("X *= self.idf_", "X *= 1.0")],
        "loses": ["test_tfidf"],
        "message": "idf",
    },
    "classifier_reads_padding": {
        "cell": "rnn_classifier",
        "replace": [("last = a[torch.arange(x.shape[0]), lengths - 1]", "last = a[:, -1]")],
        "loses": ["test_rnn_classifier", "test_trained_classifier"],
        "message": "last real character",
    },
}
