"""The chapter's optimizers (dllaunchpad.optim.chapter), step by step over 120 steps on a small
model, against

- torch.optim where the chapter's formula and torch's are the same formula (to 1e-6), and
- an independent NumPy / pure-Python re-implementation of the chapter's equation where they
  differ (eps inside the root, Nesterov's look-ahead gradient), and for Yogi (torch has none).

Each step takes a different mini-batch, so every optimizer sees a changing gradient.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from dllaunchpad.optim import build_optimizer, chapter
from dllaunchpad.optim.chapter import AdaDelta, AdaGrad, Adam, Momentum, Nesterov, RMSprop, SGD, Yogi

STEPS = 120
TOL = 1e-6

_gen = torch.Generator().manual_seed(1234)
X = torch.randn(64, 4, generator=_gen, dtype=torch.float64)
Y = torch.randn(64, 3, generator=_gen, dtype=torch.float64)


def small_model(dtype=torch.float32) -> nn.Module:
    # tanh: no dead units, so no gradient is exactly 0 (eps = 0 comparisons never see 0/0)
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).to(dtype)


def batch(t: int, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    rows = (torch.arange(16) + 16 * t) % 64
    return X[rows].to(dtype), Y[rows].to(dtype)


def loss_at(model: nn.Module, t: int) -> torch.Tensor:
    x, y = batch(t, next(model.parameters()).dtype)
    return nn.functional.mse_loss(model(x), y)


def train_step(model, opt, t):
    opt.zero_grad()
    loss_at(model, t).backward()
    opt.step()


def max_param_diff(a: nn.Module, b: nn.Module) -> float:
    return max((p - q).abs().max().item() for p, q in zip(a.parameters(), b.parameters()))


# --- against torch.optim, where the formulas are the same -----------------------------------

SAME_AS_TORCH = {
    "sgd": (lambda p: SGD(p, lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    # chapter m_t = beta m_{t-1} + g_t is torch's buffer with dampening 0 (its default)
    "momentum": (lambda p: Momentum(p, lr=0.05, beta=0.9), lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    "momentum_weight_decay": (lambda p: Momentum(p, lr=0.05, beta=0.9, weight_decay=0.01),
                              lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01)),
    # the held parameters are the look-ahead theta + beta m_{t-1}; then it is torch's form
    "nesterov": (lambda p: Nesterov(p, lr=0.05, beta=0.9),
                 lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
    # sqrt(eps + s_t) with s_0 = 0 == torch's sqrt(state_sum) with state_sum_0 = eps and eps = 0
    "adagrad": (lambda p: AdaGrad(p, lr=0.1, eps=1e-3),
                lambda p: torch.optim.Adagrad(p, lr=0.1, eps=0.0, initial_accumulator_value=1e-3)),
    # eps inside (chapter) vs outside (torch) the root: the same formula at eps = 0
    "rmsprop": (lambda p: RMSprop(p, lr=1e-3, beta=0.9, eps=0.0),
                lambda p: torch.optim.RMSprop(p, lr=1e-3, alpha=0.9, eps=0.0)),
    # torch's Adadelta has eps inside both roots, like the chapter; lr = 1 is the chapter's form
    "adadelta": (lambda p: AdaDelta(p, beta=0.9, eps=1e-6), lambda p: torch.optim.Adadelta(p, lr=1.0, rho=0.9, eps=1e-6)),
    "adadelta_lr": (lambda p: AdaDelta(p, lr=0.5, beta=0.95, eps=1e-7),
                    lambda p: torch.optim.Adadelta(p, lr=0.5, rho=0.95, eps=1e-7)),
    "adam": (lambda p: Adam(p, lr=1e-2, betas=(0.9, 0.999), eps=0.0),
             lambda p: torch.optim.Adam(p, lr=1e-2, betas=(0.9, 0.999), eps=0.0)),
}


@pytest.mark.parametrize("case", sorted(SAME_AS_TORCH))
def test_matches_torch_step_by_step(case):
    # float64, so that the check is about the formula: in float32 the differing order of the
    # operations alone gives up to ~7e-7 after 120 steps (Nesterov), close to the tolerance
    ours_factory, torch_factory = SAME_AS_TORCH[case]
    ours, ref = small_model(torch.float64), small_model(torch.float64)
    opt_ours, opt_ref = ours_factory(ours.parameters()), torch_factory(ref.parameters())
    start = copy.deepcopy(ours)
    for t in range(STEPS):
        train_step(ours, opt_ours, t)
        train_step(ref, opt_ref, t)
        assert max_param_diff(ours, ref) <= TOL, f"{case}: step {t + 1}"
    assert max_param_diff(ours, start) > 1e-2  # it did move


def test_eps_placement_is_a_real_difference():
    """The chapter's sqrt(eps + s^) and torch's sqrt(s^) + eps part ways once eps matters."""
    ours, ref = small_model(), small_model()
    opt_ours, opt_ref = Adam(ours.parameters(), lr=1e-2, eps=1e-4), torch.optim.Adam(ref.parameters(), lr=1e-2, eps=1e-4)
    for t in range(STEPS):
        train_step(ours, opt_ours, t)
        train_step(ref, opt_ref, t)
    assert max_param_diff(ours, ref) > 1e-4


# --- against independent re-implementations of the chapter's equations ---------------------


def numpy_params(model) -> list[np.ndarray]:
    return [p.detach().numpy().copy() for p in model.parameters()]


def gradients_at(model, values: list[np.ndarray], t: int) -> list[np.ndarray]:
    """dL/dtheta at `values` on step t's batch (autograd supplies the gradient, nothing else)."""
    with torch.no_grad():
        for p, v in zip(model.parameters(), values):
            p.copy_(torch.from_numpy(v))
    model.zero_grad()
    loss_at(model, t).backward()
    return [p.grad.numpy().copy() for p in model.parameters()]


