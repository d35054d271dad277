"""Wrong solutions of ex06_seq2seq that must lose exactly the listed cells (see tests/variants)."""

from tests.harness import SAVED_BEFORE_TRAINING, never_trained

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
    "decoder_ignores_the_context": {
        # the decoder's GRU starts from zeros instead of the encoder's summary
        "cell": "decoder",
        "replace": [("self.rnn(self.embedding(y_in), h[None])", "self.rnn(self.embedding(y_in))")],
        "loses": ["test_decoder", "test_trained_translator"],
        "message": "the decoder ignores the context",
    },
    "greedy_writes_after_eos": {
        "cell": "greedy_decode",
        "replace": [("out[:, t] = torch.where(done, torch.full_like(y, PAD), y)", "out[:, t] = y")],
        "loses": ["test_greedy_decode"],
        "message": "write <pad>=0 in the rest of that row",
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
    "beam_shares_the_first_state": {
        # Every kept hypothesis continues from the first one's decoder state: invisible with a
        # decoder whose state does not depend on the prefix, wrong with one whose state is the prefix.
        "cell": "beam_search",
        "replace": [("states = new_states[torch.tensor(keep, device=h.device)]",
                     "states = new_states[torch.tensor([keep[0]] * len(keep), device=h.device)]")],
        "loses": ["test_beam_search"],
        "message": "test_hidden_each_hypothesis_keeps_its_own_state",
    },
    "beam_complete_hypotheses_hold_no_place": {
        # Keeps taking extensions until beam_width of them are live: a complete hypothesis no
        # longer uses one of the beam_width places of its step (the notebook's rule 2 says it does).
        "cell": "beam_search",
        "replace": [("best = torch.topk(totals.flatten(), min(beam_width, totals.numel())).indices.tolist()",
                     "best = torch.topk(totals.flatten(), totals.numel()).indices.tolist()"),
                    ("        for flat in best:\n",
                     "        for flat in best:\n"
                     "            if len(next_live) == beam_width:\n"
                     "                break\n")],
        "loses": ["test_beam_search"],
        "message": "test_hidden_complete_hypotheses_hold_beam_places",
    },
    "checkpoint_never_trained": {
        # the model saved before training: loading it earns nothing any more (it used to earn the
        # points of test_checkpoint_loads); the first tier asks for what a trained model does
        "cell": "train",
        "replace": SAVED_BEFORE_TRAINING,
        "files": never_trained("ex06_translator"),
        "loses": ["test_trained_translator"],
        "message": "fewer than one date in four",
    },
}
