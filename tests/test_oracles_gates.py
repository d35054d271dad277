"""Sanity of the GRU/LSTM oracles, the agreement task and the chapter 4-5 experiment helpers."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from autograder.oracles import gru as ogru  # noqa: E402
from autograder.oracles import lstm as olstm  # noqa: E402
from rnncourse.experiments import gates  # noqa: E402


def _t(a):
    return torch.as_tensor(a, dtype=torch.float64)


def test_gru_oracle_reproduces_grucell_on_itself():
    torch.manual_seed(0)
    cell = nn.GRUCell(3, 5).double()
    x, h = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64)
    params = ogru.params_of(cell)
    assert params["Wx"].shape == (15, 3) and params["Wh"].shape == (15, 5)
    with torch.no_grad():
        expected = cell(x, h).numpy()
    np.testing.assert_allclose(ogru.torch_gru_cell_reference(x.numpy(), h.numpy(), params), expected,
                               rtol=0, atol=1e-15)


def test_gru_oracle_sequence_equals_stepping_the_cell():
    params = ogru.random_gru_params(D=3, H=4, seed=1)
    rng = np.random.default_rng(2)
    x, a0 = rng.standard_normal((2, 6, 3)), rng.standard_normal((2, 4))
    seq = ogru.torch_gru_reference(x, a0, params)
    a, steps = a0, []
    for t in range(6):
        a = ogru.torch_gru_cell_reference(x[:, t], a, params)
        steps.append(a)
    np.testing.assert_allclose(seq, np.stack(steps, axis=1), atol=1e-12)


def test_gru_oracle_copies_into_nn_gru_and_back():
    params = ogru.random_gru_params(D=2, H=3, seed=3)
    gru = ogru.torch_gru(params)
    back = ogru.params_of(gru, suffix="_l0")
    for k in params:
        np.testing.assert_array_equal(back[k], params[k])


def test_gru_oracle_matches_the_documented_equations():
    """The oracle module's docstring: PyTorch's order r, z, n and the reset gate after W_hn h."""
    params = ogru.random_gru_params(D=3, H=2, seed=4)
    rng = np.random.default_rng(5)
    x, h = rng.standard_normal((3, 3)), rng.standard_normal((3, 2))
    H = 2
    gx = x @ params["Wx"].T + params["bx"]
    gh = h @ params["Wh"].T + params["bh"]
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    r, z = sig(gx[:, :H] + gh[:, :H]), sig(gx[:, H:2 * H] + gh[:, H:2 * H])
    n = np.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
    np.testing.assert_allclose(ogru.torch_gru_cell_reference(x, h, params), (1 - z) * n + z * h, atol=1e-12)


def test_lstm_oracle_reproduces_lstmcell_on_itself():
    torch.manual_seed(6)
    cell = nn.LSTMCell(4, 3).double()
    x = torch.randn(2, 4, dtype=torch.float64)
    h, c = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 3, dtype=torch.float64)
    with torch.no_grad():
        h_ref, c_ref = cell(x, (h, c))
    a, c_next = olstm.torch_lstm_cell_reference(x.numpy(), h.numpy(), c.numpy(), olstm.params_of(cell))
    np.testing.assert_allclose(a, h_ref.numpy(), atol=1e-15)
    np.testing.assert_allclose(c_next, c_ref.numpy(), atol=1e-15)


def test_lstm_oracle_cell_states_agree_with_nn_lstm():
    params = olstm.random_lstm_params(D=3, H=4, seed=7)
    rng = np.random.default_rng(8)
    x, a0, c0 = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    a, c = olstm.torch_lstm_reference(x, a0, c0, params)
    with torch.no_grad():
        _, (h_n, c_n) = olstm.torch_lstm(params)(_t(x), (_t(a0)[None], _t(c0)[None]))
    np.testing.assert_allclose(a[:, -1], h_n[0].numpy(), atol=1e-12)
    np.testing.assert_allclose(c[:, -1], c_n[0].numpy(), atol=1e-12)


@pytest.mark.parametrize("kind,module", [("rnn", nn.RNN), ("gru", nn.GRU), ("lstm", nn.LSTM)])
def test_parameter_formula(kind, module):
    assert gates.recurrent_parameters(kind, 16, 32) == sum(p.numel() for p in module(16, 32).parameters())


def test_keep_bias_opens_the_memory_path():
    torch.manual_seed(0)
    gru = gates.AgreementModel("gru", keep_bias=3.0)
    H = gru.rnn.hidden_size
    z_bias = gru.rnn.bias_ih_l0[H:2 * H] + gru.rnn.bias_hh_l0[H:2 * H]
    assert torch.allclose(z_bias, torch.full((H,), 3.0))
    lstm = gates.AgreementModel("lstm", keep_bias=3.0)
    b = lstm.rnn.bias_ih_l0 + lstm.rnn.bias_hh_l0
    assert torch.allclose(b[:H], torch.full((H,), -3.0)) and torch.allclose(b[H:2 * H], torch.full((H,), 3.0))
    # at initialisation the keep-biased GRU passes far more gradient back over 32 words
    torch.manual_seed(0)
    default = gates.state_gradient_norms(gates.AgreementModel("gru"), 32, n=32)
    kept = gates.state_gradient_norms(gru, 32, n=32)
    assert default.shape == (34,) and kept[1] / kept[-1] > 1e3 * default[1] / default[-1]


def test_agreement_model_contract_and_cells():
    for kind in gates.KINDS:
        m = gates.AgreementModel(kind)
        x, y = gates.agreement_data(5, 3, seed=0)
        logits, loss = m(x, y)
        assert logits.shape == (5, 2) and loss.dim() == 0
        assert m(x)[1] is None
        assert isinstance(gates.as_cell(m), (nn.RNNCell, nn.GRUCell, nn.LSTMCell))
    assert gates.state_gradient_norms(gates.AgreementModel("lstm"), 4, n=8, wrt="c").shape == (6,)


def test_cell_diagrams_draw():
    import matplotlib.pyplot as plt

    from rnncourse.gate_diagrams import draw_gru_cell, draw_lstm_cell

    for draw in (draw_gru_cell, draw_lstm_cell):
        ax = draw()
        assert len(ax.patches) > 10
        plt.close(ax.figure)


class _Stacked(nn.Module):
    """``layers[l][d]``: one-direction, one-layer modules, the layout ``ogru.copy_stacked`` fills."""

    def __init__(self, D, H, L, bidirectional):
        super().__init__()
        n = 2 if bidirectional else 1
        self.layers = nn.ModuleList(nn.ModuleList(nn.GRUCell(D if i == 0 else n * H, H) for _ in range(n))
                                    for i in range(L))


@pytest.mark.parametrize(("L", "bidirectional"), [(2, True), (3, False)])
def test_copy_stacked_fills_every_layer_and_direction(L, bidirectional):
    torch.manual_seed(0)
    ref = nn.GRU(3, 4, num_layers=L, bidirectional=bidirectional, batch_first=True).double()
    deep = ogru.copy_stacked(_Stacked(3, 4, L, bidirectional).double(), ref)
    for name, value in ref.named_parameters():  # weight_ih_l1_reverse -> layers[1][1].weight_ih
        stem, rest = name.split("_l")
        layer, _, reverse = rest.partition("_")
        assert torch.equal(getattr(deep.layers[int(layer)][1 if reverse else 0], stem), value), name


def test_torch_gru_layer_is_one_layer_of_the_stack():
    torch.manual_seed(1)
    ref = nn.GRU(3, 4, num_layers=2, bidirectional=True, batch_first=True).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    h0 = torch.randn(4, 2, 4, dtype=torch.float64)
    with torch.no_grad():
        out0, h0_n = ogru.torch_gru_layer(ref, 0)(x, h0[:2])
        out1, h1_n = ogru.torch_gru_layer(ref, 1)(out0, h0[2:])
        out, h_n = ref(x, h0)
    torch.testing.assert_close(out1, out, rtol=0, atol=1e-12)
    torch.testing.assert_close(torch.cat([h0_n, h1_n]), h_n, rtol=0, atol=1e-12)
