"""Wrong solutions of ex07_attention that must lose exactly the listed cells (see tests/variants)."""

from tests.harness import SAVED_BEFORE_TRAINING, never_trained

VARIANTS = {
    "sdpa_softmax_over_the_wrong_axis": {
        "cell": "scaled_dot_product_attention",
        "replace": [("weights = torch.softmax(scores, dim=-1)", "weights = torch.softmax(scores, dim=-2)")],
        "loses": ["test_scaled_dot_product_attention"],
        "message": "the softmax runs over the wrong axis",
    },
    "unscaled_dot_product": {
        "cell": "scaled_dot_product_attention",
        "replace": [("scores = q @ k.transpose(-2, -1) / math.sqrt(d)", "scores = q @ k.transpose(-2, -1)")],
        "loses": ["test_scaled_dot_product_attention"],
        "message": "not divided by sqrt(d)",
    },
    "sdpa_mask_ignored": {
        "cell": "scaled_dot_product_attention",
        "replace": [('scores = scores.masked_fill(~mask, float("-inf"))', "pass")],
        "loses": ["test_scaled_dot_product_attention"],
        "message": "the mask is ignored",
    },
    "additive_softmax_over_the_batch_axis": {
        "cell": "additive_attention",
        "replace": [("weights = torch.softmax(scores, dim=-1)", "weights = torch.softmax(scores, dim=0)")],
        "loses": ["test_additive_attention", "test_attention_decoder", "test_trained_attention_translator",
                  "test_translate_with_attention"],
        "message": "the softmax runs over the batch axis",
    },
    "additive_attention_without_mask": {
        "cell": "additive_attention",
        "replace": [('scores = scores.masked_fill(~mask, float("-inf"))', "pass")],
        "loses": ["test_additive_attention", "test_attention_decoder", "test_trained_attention_translator"],
        "message": "set the scores where mask is False to -inf",
    },
    "decoder_queries_with_the_new_state": {
        "cell": "attention_decoder",
        "replace": [("""        context, weights = additive_attention(h, enc_states, self.W_q.weight, self.W_k.weight,
                                              self.v.weight[0], mask)
        h = self.cell(torch.cat([self.embedding(y_prev), context], dim=-1), h)""",
                     """        h = self.cell(torch.cat([self.embedding(y_prev), enc_states.mean(1)], dim=-1), h)
        context, weights = additive_attention(h, enc_states, self.W_q.weight, self.W_k.weight,
                                              self.v.weight[0], mask)""")],
        "loses": ["test_attention_decoder", "test_trained_attention_translator"],
        "message": "previous",
    },
    "checkpoint_never_trained": {
        # the model saved before training: loading it earns nothing any more (it used to earn the
        # points of test_checkpoint_loads); the first tier asks for what a trained model does
        "cell": "train",
        "replace": SAVED_BEFORE_TRAINING,
        "files": never_trained("ex07_attention_translator"),
        "loses": ["test_trained_attention_translator"],
        "message": "fewer than one date in four",
    },
}