def chapter_numpy(name: str, hp: dict, steps: int) -> list[np.ndarray]:
    """The chapter's equations in NumPy (float64), written out once more, independently."""
    helper = small_model(torch.float64)
    theta = numpy_params(helper)
    m = [np.zeros_like(w) for w in theta]
    s = [np.full_like(w, hp.get("s0", 0.0)) for w in theta]
    u = [np.zeros_like(w) for w in theta]
    lr, eps = hp.get("lr"), hp.get("eps")
    for t in range(1, steps + 1):
        g = gradients_at(helper, theta, t - 1)
        for i in range(len(theta)):
            if name == "momentum_second_form":  # m_t = beta m - lr g; theta += m_t
                m[i] = hp["beta"] * m[i] - lr * g[i]
                theta[i] = theta[i] + m[i]
            elif name == "adagrad":
                s[i] = s[i] + g[i] * g[i]
                theta[i] = theta[i] - lr * g[i] / np.sqrt(eps + s[i])
            elif name == "rmsprop":
                s[i] = hp["beta"] * s[i] + (1 - hp["beta"]) * g[i] * g[i]
                theta[i] = theta[i] - lr * g[i] / np.sqrt(eps + s[i])
            elif name == "adadelta":
                s[i] = hp["beta"] * s[i] + (1 - hp["beta"]) * g[i] * g[i]
                delta = -np.sqrt(eps + u[i]) / np.sqrt(eps + s[i]) * g[i]
                u[i] = hp["beta"] * u[i] + (1 - hp["beta"]) * delta * delta
                theta[i] = theta[i] + delta
            elif name == "adam":
                b1, b2 = hp["betas"]
                m[i] = b1 * m[i] + (1 - b1) * g[i]
                s[i] = b2 * s[i] + (1 - b2) * g[i] * g[i]
                m_hat, s_hat = m[i] / (1 - b1 ** t), s[i] / (1 - b2 ** t)
                theta[i] = theta[i] - lr * m_hat / np.sqrt(eps + s_hat)
            else:
                raise ValueError(name)
    return theta


def nesterov_literal(lr: float, beta: float, steps: int) -> list[np.ndarray]:
    """31.4.2 as printed: the gradient at theta_t + beta m_{t-1}. Returns the look-ahead point
    theta_T + beta m_T, which is what the optimizer holds (see chapter.Nesterov)."""
    helper = small_model(torch.float64)
    theta = numpy_params(helper)
    m = [np.zeros_like(w) for w in theta]
    for t in range(steps):
        g = gradients_at(helper, [w + beta * mi for w, mi in zip(theta, m)], t)
        m = [beta * mi - lr * gi for mi, gi in zip(m, g)]
        theta = [w + mi for w, mi in zip(theta, m)]
    return [w + beta * mi for w, mi in zip(theta, m)]


