"""A synthetic language whose entropy rate is known exactly (chapter 2, "How good can it get?").

The language is produced by a *unifilar* stochastic finite-state source: in each state the
source emits one token with a fixed probability and moves to a next state that the state
and the token determine. Because the token fixes the next state, a reader who has seen the
whole past knows the current state, and the best possible next-token distribution is the
state's emission distribution. The entropy rate of the source is therefore exactly

    H = sum_s pi(s) * H(emissions of s)          (nats per token)

with pi the stationary distribution of the state chain. No model can beat a perplexity of
``exp(H)`` on long text from the source; chapter 2 trains an RNN and compares.

``TOY_ENGLISH`` is a tiny grammar in the spirit of the seed's "The cat, which already ate
apple, yogurt, banana, ..., was full": the verb after the list must agree with the noun
before it, so a good model has to remember the noun's number across the list.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

EOS = "<EOS>"


@dataclass(frozen=True)
class Edge:
    """From some state, emit ``token`` with probability ``prob`` and go to state ``next``."""

    token: str
    prob: float
    next: str


class FiniteStateSource:
    """A unifilar stochastic finite-state source of tokens.

    ``edges`` maps each state name to its outgoing ``(token, prob, next_state)`` triples;
    within a state the tokens must be distinct (that is what *unifilar* means) and the
    probabilities must sum to 1. ``start`` is the state in which every sample begins.
    Token index 0 is always ``<EOS>`` (when the source emits it); the others follow sorted.
    """

    def __init__(self, edges: dict[str, list[tuple[str, float, str]]], start: str):
        self.states: list[str] = list(edges)
        self.start = start
        self.edges: dict[str, list[Edge]] = {s: [Edge(*e) for e in es] for s, es in edges.items()}
        if start not in self.edges:
            raise ValueError(f"start state {start!r} has no edges")
        for s, es in self.edges.items():
            tokens = [e.token for e in es]
            if len(set(tokens)) != len(tokens):
                raise ValueError(f"state {s!r} emits a token twice: the source must be unifilar")
            if not math.isclose(sum(e.prob for e in es), 1.0, abs_tol=1e-12):
                raise ValueError(f"probabilities out of state {s!r} sum to {sum(e.prob for e in es)}")
            for e in es:
                if e.prob <= 0:
                    raise ValueError(f"edge {s!r} --{e.token}--> has probability {e.prob} <= 0")
                if e.next not in self.edges:
                    raise ValueError(f"edge {s!r} --{e.token}--> leads to unknown state {e.next!r}")
        tokens = sorted({e.token for es in self.edges.values() for e in es} - {EOS})
        has_eos = any(e.token == EOS for es in self.edges.values() for e in es)
        self.vocab: list[str] = ([EOS] if has_eos else []) + tokens
        self.index = {w: i for i, w in enumerate(self.vocab)}
        self._s = {s: i for i, s in enumerate(self.states)}

    # --- exact quantities -------------------------------------------------------------
    def transition_matrix(self) -> np.ndarray:
        """(S, S) matrix P[i, j] = probability of moving from state i to state j."""
        P = np.zeros((len(self.states), len(self.states)))
        for s, es in self.edges.items():
            for e in es:
                P[self._s[s], self._s[e.next]] += e.prob
        return P

    def stationary(self) -> np.ndarray:
        """Stationary distribution pi of the state chain: pi P = pi, sum(pi) = 1.

        Solved as a linear system (one balance equation replaced by the normalisation),
        which is exact up to floating point for an irreducible chain.
        """
        P = self.transition_matrix()
        S = len(P)
        A = P.T - np.eye(S)
        A[-1, :] = 1.0
        b = np.zeros(S)
        b[-1] = 1.0
        pi = np.linalg.solve(A, b)
        return pi

    def emission_matrix(self) -> np.ndarray:
        """(S, V) matrix E[s, w] = probability that state s emits token w."""
        E = np.zeros((len(self.states), len(self.vocab)))
        for s, es in self.edges.items():
            for e in es:
                E[self._s[s], self.index[e.token]] = e.prob
        return E

    def state_entropies(self) -> np.ndarray:
        """(S,) entropy in nats of each state's emission distribution."""
        return np.array([max(0.0, -sum(e.prob * math.log(e.prob) for e in self.edges[s]))
                         for s in self.states])

    def entropy_rate(self) -> float:
        """Exact entropy rate in nats per token: sum_s pi(s) H(s)."""
        return float(self.stationary() @ self.state_entropies())

    def perplexity_bound(self) -> float:
        """exp(entropy rate): the lowest perplexity any model can reach on long samples."""
        return math.exp(self.entropy_rate())

    def unigram_entropy(self) -> float:
        """Entropy (nats) of the stationary token frequencies: what a model ignoring context pays."""
        p = self.stationary() @ self.emission_matrix()
        p = p[p > 0]
        return float(-(p * np.log(p)).sum())

    # --- samples --------------------------------------------------------------------------
    def sample(self, n_tokens: int, seed: int = 0) -> np.ndarray:
        """(n_tokens,) int64 token indices of one stream that begins in the start state."""
        rng = np.random.default_rng(seed)
        out = np.empty(n_tokens, dtype=np.int64)
        state = self.start
        tables = {s: (np.array([self.index[e.token] for e in es]),
                      np.cumsum([e.prob for e in es]), [e.next for e in es])
                  for s, es in self.edges.items()}
        u = rng.random(n_tokens)
        for t in range(n_tokens):
            ids, cum, nxt = tables[state]
            k = min(int(np.searchsorted(cum, u[t], side="right")), len(ids) - 1)
            out[t] = ids[k]
            state = nxt[k]
        return out

    def token_log_probs(self, ids) -> np.ndarray:
        """(len(ids),) log-probability of each token of a stream that begins in the start state.

        This is the best any model can do on that stream, token by token; ``-inf`` from the
        first token the source cannot emit (and for every token after it).
        """
        out = np.full(len(ids), -math.inf)
        state = self.start
        for t, i in enumerate(np.asarray(ids).tolist()):
            w = self.vocab[i]
            edge = next((e for e in self.edges[state] if e.token == w), None)
            if edge is None:
                break
            out[t] = math.log(edge.prob)
            state = edge.next
        return out

    def log_prob(self, ids) -> float:
        """Natural log-probability of a stream of token indices that begins in the start state."""
        return float(self.token_log_probs(ids).sum())

    def decode(self, ids) -> str:
        """Token indices as text, one sentence per line."""
        return " ".join(self.vocab[i] for i in np.asarray(ids).tolist()).replace(f"{EOS} ", f"{EOS}\n")


