"""Wrong variants of ex03_vanishing_gradients: each must lose exactly the listed test cells.

The experiment cell is graded on the saved checkpoints, which variant runs keep from the reference
solution unless the entry's ``"files"`` writes its own (tests/harness.py): the code change then
only documents the mistake that would produce those files.
"""


def _save_long(folder, model):
    from rnncourse import save_checkpoint

    save_checkpoint(model, folder / "ex03_agreement_long", model.init_kwargs)


def _untrained_long(folder):
    """What the variant below saves for LONG: the model straight after torch.manual_seed(0)."""
    import torch

    from rnncourse.experiments.gradients import AgreementClassifier

    torch.manual_seed(0)
    _save_long(folder, AgreementClassifier())


def _gru_long(folder):
    """A long-distance model that does learn distance 40: chapter 4's GRU with its update gate
    starting at keep, the same budget (300 steps, lr 3e-3, batches of 64)."""
    import torch

    from rnncourse import train
    from rnncourse.data import agreement
    from rnncourse.device import cpu_threads
    from rnncourse.experiments import gates
    from rnncourse.experiments.gradients import AgreementClassifier

    with cpu_threads(1):
        torch.manual_seed(0)
        model = AgreementClassifier(cell="gru")
        gates.set_keep_bias(model.rnn, 3.0)
        train(model, agreement.agreement_batches(64, 40, seed=0), steps=300, lr=3e-3, progress=False)
    _save_long(folder, model.cpu())


VARIANTS = {
    "clip_value_one_sided": {
        "cell": "clip_by_value",
        "replace": [("np.clip(g, -max_value, max_value)", "np.minimum(g, max_value)")],
        "loses": ["test_clip_by_value"],
        "message": "-max_value",
    },
    "clip_norm_per_tensor": {
        "cell": "clip_by_global_norm",
        "replace": [("clipped = {k: g * scale for k, g in gradients.items()}",
                     "clipped = {k: g * min(1.0, max_norm / (np.linalg.norm(g) + 1e-6)) "
                     "for k, g in gradients.items()}")],
        "loses": ["test_clip_by_global_norm"],
        "message": "each tensor",
    },
    "gradient_norms_reversed": {
        "cell": "gradient_norms_over_time",
        "replace": [("for g in grads])", "for g in reversed(grads)])")],
        "loses": ["test_gradient_norms_over_time"],
        "message": "reverse",
    },
    "agreement_labels_swapped": {
        "cell": "make_agreement_batch",
        "replace": [("noun = V.nouns[pair[n]][y[n]]", "noun = V.nouns[pair[n]][1 - y[n]]")],
        "loses": ["test_make_agreement_batch"],
        "message": "plural",
    },
    "clip_value_in_place": {
        # the seed's pseudocode taken literally: np.clip(..., out=gradient), and the caller's dict returned
        "cell": "clip_by_value",
        "replace": [("return {k: np.clip(g, -max_value, max_value) for k, g in gradients.items()}",
                     "for g in gradients.values():\n"
                     "        np.clip(g, -max_value, max_value, out=g)\n"
                     "    return gradients")],
        "loses": ["test_clip_by_value"],
        "message": "expected a NEW dict",
    },
    "clip_norm_in_place": {
        "cell": "clip_by_global_norm",
        "replace": [("clipped = {k: g * scale for k, g in gradients.items()}\n    return clipped, total_norm",
                     "for g in gradients.values():\n"
                     "        g *= scale\n"
                     "    return gradients, total_norm")],
        "loses": ["test_clip_by_global_norm"],
        "message": "expected a NEW dict",
    },
    "long_model_saved_untrained": {
        # The LONG model is saved before training: the old tests (short at least 0.2 above long)
        # gave it full marks, since an untrained model is at chance too.
        "cell": "experiment",
        "replace": [("        model = AgreementClassifier()\n",
                     "        model = AgreementClassifier()\n"
                     "        if d == LONG:  # saved before training\n"
                     "            save_checkpoint(model, f\"{CHECKPOINT}_long\", model.init_kwargs)\n"),
                    ("        if d in (SHORT, LONG):", "        if d == SHORT:")],
        "files": _untrained_long,
        "loses": ["test_experiment"],
        "message": "test_long_model_was_trained_at_its_distance",
    },
}

ALTERNATIVES = {
    "long_model_learns_the_distance": {
        # A long-distance model that really learns distance 40 (a GRU, chapter 4) must not lose
        # points for it: the cell grades what the models learned, not that the long one failed.
        "cell": "experiment",
        "replace": [("        model = AgreementClassifier()\n",
                     "        model = AgreementClassifier(cell=\"gru\" if d == LONG else \"rnn\")\n"
                     "        if d == LONG:  # chapter 4: a GRU whose update gate starts at keep\n"
                     "            from rnncourse.experiments import gates\n"
                     "            gates.set_keep_bias(model.rnn, 3.0)\n")],
        "files": _gru_long,
    },
}
