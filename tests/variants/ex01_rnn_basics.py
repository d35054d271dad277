"""Wrong variants of ex01: each must lose exactly the listed test cells (see tests/harness.py)."""

from tests.harness import SAVED_BEFORE_TRAINING, never_trained

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
    "checkpoint_never_trained": {
        # the model saved before training: loading it earns nothing any more (it used to earn the
        # points of test_checkpoint_loads); the first tier asks for what a trained model does
        "cell": "train",
        "replace": SAVED_BEFORE_TRAINING,
        "files": never_trained("ex01_rnn_classifier"),
        "loses": ["test_trained_classifier"],
        "message": "half the words right",
    },
}


# Correct formulations that differ from the solution: each must score full marks in every
# cell (docs/exercises.md, "Wrong variants and correct alternatives"). "source" replaces the whole answer
# cell; "replace" edits the filled solution like a variant does.
ALTERNATIVES = {
    "softmax_log_sum_exp": {
        "cell": "softmax",
        "source": '''\
def softmax(z, axis=-1):
    z_max = np.max(z, axis=axis, keepdims=True)
    log_norm = z_max + np.log(np.sum(np.exp(z - z_max), axis=axis, keepdims=True))
    return np.exp(z - log_norm)
''',
    },
    "softmax_row_loop": {
        "cell": "softmax",
        "source": '''\
def softmax(z, axis=-1):
    moved = np.moveaxis(np.asarray(z), axis, -1)
    rows = moved.reshape(-1, moved.shape[-1])
    result = np.empty_like(rows)
    for r in range(rows.shape[0]):
        e = np.exp(rows[r] - rows[r].max())
        result[r] = e / e.sum()
    return np.moveaxis(result.reshape(moved.shape), -1, axis)
''',
    },
    "cell_loop_over_examples": {
        "cell": "rnn_cell_forward",
        "source": '''\
def rnn_cell_forward(xt, a_prev, params):
    W_in, W_rec, b_hidden = params["Wax"], params["Waa"], params["ba"]
    W_out, b_out = params["Wya"], params["by"]
    batch = xt.shape[0]
    hidden = np.zeros((batch, W_rec.shape[0]), dtype=xt.dtype)
    probs = np.zeros((batch, W_out.shape[0]), dtype=xt.dtype)
    for i in range(batch):
        hidden[i] = np.tanh(W_in @ xt[i] + W_rec @ a_prev[i] + b_hidden)
        probs[i] = softmax(W_out @ hidden[i] + b_out)
    return hidden, probs, (hidden, a_prev, xt, params)
''',
    },
    "cell_computes_in_float32": {
        "cell": "rnn_cell_forward",
        "source": '''\
def rnn_cell_forward(xt, a_prev, params):
    p = {k: np.asarray(v, dtype=np.float32) for k, v in params.items()}
    x32, a32 = np.asarray(xt, dtype=np.float32), np.asarray(a_prev, dtype=np.float32)
    a_next = np.tanh(x32 @ p["Wax"].T + a32 @ p["Waa"].T + p["ba"])
    yt_pred = softmax(a_next @ p["Wya"].T + p["by"])
    return a_next, yt_pred, (a_next, a_prev, xt, params)
''',
    },
    "forward_list_and_stack": {
        "cell": "rnn_forward",
        "source": '''\
def rnn_forward(x, a0, params):
    hs, ys, cache_list = [], [], []
    h = a0
    for step in range(x.shape[1]):
        h, y, c = rnn_cell_forward(x[:, step], h, params)
        hs.append(h)
        ys.append(y)
        cache_list.append(c)
    return np.stack(hs, axis=1), np.stack(ys, axis=1), cache_list
''',
    },
    # Counter, vocabulary in first-seen order (not sorted), and the nearest centroid by the
    # expanded distance |c|^2 - 2 x.c (|x| = 1 for every row, so the argmin is the same).
    # Cosine similarity to the centroids would NOT be equivalent: centroids are not unit length.
    "tfidf_counter_first_seen_vocabulary": {
        "cell": "tfidf",
        "source": '''\
import math
from collections import Counter


class TfidfClassifier:
    """Character n-gram TF-IDF features with a nearest-centroid classifier."""

    def __init__(self, ngram_range=(1, 3)):
        self.ngram_range = ngram_range

    def ngrams(self, word):
        padded = " " + word + " "
        out = []
        for size in range(self.ngram_range[0], self.ngram_range[1] + 1):
            for start in range(len(padded) - size + 1):
                out.append(padded[start:start + size])
        return out

    def fit(self, words, labels):
        self.vocabulary_ = {}
        doc_freq = Counter()
        for word in words:
            grams = self.ngrams(word)
            for g in grams:
                if g not in self.vocabulary_:
                    self.vocabulary_[g] = len(self.vocabulary_)
            doc_freq.update(set(grams))
        n_docs = len(words)
        self.idf_ = np.array([math.log((1 + n_docs) / (1 + doc_freq[g])) + 1
                              for g in self.vocabulary_])
        features = self.transform(words)
        self.classes_ = sorted(set(labels))
        self.centroids_ = np.array([
            features[[i for i, lab in enumerate(labels) if lab == c]].mean(axis=0)
            for c in self.classes_])
        return self

    def transform(self, words):
        rows = []
        for word in words:
            counts = Counter(g for g in self.ngrams(word) if g in self.vocabulary_)
            row = np.zeros(len(self.vocabulary_))
            for g, k in counts.items():
                j = self.vocabulary_[g]
                row[j] = k * self.idf_[j]
            length = math.sqrt(float(row @ row))
            rows.append(row / length if length > 0 else row)
        return np.array(rows)

    def predict(self, words):
        X = self.transform(words)
        scores = (self.centroids_ ** 2).sum(axis=1)[None, :] - 2 * X @ self.centroids_.T
        return [self.classes_[k] for k in scores.argmin(axis=1)]
''',
    },
    "tfidf_float32": {
        "cell": "tfidf",
        "replace": [("df = np.zeros(len(self.vocabulary_))",
                     "df = np.zeros(len(self.vocabulary_), dtype=np.float32)"),
                    ("X = np.zeros((len(words), len(self.vocabulary_)))",
                     "X = np.zeros((len(words), len(self.vocabulary_)), dtype=np.float32)")],
    },
    # RNNClassifier alternatives keep the solution's submodule names (embed, rnn, head): the
    # harness grades them with the reference checkpoint, whose state_dict keys must match.
    # (A real student trains and saves their own model, so any names work there.)
    "classifier_pack_padded_sequence": {
        "cell": "rnn_classifier",
        "replace": [(
            "a, _ = self.rnn(self.embed(x))                       # (N, T, H)\n"
            "        last = a[torch.arange(x.shape[0]), lengths - 1]      # (N, H)",
            "packed = nn.utils.rnn.pack_padded_sequence(\n"
            "            self.embed(x), lengths.cpu(), batch_first=True, enforce_sorted=False)\n"
            "        _, h_n = self.rnn(packed)                            # (1, N, H)\n"
            "        last = h_n[-1]                                       # (N, H)")],
    },
    "classifier_masked_steps": {
        "cell": "rnn_classifier",
        "replace": [(
            "a, _ = self.rnn(self.embed(x))                       # (N, T, H)\n"
            "        last = a[torch.arange(x.shape[0]), lengths - 1]      # (N, H)",
            "emb = self.embed(x)\n"
            "        h = torch.zeros(1, x.shape[0], self.rnn.hidden_size)\n"
            "        for t in range(x.shape[1]):\n"
            "            _, h_new = self.rnn(emb[:, t:t + 1], h)\n"
            "            keep = (x[:, t] != 0).view(1, -1, 1)\n"
            "            h = torch.where(keep, h_new, h)\n"
            "        last = h[0]")],
    },
}
