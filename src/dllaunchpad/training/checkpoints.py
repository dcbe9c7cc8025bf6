"""Loading trained weights into a module, for code that may not call the runners (families).

The training runner writes ``models/<exp>/last.ckpt`` (a Lightning checkpoint) and, when the
trainer settings keep the best epoch, ``models/<exp>/best.ckpt`` (``{"state_dict", ...}``).
Evaluation uses best.ckpt when it exists, else last.ckpt (runners/train.py,
``evaluation_checkpoint``); :func:`load_weights` makes the same choice, so a family that reads
another experiment's model (``uses:``, e.g. experiments/own_digits.py) sees the weights that
experiment's own evaluation saw. Both files are read with ``weights_only=True``: a checkpoint is
data, never code.
"""

from __future__ import annotations

from pathlib import Path

BEST, LAST = "best.ckpt", "last.ckpt"


def checkpoint_in(model_dir: Path | str) -> Path:
    """best.ckpt when the folder has one, else last.ckpt (an error naming the folder if neither)."""
    model_dir = Path(model_dir)
    for name in (BEST, LAST):
        if (model_dir / name).is_file():
            return model_dir / name
    raise FileNotFoundError(f"{model_dir}: no {BEST} or {LAST}; train that experiment first "
                            f"(`dllaunchpad train {model_dir.name}`)")


def load_weights(module, model_dir: Path | str):
    """Load the weights of ``model_dir``'s evaluation checkpoint into ``module`` (built untrained
    by the other experiment's family ``model()``), put it in eval mode and return it."""
    import torch

    state = torch.load(checkpoint_in(model_dir), map_location="cpu", weights_only=True)
    module.load_state_dict(state["state_dict"])
    module.eval()
    return module
