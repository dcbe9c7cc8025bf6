"""The chapter's optimizers (section 31.4), written from its update equations.

Each class is a `torch.optim.Optimizer` whose `update` is the chapter's equations for one
parameter tensor, with the chapter's names: g_t the gradient, m_t the momentum / first moment,
s_t the squared-gradient accumulator, u_t AdaDelta's update accumulator, beta the decay, eps the
small constant and lr the learning rate eta. theta is the parameter tensor, updated in place.

Where the chapter and torch.optim differ (tests/test_optim.py checks both claims):

- eps placement. The chapter writes 1 / sqrt(eps + s_t) (eps *inside* the root) for AdaGrad,
  RMSprop, AdaDelta, Adam and Yogi; torch's Adagrad, RMSprop and Adam use 1 / (sqrt(s_t) + eps).
  With eps = 0 the formulas agree. AdaGrad's sqrt(eps + s_t) with s_0 = 0 also equals torch's
  Adagrad with initial_accumulator_value = eps and eps = 0. Torch's Adadelta puts eps inside,
  like the chapter.
- Momentum: m_t = beta m_{t-1} + g_t, theta -= lr m_t is torch's SGD(momentum=beta) with
  dampening 0 (torch's default) -- the same formula.
- Nesterov: the chapter evaluates the gradient at the look-ahead point theta_t + beta m_{t-1}.
  A step sees only the gradient at the parameters it holds, so (as is standard, Sutskever et
  al. 2013) the parameters held are the look-ahead point phi_t = theta_t + beta m_{t-1}. The
  chapter's equations then become m_t = beta m_{t-1} - lr g_t; phi_{t+1} = phi_t + beta m_t -
  lr g_t, which is exactly torch's SGD(nesterov=True) with m_t = -lr * (torch's buffer). The
  model therefore ends on phi_T, the look-ahead of the chapter's theta_T.
- AdaDelta has no learning rate in the chapter. We apply theta += lr * Delta theta_t with
  lr = 1 by default (the chapter's form) and accumulate u_t from the unscaled Delta theta_t, as
  torch and Keras do, so lr != 1 matches them too.
- `weight_decay` adds weight_decay * theta to g_t before the update (torch's coupled L2); the
  chapter's penalties on the objective are in dllaunchpad.regularization.

Defaults where the chapter is silent are torch's numbers (eps placed as the chapter places it),
except RMSprop's beta = 0.9 ("a common value for beta is 0.9", 31.4.4) and Yogi's (see Yogi).
"""

from __future__ import annotations

import torch


class ChapterOptimizer(torch.optim.Optimizer):
    """The shared plumbing: closure, coupled weight decay, per-parameter state with the step
    count t. Subclasses set `accumulators` (state tensors started at s_0-style constants) and
    write the chapter's update for one tensor in `update`."""

    #: state name -> name of the group setting holding its start value (None: zeros)
    accumulators: dict[str, str | None] = {}

    def __init__(self, params, defaults: dict):
        for key, value in defaults.items():
            if isinstance(value, float) and value < 0:
                raise ValueError(f"{type(self).__name__}: {key} must be >= 0, got {value}")
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for theta in group["params"]:
                if theta.grad is None:
                    continue
                if theta.grad.is_sparse:
                    raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
                g_t = theta.grad
                if group["weight_decay"]:
                    g_t = g_t.add(theta, alpha=group["weight_decay"])
                state = self.state[theta]
                if not state:
                    state["t"] = 0
                    for name, start in self.accumulators.items():
                        value = group[start] if start else 0.0
                        state[name] = torch.full_like(theta, value, memory_format=torch.preserve_format)
                state["t"] += 1
                self.update(theta, g_t, state, group)
        return loss

    def update(self, theta: torch.Tensor, g_t: torch.Tensor, state: dict, group: dict) -> None:
        raise NotImplementedError


class SGD(ChapterOptimizer):
    """Plain SGD: theta_{t+1} = theta_t - lr g_t."""

    def __init__(self, params, lr: float, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay))

    def update(self, theta, g_t, state, group):
        theta.add_(g_t, alpha=-group["lr"])