def yogi_scalar(lr: float, beta1: float, beta2: float, eps: float, s0: float, steps: int) -> list[list[float]]:
    """31.4.7 one scalar at a time in plain Python floats: Adam with the sign-based s_t."""
    helper = small_model(torch.float64)
    theta = [w.ravel().tolist() for w in numpy_params(helper)]
    shapes = [p.shape for p in helper.parameters()]
    m = [[0.0] * len(w) for w in theta]
    s = [[s0] * len(w) for w in theta]

    def sgn(x: float) -> float:
        return float((x > 0) - (x < 0))

    for t in range(1, steps + 1):
        g = gradients_at(helper, [np.array(w).reshape(sh) for w, sh in zip(theta, shapes)], t - 1)
        for i, gi in enumerate(g):
            for j, g_tj in enumerate(gi.ravel().tolist()):
                m[i][j] = beta1 * m[i][j] + (1 - beta1) * g_tj
                s[i][j] = s[i][j] + (1 - beta2) * (g_tj * g_tj) * sgn(g_tj * g_tj - s[i][j])
                m_hat = m[i][j] / (1 - beta1 ** t)
                s_hat = s[i][j] / (1 - beta2 ** t)
                theta[i][j] = theta[i][j] - lr * m_hat / math.sqrt(eps + s_hat)
    return theta


def run_ours(opt_factory, steps: int = STEPS) -> nn.Module:
    model = small_model(torch.float64)
    opt = opt_factory(model.parameters())
    for t in range(steps):
        train_step(model, opt, t)
    return model


def assert_close_to(model, reference: list):
    diffs = [np.abs(p.detach().numpy().ravel() - np.asarray(r).ravel()).max()
             for p, r in zip(model.parameters(), reference)]
    assert max(diffs) <= TOL, diffs


CHAPTER_CASES = {
    # eps > 0: the chapter's placement (inside the root), which torch does not implement
    "adagrad": (lambda p: AdaGrad(p, lr=0.1, eps=1e-2), {"lr": 0.1, "eps": 1e-2}),
    "rmsprop": (lambda p: RMSprop(p, lr=1e-2, beta=0.9, eps=1e-3), {"lr": 1e-2, "beta": 0.9, "eps": 1e-3}),
    "adadelta": (lambda p: AdaDelta(p, beta=0.9, eps=1e-4), {"beta": 0.9, "eps": 1e-4}),
    "adam": (lambda p: Adam(p, lr=1e-2, betas=(0.8, 0.99), eps=1e-3), {"lr": 1e-2, "betas": (0.8, 0.99), "eps": 1e-3}),
    # the chapter's alternative momentum form gives the same theta_t
    "momentum_second_form": (lambda p: Momentum(p, lr=0.05, beta=0.9), {"lr": 0.05, "beta": 0.9}),
}


@pytest.mark.parametrize("case", sorted(CHAPTER_CASES))
def test_matches_chapter_equations(case):
    factory, hp = CHAPTER_CASES[case]
    assert_close_to(run_ours(factory), chapter_numpy(case, hp, STEPS))


def test_nesterov_is_the_chapter_look_ahead():
    assert_close_to(run_ours(lambda p: Nesterov(p, lr=0.05, beta=0.9)), nesterov_literal(0.05, 0.9, STEPS))


def test_yogi_matches_scalar_reimplementation():
    ours = run_ours(lambda p: Yogi(p, lr=1e-2, betas=(0.9, 0.999), eps=1e-6, initial_accumulator_value=1e-6))
    assert_close_to(ours, yogi_scalar(1e-2, 0.9, 0.999, 1e-6, 1e-6, STEPS))


def test_yogi_defaults_and_difference_from_adam():
    opt = Yogi(nn.Linear(2, 1).parameters())
    d = opt.defaults
    assert (d["lr"], d["betas"], d["eps"], d["initial_accumulator_value"]) == (1e-2, (0.9, 0.999), 1e-6, 1e-6)
    # a gradient burst: Adam's s_t jumps by (1 - beta2)(g^2 - s); Yogi's by (1 - beta2) g^2 only
    # when g^2 > s, and it shrinks additively after; both move s towards g^2
    theta_y, theta_a = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    yogi, adam = Yogi([theta_y], initial_accumulator_value=0.0), Adam([theta_a], lr=1e-2)
    for g in (1.0, 10.0, 0.1):
        for theta, opt in ((theta_y, yogi), (theta_a, adam)):
            theta.grad = torch.tensor([g])
            opt.step()
    s_yogi, s_adam = yogi.state[theta_y]["s"].item(), adam.state[theta_a]["s"].item()
    assert s_yogi == pytest.approx(1e-3 * (1 + 100 - 0.01))
    assert s_adam == pytest.approx(((1e-3 * 0.999 + 1e-3 * 100) * 0.999) + 1e-3 * 0.01)


