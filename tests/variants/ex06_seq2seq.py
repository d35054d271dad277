"""Wrong solutions of ex06_seq2seq that must lose exactly the listed cells (see tests/variants)."""

VARIANTS = {
    "no_mask_on_padding": {
        "cell": "masked_cross_entropy",
        "replace": [("return (nll * mask).sum() / mask.sum()", "return nll.mean()")],
        "loses": ["test_masked_cross_entropy", "test_seq2seq_forward"],
        "message": "padding must not count",
    },
    "encoder_runs_through_padding": {
        "cell": "encoder",
        "replace": [("packed_out, h = self.rnn(packed)",
                     "packed_out, h = self.rnn(packed)\n"
                     "        _, h = self.rnn(self.embedding(src))")],
        "loses": ["test_encoder", "test_trained_translator"],
        "message": "h is the state after the padding",
    },
    "teacher_forcing_off_by_one": {
        "cell": "seq2seq",
        "replace": [("logits, _ = self.decoder(tgt[:, :-1], h)", "logits, _ = self.decoder(tgt[:, 1:], h)")],
        "loses": ["test_seq2seq_forward"],
        "message": "off by one",
    },
    "beam_search_without_length_normalisation": {
        "cell": "beam_search",
        "replace": [("complete.append((toks, lp / len(toks) ** alpha))", "complete.append((toks, lp))")],
        "loses": ["test_beam_search"],
        "message": "len(tokens) ** alpha",
    },
}