class Momentum(ChapterOptimizer):
    """31.4.1: m_t = beta m_{t-1} + g_t; theta_{t+1} = theta_t - lr m_t (m_0 = 0).

    The chapter's second form (m_t = beta m_{t-1} - lr g_t; theta_{t+1} = theta_t + m_t) is the
    same sequence of theta_t scaled by -lr in m_t; we keep the first."""

    accumulators = {"m": None}

    def __init__(self, params, lr: float, beta: float = 0.9, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, beta=beta, weight_decay=weight_decay))

    def update(self, theta, g_t, state, group):
        m_t = state["m"]
        m_t.mul_(group["beta"]).add_(g_t)
        theta.add_(m_t, alpha=-group["lr"])


class Nesterov(ChapterOptimizer):
    """31.4.2: g_t = grad L(theta_t + beta m_{t-1}); m_t = beta m_{t-1} - lr g_t;
    theta_{t+1} = theta_t + m_t.

    The parameters held are the look-ahead phi_t = theta_t + beta m_{t-1} (see the module
    docstring), so g_t is the gradient the step receives, and
    phi_{t+1} = theta_{t+1} + beta m_t = phi_t + beta m_t - lr g_t."""

    accumulators = {"m": None}

    def __init__(self, params, lr: float, beta: float = 0.9, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, beta=beta, weight_decay=weight_decay))

    def update(self, phi, g_t, state, group):
        beta, lr = group["beta"], group["lr"]
        m_t = state["m"]
        m_t.mul_(beta).add_(g_t, alpha=-lr)
        phi.add_(m_t, alpha=beta).add_(g_t, alpha=-lr)


class AdaGrad(ChapterOptimizer):
    """31.4.3: s_t = s_{t-1} + g_t (.) g_t; theta_{t+1} = theta_t - lr g_t / sqrt(eps + s_t).

    s_0 = 0 in the chapter; `initial_accumulator_value` (torch's name) sets another s_0."""

    accumulators = {"s": "initial_accumulator_value"}

    def __init__(self, params, lr: float = 1e-2, eps: float = 1e-10, initial_accumulator_value: float = 0.0,
                 weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, eps=eps, initial_accumulator_value=initial_accumulator_value,
                                      weight_decay=weight_decay))

    def update(self, theta, g_t, state, group):
        s_t = state["s"]
        s_t.addcmul_(g_t, g_t)
        theta.addcdiv_(g_t, (s_t + group["eps"]).sqrt_(), value=-group["lr"])


class RMSprop(ChapterOptimizer):
    """31.4.4: s_t = beta s_{t-1} + (1 - beta) g_t (.) g_t;
    Delta theta_t = -lr g_t / sqrt(eps + s_t); theta_{t+1} = theta_t + Delta theta_t."""

    accumulators = {"s": None}

    def __init__(self, params, lr: float = 1e-2, beta: float = 0.9, eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, beta=beta, eps=eps, weight_decay=weight_decay))

    def update(self, theta, g_t, state, group):
        beta = group["beta"]
        s_t = state["s"]
        s_t.mul_(beta).addcmul_(g_t, g_t, value=1 - beta)
        theta.addcdiv_(g_t, (s_t + group["eps"]).sqrt_(), value=-group["lr"])


class AdaDelta(ChapterOptimizer):
    """31.4.5: s_t = beta s_{t-1} + (1 - beta) g_t (.) g_t;
    Delta theta_t = -sqrt(eps + u_{t-1}) / sqrt(eps + s_t) (.) g_t;
    u_t = beta u_{t-1} + (1 - beta) Delta theta_t (.) Delta theta_t;
    theta_{t+1} = theta_t + lr Delta theta_t  (lr = 1: the chapter; see the module docstring)."""

    accumulators = {"s": None, "u": None}

    def __init__(self, params, lr: float = 1.0, beta: float = 0.9, eps: float = 1e-6, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, beta=beta, eps=eps, weight_decay=weight_decay))

    def update(self, theta, g_t, state, group):
        beta, eps = group["beta"], group["eps"]
        s_t, u_t = state["s"], state["u"]
        s_t.mul_(beta).addcmul_(g_t, g_t, value=1 - beta)
        delta_theta = (u_t + eps).sqrt_().div_((s_t + eps).sqrt_()).mul_(g_t).neg_()
        u_t.mul_(beta).addcmul_(delta_theta, delta_theta, value=1 - beta)
        theta.add_(delta_theta, alpha=group["lr"])