def test_state_survives_a_weights_only_checkpoint(tmp_path):
    """Resuming from a saved optimizer state continues exactly where it stopped."""
    straight = small_model()
    opt = Yogi(straight.parameters())
    for t in range(20):
        train_step(straight, opt, t)

    resumed = small_model()
    opt2 = Yogi(resumed.parameters())
    for t in range(10):
        train_step(resumed, opt2, t)
    torch.save({"model": resumed.state_dict(), "opt": opt2.state_dict()}, tmp_path / "ckpt.pt")
    state = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    again = small_model()
    again.load_state_dict(state["model"])
    opt3 = Yogi(again.parameters())
    opt3.load_state_dict(state["opt"])
    for t in range(10, 20):
        train_step(again, opt3, t)
    assert max_param_diff(straight, again) == 0.0


# --- build_optimizer: names and settings from params.yaml -----------------------------------


def test_default_impl_is_torch_unchanged():
    params = list(nn.Linear(2, 1).parameters())
    rms = build_optimizer(params, {"name": "rmsprop", "lr": 1e-3, "rho": 0.9, "eps": 1e-7})
    assert type(rms) is torch.optim.RMSprop and rms.defaults["alpha"] == 0.9 and rms.defaults["eps"] == 1e-7
    nest = build_optimizer(params, {"name": "nesterov", "lr": 0.1})
    assert type(nest) is torch.optim.SGD and nest.defaults["nesterov"] and nest.defaults["momentum"] == 0.9
    assert type(build_optimizer(params, {"name": "adam", "lr": 1e-3, "betas": [0.9, 0.99]})) is torch.optim.Adam


def test_chapter_impl_maps_the_settings():
    params = list(nn.Linear(2, 1).parameters())
    rms = build_optimizer(params, {"name": "rmsprop", "lr": 1e-3, "rho": 0.95, "eps": 1e-7, "impl": "chapter"})
    assert type(rms) is RMSprop and rms.defaults["beta"] == 0.95 and rms.defaults["eps"] == 1e-7
    sgd_m = build_optimizer(params, {"name": "sgd", "lr": 0.1, "momentum": 0.5, "impl": "chapter"})
    assert type(sgd_m) is Momentum and sgd_m.defaults["beta"] == 0.5
    sgd_n = build_optimizer(params, {"name": "sgd", "lr": 0.1, "momentum": 0.5, "nesterov": True, "impl": "chapter"})
    assert type(sgd_n) is Nesterov
    assert type(build_optimizer(params, {"name": "sgd", "lr": 0.1, "momentum": 0.0, "impl": "chapter"})) is SGD
    adam = build_optimizer(params, {"name": "adam", "lr": 1e-3, "betas": [0.8, 0.9], "impl": "chapter"})
    assert type(adam) is Adam and adam.defaults["betas"] == (0.8, 0.9)
    ada = build_optimizer(params, {"name": "adagrad", "lr": 0.1, "initial_accumulator_value": 0.1, "impl": "chapter"})
    assert type(ada) is AdaGrad and ada.defaults["initial_accumulator_value"] == 0.1
    assert set(chapter.CHAPTER_OPTIMIZERS) == {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta",
                                               "adam", "yogi"}


def test_yogi_needs_no_impl():
    assert type(build_optimizer(nn.Linear(2, 1).parameters(), {"name": "yogi", "lr": 1e-2})) is Yogi


@pytest.mark.parametrize("spec, message", [
    ({"name": "adam", "lr": 1e-3, "rho": 0.9, "impl": "chapter"}, "rho"),
    ({"name": "yogi", "lr": 1e-2, "impl": "torch"}, "impl: chapter"),
    ({"name": "lbfgs", "lr": 1.0}, "lbfgs"),
    ({"name": "adam", "lr": 1e-3, "impl": "keras"}, "impl"),
    ({"name": "sgd", "lr": 0.1, "nesterov": True, "impl": "chapter"}, "momentum"),
])
def test_bad_specs_name_the_problem(spec, message):
    with pytest.raises(ValueError, match=message):
        build_optimizer(nn.Linear(2, 1).parameters(), spec)


def test_negative_setting_is_rejected():
    with pytest.raises(ValueError, match="eps"):
        RMSprop(nn.Linear(2, 1).parameters(), lr=0.1, eps=-1.0)