def _list_states(number: str, verb: str) -> dict:
    foods = ["apple", "yogurt", "banana", "bread"]
    return {
        f"REL_{number}": [("ate", 1.0, f"LIST_{number}")],
        f"LIST_{number}": [(f, 0.25, f"MORE_{number}") for f in foods],
        f"MORE_{number}": [(",", 0.55, f"LIST_{number}"), (verb, 0.45, "FULL")],
    }


TOY_ENGLISH = FiniteStateSource(
    {
        "START": [("the", 0.7, "DET"), ("a", 0.3, "DET_SG")],
        "DET": [("cat", 0.3, "SG"), ("dog", 0.2, "SG"), ("cats", 0.3, "PL"), ("dogs", 0.2, "PL")],
        "DET_SG": [("cat", 0.6, "SG"), ("dog", 0.4, "SG")],
        "SG": [("sleeps", 0.3, "END"), ("eats", 0.3, "OBJ"), ("which", 0.4, "REL_SG")],
        "PL": [("sleep", 0.3, "END"), ("eat", 0.3, "OBJ"), ("which", 0.4, "REL_PL")],
        **_list_states("SG", "was"),
        **_list_states("PL", "were"),
        "FULL": [("full", 1.0, "END")],
        "OBJ": [("apple", 0.25, "END"), ("yogurt", 0.25, "END"), ("banana", 0.25, "END"),
                ("bread", 0.25, "END")],
        "END": [(".", 1.0, "STOP")],
        "STOP": [(EOS, 1.0, "START")],
    },
    start="START",
)
"""The course's toy English: sentences such as "the cats which ate apple , bread were full . <EOS>"."""
