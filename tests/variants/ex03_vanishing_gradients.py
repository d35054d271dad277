"""Wrong variants of ex03_vanishing_gradients: each must lose exactly the listed test cells.

The experiment cell has no variant: the grader evaluates the saved checkpoints, which variant
runs keep from the reference solution (a submission without them scores 0 in that cell).
"""

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
}
