"""Wrong variants of ex05_lstm: each must lose exactly the listed test cells (docs/exercises.md)."""

# lstm_backward runs on the caches of the student's lstm_forward and calls the student's
# lstm_cell_backward, so every mistake in those three units costs test_lstm_backward as well
# (run_tests prints its FIX FIRST note); its own mistakes cost only test_lstm_backward.
VARIANTS = {
    "forget_and_input_swapped": {
        "cell": "lstm_cell_forward",
        "replace": [("c_next = f * c_prev + i * g", "c_next = i * c_prev + f * g")],
        "loses": ["test_lstm_cell_forward", "test_lstm_forward", "test_lstm_cell_backward", "test_lstm_backward"],
        "message": "the input and forget gates are swapped",
    },
    "tanh_missing_on_output_path": {
        "cell": "lstm_cell_forward",
        "replace": [("a_next = o * tc", "a_next = o * c_next")],
        "loses": ["test_lstm_cell_forward", "test_lstm_forward", "test_lstm_backward"],
        "message": "the output path needs tanh",
    },
    "candidate_and_output_swapped": {
        "cell": "lstm_cell_forward",
        "replace": [("g = np.tanh(s[:, 2 * H:3 * H])", "g = np.tanh(s[:, 3 * H:])"),
                    ("o = sigmoid(s[:, 3 * H:])", "o = sigmoid(s[:, 2 * H:3 * H])")],
        "loses": ["test_lstm_cell_forward", "test_lstm_forward", "test_lstm_cell_backward", "test_lstm_backward"],
        "message": "g and o are swapped",
    },
    "cell_state_not_carried": {
        "cell": "lstm_forward",
        "replace": [("lstm_cell_forward(x[:, t, :], a_t, c_t, params)", "lstm_cell_forward(x[:, t, :], a_t, c0, params)")],
        "loses": ["test_lstm_forward", "test_lstm_backward"],
        "message": "the cell state is not carried",
    },
    "backward_misses_tanh_derivative": {
        "cell": "lstm_cell_backward",
        "replace": [("dc = dc_next + da_next * o * (1 - tc ** 2)", "dc = dc_next + da_next * o")],
        "loses": ["test_lstm_cell_backward", "test_lstm_backward"],
        "message": "dc_prev = (dc_next + the gradient through a_next",
    },
    "dc_prev_without_forget_gate": {
        "cell": "lstm_cell_backward",
        "replace": [('"dc_prev": dc * f', '"dc_prev": dc')],
        "loses": ["test_lstm_cell_backward", "test_lstm_backward"],
        "message": "dc_prev",
    },
    "sequence_backward_cell_gradient_not_carried": {
        "cell": "lstm_backward",
        "replace": [('da_prev, dc_prev = step["da_prev"], step["dc_prev"]', 'da_prev = step["da_prev"]')],
        "loses": ["test_lstm_backward"],
        "message": "the cell state's gradient is not carried back",
    },
    "sequence_backward_hidden_gradient_not_carried": {
        "cell": "lstm_backward",
        "replace": [("lstm_cell_backward(da[:, t, :] + da_prev, dc_prev, caches[t])",
                     "lstm_cell_backward(da[:, t, :], dc_prev, caches[t])")],
        "loses": ["test_lstm_backward"],
        "message": "the hidden state's gradient is not carried back",
    },
    "sequence_backward_parameter_gradients_not_summed": {
        "cell": "lstm_backward",
        "replace": [("grads[k] = grads[k] + step[k] if k in grads else step[k]", "grads[k] = step[k]")],
        "loses": ["test_lstm_backward"],
        "message": "is the gradient of the first step only",
    },
    "module_ignores_initial_state": {
        "cell": "lstm_module",
        "replace": [("h, c = state[0][0], state[1][0]", "h = c = x.new_zeros(N, H)")],
        "loses": ["test_lstm_module"],
        "message": "use (h0[0], c0[0]) when state is given",
    },
    "module_forget_and_input_swapped": {
        "cell": "lstm_module",
        "replace": [("c = f * c + i * g", "c = i * c + f * g")],
        # FusedLSTM is compared with this LSTM too, so the fused cell loses as well
        "loses": ["test_lstm_module", "test_fused_lstm"],
        "message": "the input and forget gates are swapped",
    },
    "module_tanh_missing_on_output_path": {
        "cell": "lstm_module",
        "replace": [("h = o * torch.tanh(c)", "h = o * c")],
        "loses": ["test_lstm_module", "test_fused_lstm"],
        "message": "h = o * tanh(c)",
    },
    "count_one_bias": {
        "cell": "count_parameters",
        "replace": [("(H * d_in + H * H + 2 * H)", "(H * d_in + H * H + H)")],
        "loses": ["test_count_parameters"],
        "message": "TWO bias vectors",
    },
    "count_deeper_layers_read_D": {
        "cell": "count_parameters",
        "replace": [("d_in = input_size if layer == 0 else directions * H", "d_in = input_size")],
        "loses": ["test_count_parameters"],
        "message": "layers 2 and above read",
    },
    "fused_wrong_chunk_order": {
        "cell": "fused_lstm",
        "replace": [("i, f, g, o = s.chunk(4, dim=-1)", "i, f, o, g = s.chunk(4, dim=-1)")],
        "loses": ["test_fused_lstm"],
        "message": "chunk(4) gives the blocks in the order i, f, g, o",
    },
    "fused_is_not_fused": {
        "cell": "fused_lstm",
        "replace": [("N, T, _ = x.shape\n", "return LSTM.forward(self, x, state)\n")],
        "loses": ["test_fused_lstm"],
        "message": "matrix products",
    },
    "count_builds_the_module": {
        # the instructions ask for the formula: building the module and summing numel() is the
        # shortcut that exercise 7 blocks for attention, blocked here the same way
        "cell": "count_parameters",
        "source": '''\
def count_parameters(kind, input_size, hidden_size, num_layers=1, bidirectional=False):
    module = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[kind](
        input_size, hidden_size, num_layers=num_layers, bidirectional=bidirectional)
    return sum(p.numel() for p in module.parameters())
''',
        "loses": ["test_count_parameters"],
        "message": "without building the module",
    },
}

ALTERNATIVES = {
    "sequence_backward_preallocated": {
        # a loop over range(T - 1, -1, -1), zero-initialised float64 accumulators taken from the
        # cache's params (also for float32 inputs) and dx filled in place: as correct as the stacked dx
        "cell": "lstm_backward",
        "source": '''\
def lstm_backward(da, caches):
    N, T, H = da.shape
    params = caches[0][-1]
    dx = np.zeros((N, T, params["Wx"].shape[1]))
    sums = {name: np.zeros(params[name[1:]].shape) for name in ("dWx", "dWh", "dbx", "dbh")}
    da_from_next, dc_from_next = np.zeros((N, H)), np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        step = lstm_cell_backward(da_from_next + da[:, t], dc_from_next, caches[t])
        dx[:, t] = step["dxt"]
        da_from_next, dc_from_next = step["da_prev"], step["dc_prev"]
        for name in sums:
            sums[name] += step[name]
    return dict(sums, dx=dx, da0=da_from_next, dc0=dc_from_next)
''',
    },
}
