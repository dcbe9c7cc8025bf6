"""A fully connected MNIST classifier whose every ingredient is a setting: hidden widths, the
activation (models/activations.py), the initialisation scheme (models/initialization.py),
dropout, a norm penalty on the objective (dllaunchpad.regularization) and the optimizer
(dllaunchpad.optim). The studies of chapter 31.2.2-31.4 vary one ingredient at a time.

Logged per epoch: train_loss (cross-entropy, the data term J), train_objective (J~ = J +
penalty, when there is a penalty), train_accuracy, val_loss, val_accuracy. `training_step`
returns the objective, so that is what the optimizer minimises.

The network ends in logits (softmax inside the cross-entropy), as Keras' softmax output with
categorical cross-entropy computes the same loss.
"""

from __future__ import annotations

import torch
from torch import nn

from dllaunchpad.optim import build_optimizer
from dllaunchpad.models.regularization import kernel_weights, penalty
from dllaunchpad.models.activations import make_activation
from dllaunchpad.models.initialization import initialize_module
from dllaunchpad.models.dropout import Dropout
from dllaunchpad.models.epoch_logging import EpochLoggingModule


class ConfigurableMLP(EpochLoggingModule):
    def __init__(self, hidden: list[int], optimizer: dict, activation: str = "relu",
                 init: str = "glorot_uniform", init_std: float | None = None, dropout: float = 0.0,
                 penalty_spec: dict | None = None, in_features: int = 784, n_classes: int = 10):
        super().__init__()
        if not hidden:
            raise ValueError("ConfigurableMLP needs at least one hidden layer")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout: a rate in [0, 1), got {dropout}")
        self.optimizer_spec = optimizer
        self.penalty_spec = penalty_spec
        widths = [in_features, *hidden]
        self.hidden_layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.activations = nn.ModuleList(make_activation(activation) for _ in hidden)
        # Keras' Dropout zeroes a fraction of the *activations* (scaling the rest by 1/(1-p))
        # during training; the chapter's prose says weights, its code uses this layer.
        self.dropout = Dropout(dropout) if dropout > 0 else nn.Identity()
        self.output = nn.Linear(widths[-1], n_classes)
        initialize_module(self, init, init_std)

    def layer_outputs(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor]:
        """(pre-activations z_l, activations a_l per hidden layer, logits)."""
        h = x.flatten(1)
        zs, acts = [], []
        for layer, act in zip(self.hidden_layers, self.activations):
            z = layer(h)
            h = act(z)
            zs.append(z)
            acts.append(h)
            h = self.dropout(h)
        return zs, acts, self.output(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer_outputs(x)[2]

    def _loss_and_accuracy(self, batch):
        x, y = batch
        logits = self(x)
        loss = nn.functional.cross_entropy(logits, y)
        return loss, (logits.argmax(1) == y).float().mean()

    def training_step(self, batch, batch_idx):
        loss, acc = self._loss_and_accuracy(batch)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        self.log("train_accuracy", acc, on_step=False, on_epoch=True)
        if self.penalty_spec:
            objective = loss + penalty(kernel_weights(self), self.penalty_spec)
            self.log("train_objective", objective, on_step=False, on_epoch=True)
            return objective
        return loss

    def validation_step(self, batch, batch_idx):
        loss, acc = self._loss_and_accuracy(batch)
        self.log("val_loss", loss, on_step=False, on_epoch=True)
        self.log("val_accuracy", acc, on_step=False, on_epoch=True)

    def configure_optimizers(self):
        return build_optimizer(self.parameters(), self.optimizer_spec)


@torch.no_grad()
def evaluate_split(model: ConfigurableMLP, x: torch.Tensor, y: torch.Tensor, batch_size: int = 2000) -> dict:
    """Mean cross-entropy and accuracy of `model` (in eval mode) on (x, y)."""
    was_training = model.training
    model.eval()
    loss_sum, correct = 0.0, 0
    for i in range(0, len(x), batch_size):
        logits = model(x[i:i + batch_size])
        loss_sum += nn.functional.cross_entropy(logits, y[i:i + batch_size], reduction="sum").item()
        correct += int((logits.argmax(1) == y[i:i + batch_size]).sum())
    model.train(was_training)
    return {"loss": loss_sum / len(x), "accuracy": correct / len(x)}
