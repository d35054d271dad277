"""Wrong variants of ex04_gru: each must lose exactly the listed test cells (docs/exercises.md)."""

from tests.harness import SAVED_BEFORE_TRAINING, never_trained

VARIANTS = {
    "checkpoint_never_trained": {
        # the model saved before training: chance on the agreement task, under the first tier
        "cell": "train",
        "replace": SAVED_BEFORE_TRAINING,
        "files": never_trained("ex04_gru"),
        "loses": ["test_trained_gru"],
        "message": "chance is 0.5",
    },
    # The original paper's (and the course notation's) candidate: r * a_prev before the product.
    "reset_gate_before_matmul": {
        "cell": "gru_cell_forward",
        "replace": [("r * hn)", '(r * a_prev) @ params["Wh"][2 * H:].T + params["bh"][2 * H:])')],
        "loses": ["test_gru_cell_forward", "test_gru_forward", "test_gru_cell_backward"],
        "message": "reset gate is applied to a_prev before the matrix product",
    },
    "r_and_z_swapped": {
        "cell": "gru_cell_forward",
        "replace": [("r = sigmoid(gx[:, :H] + gh[:, :H])", "r = sigmoid(gx[:, H:2 * H] + gh[:, H:2 * H])"),
                    ("z = sigmoid(gx[:, H:2 * H] + gh[:, H:2 * H])", "z = sigmoid(gx[:, :H] + gh[:, :H])")],
        "loses": ["test_gru_cell_forward", "test_gru_forward", "test_gru_cell_backward"],
        "message": "the r and z blocks are swapped",
    },
    "update_gate_convention_flipped": {
        "cell": "gru_cell_forward",
        "replace": [("a_next = (1 - z) * n + z * a_prev", "a_next = z * n + (1 - z) * a_prev")],
        # the cache (r, z, n) is still right, so the backward cell keeps its points
        "loses": ["test_gru_cell_forward", "test_gru_forward"],
        "message": "z KEEPS the old state",
    },
    "b_hn_outside_reset_gate": {
        "cell": "gru_cell_forward",
        "replace": [("r * hn)", 'r * (hn - params["bh"][2 * H:]) + params["bh"][2 * H:])')],
        "loses": ["test_gru_cell_forward", "test_gru_forward", "test_gru_cell_backward"],
        "message": "b_hn is outside the reset gate",
    },
    "state_not_carried": {
        "cell": "gru_forward",
        "replace": [("gru_cell_forward(x[:, t, :], a_t, params)", "gru_cell_forward(x[:, t, :], a0, params)")],
        "loses": ["test_gru_forward"],
        "message": "every step starts again from a0",
    },
    "starts_from_zeros": {
        "cell": "gru_forward",
        "replace": [("a_t = a0", "a_t = np.zeros_like(a0)")],
        "loses": ["test_gru_forward"],
        "message": "start from a0",
    },
    "dbh_ignores_reset_gate": {
        "cell": "gru_cell_backward",
        "replace": [('"dbh": dgh.sum(axis=0)', '"dbh": dgx.sum(axis=0)')],
        "loses": ["test_gru_cell_backward"],
        "message": "the n block of bh sits inside the reset gate",
    },
    "da_prev_misses_direct_path": {
        "cell": "gru_cell_backward",
        "replace": [('"da_prev": da_next * z + dgh @ params["Wh"]', '"da_prev": dgh @ params["Wh"]')],
        "loses": ["test_gru_cell_backward"],
        "message": "a_prev reaches a_next directly",
    },
    "module_reset_gate_before_matmul": {
        "cell": "gru_module",
        "replace": [("r * gh[:, 2 * H:])", "(r * h) @ self.weight_hh[2 * H:].T + self.bias_hh[2 * H:])")],
        # the reference checkpoint still scores above 0.97 with this module; DeepBiGRU is built from it
        "loses": ["test_gru_module", "test_deep_gru"],
        "message": "the reset gate is applied to h before the matrix product",
    },
    "module_ignores_h0": {
        "cell": "gru_module",
        "replace": [("h = x.new_zeros(N, H) if h0 is None else h0[0]", "h = x.new_zeros(N, H)")],
        # DeepBiGRU passes h0 on to every layer's GRU: its tests with h0 fail too
        "loses": ["test_gru_module", "test_deep_gru"],
        "message": "start from h0[0] when h0 is given",
    },
    "deep_backward_not_flipped_back": {
        "cell": "deep_gru",
        "replace": [("outs.append(out if d == 0 else out.flip(1))", "outs.append(out)")],
        "loses": ["test_deep_gru"],
        "message": "the backward direction's outputs must be flipped back to time order",
    },
    "deep_backward_reads_forward": {
        "cell": "deep_gru",
        "replace": [("seq = inp if d == 0 else inp.flip(1)", "seq = inp")],
        "loses": ["test_deep_gru"],
        "message": "the backward direction must read the sequence reversed",
    },
    "deep_next_layer_reads_forward_only": {
        "cell": "deep_gru",
        "replace": [("inp = torch.cat(outs, dim=2)", "inp = outs[0]")],
        "loses": ["test_deep_gru"],
        "message": "layer l + 1's input is layer l's whole output",
    },
    "deep_h_n_direction_major": {
        "cell": "deep_gru",
        "replace": [("torch.stack(last)", "torch.stack(last[0::D] + last[1::D])")],
        "loses": ["test_deep_gru"],
        "message": "h_n is ordered layer by layer",
    },
}


# Correct formulations that differ from the solution: each must score full marks in every cell
# (docs/exercises.md, "Wrong variants and correct alternatives").
ALTERNATIVES = {
    # reversal by indexing instead of flip, h0 sliced per layer, h_n filled in place, other names
    "deep_indexed_reversal": {
        "cell": "deep_gru",
        "source": '''\
class DeepBiGRU(nn.Module):
    def __init__(self, input_size, hidden_size, num_layers=2, bidirectional=True):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.num_layers, self.bidirectional = num_layers, bidirectional
        D = 2 if bidirectional else 1
        self.layers = nn.ModuleList(
            nn.ModuleList(GRU(input_size if l == 0 else D * hidden_size, hidden_size) for _ in range(D))
            for l in range(num_layers))

    def forward(self, x, h0=None):
        D = 2 if self.bidirectional else 1
        T = x.shape[1]
        backwards = torch.arange(T - 1, -1, -1, device=x.device)   # reversal by indexing, not flip
        if h0 is None:
            h0 = x.new_zeros(self.num_layers * D, x.shape[0], self.hidden_size)
        finals = x.new_empty(self.num_layers * D, x.shape[0], self.hidden_size)
        features = x
        for depth in range(self.num_layers):
            start = depth * D
            forward_out, forward_last = self.layers[depth][0](features, h0[start:start + 1])
            finals[start] = forward_last[0]
            pieces = [forward_out]
            if D == 2:
                backward_out, backward_last = self.layers[depth][1](features[:, backwards], h0[start + 1:start + 2])
                pieces.append(backward_out[:, backwards])
                finals[start + 1] = backward_last[0]
            features = torch.cat(pieces, dim=-1)
        return features, finals
''',
    },
}