class Adam(ChapterOptimizer):
    """31.4.6: m_t = beta1 m_{t-1} + (1 - beta1) g_t; s_t = beta2 s_{t-1} + (1 - beta2) g_t (.) g_t;
    m^_t = m_t / (1 - beta1^t); s^_t = s_t / (1 - beta2^t);
    Delta theta_t = -lr m^_t / sqrt(eps + s^_t); theta_{t+1} = theta_t + Delta theta_t."""

    accumulators = {"m": None, "s": None}

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    def second_moment(self, s_t, g_t, beta2, state, group) -> None:
        s_t.mul_(beta2).addcmul_(g_t, g_t, value=1 - beta2)

    def update(self, theta, g_t, state, group):
        (beta1, beta2), t = group["betas"], state["t"]
        m_t, s_t = state["m"], state["s"]
        m_t.mul_(beta1).add_(g_t, alpha=1 - beta1)
        self.second_moment(s_t, g_t, beta2, state, group)
        m_hat = m_t / (1 - beta1 ** t)
        s_hat = s_t / (1 - beta2 ** t)
        theta.addcdiv_(m_hat, s_hat.add_(group["eps"]).sqrt_(), value=-group["lr"])


class Yogi(Adam):
    """31.4.7: Adam with s_t = s_{t-1} + (1 - beta2) (g_t (.) g_t) (.) sgn(g_t (.) g_t - s_{t-1}).

    Adam's s_t moves (1 - beta2)(g^2 - s_{t-1}) towards g^2, so a burst of large gradients can
    grow s_t (and shrink the step) multiplicatively; Yogi's change is additive, at most
    (1 - beta2) g^2 either way (Zaheer et al., "Adaptive Methods for Nonconvex Optimization",
    NeurIPS 2018). As the chapter says, everything else is Adam's, bias correction included.

    Defaults, from the Yogi paper's experiments (sec. 4: lr 1e-2, beta1 0.9, beta2 0.999,
    eps 1e-3) and its reference implementations (TF Addons / TF Federated Yogi:
    initial_accumulator_value 1e-6, i.e. s_0 = 1e-6 rather than 0):
    - lr = 1e-2, betas = (0.9, 0.999), initial_accumulator_value = 1e-6;
    - eps = 1e-6: the paper's eps = 1e-3 sits *outside* the root (sqrt(s) + eps); the chapter
      puts eps inside (sqrt(eps + s)), where eps_inside = eps_paper^2 = 1e-6 puts the same floor
      under the denominator.
    """

    accumulators = {"m": None, "s": "initial_accumulator_value"}

    def __init__(self, params, lr: float = 1e-2, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-6,
                 initial_accumulator_value: float = 1e-6, weight_decay: float = 0.0):
        ChapterOptimizer.__init__(self, params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                                     initial_accumulator_value=initial_accumulator_value,
                                                     weight_decay=weight_decay))

    def second_moment(self, s_t, g_t, beta2, state, group) -> None:
        g2 = g_t * g_t
        s_t.addcmul_(g2, torch.sign(g2 - s_t), value=1 - beta2)


#: params.yaml name -> chapter class
CHAPTER_OPTIMIZERS = {
    "sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adagrad": AdaGrad,
    "rmsprop": RMSprop, "adadelta": AdaDelta, "adam": Adam, "yogi": Yogi,
}

__all__ = ["ChapterOptimizer", "CHAPTER_OPTIMIZERS", *[c.__name__ for c in CHAPTER_OPTIMIZERS.values()]]
