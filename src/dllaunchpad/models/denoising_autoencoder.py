"""The convolutional denoising autoencoder of chapter 31.8.4 (after the Keras blog post).

    encoder: Conv(32, 3x3, ReLU, same) -> MaxPool 2 -> Conv(32, 3x3, ReLU, same) -> MaxPool 2
             (28x28x1 -> 7x7x32)
    decoder: Conv(32, 3x3, ReLU, same) -> UpSample 2 -> Conv(32, 3x3, ReLU, same) -> UpSample 2
             -> Conv(1, 3x3, sigmoid, same)   (7x7x32 -> 28x28x1)

Keras translation:
- Conv2D(padding='same') with a 3x3 kernel and stride 1 pads 1 pixel on each side: torch
  padding='same'; Glorot-uniform kernels and zero biases (keras_conv2d).
- MaxPooling2D((2, 2), padding='same') on 28 and 14 (even sizes) equals 'valid' = nn.MaxPool2d(2).
- UpSampling2D((2, 2)) repeats rows and columns: nn.Upsample(scale_factor=2, mode='nearest').
- sigmoid + 'binary_crossentropy': Keras 3 computes this loss from the sigmoid's logits when the
  output carries them (it does here), so F.binary_cross_entropy_with_logits is the same loss.
  `forward` returns the sigmoid output (the image), `logits` what the loss uses.

Speed, same numbers (benchmarks/convolutions.py): the encoder pools before its ReLUs (max and
ReLU commute, so the output is identical on a quarter of the values; the decoder already applies
ReLU before upsampling), and weights and activations are channels-last in memory.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from dllaunchpad.models.keras_init import keras_conv2d
from dllaunchpad.models.supervised import SupervisedModule


class DenoisingAutoencoder(SupervisedModule):
    def __init__(self, optimizer: dict, filters: int = 32):
        super().__init__()
        f = filters
        self.encoder = nn.Sequential(
            keras_conv2d(1, f, 3, "same"), nn.MaxPool2d(2), nn.ReLU(),
            keras_conv2d(f, f, 3, "same"), nn.MaxPool2d(2), nn.ReLU(),
        )
        self.decoder = nn.Sequential(
            keras_conv2d(f, f, 3, "same"), nn.ReLU(), nn.Upsample(scale_factor=2, mode="nearest"),
            keras_conv2d(f, f, 3, "same"), nn.ReLU(), nn.Upsample(scale_factor=2, mode="nearest"),
            keras_conv2d(f, 1, 3, "same"),
        )
        self.optimizer_spec = dict(optimizer)
        self.to(memory_format=torch.channels_last)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x.contiguous(memory_format=torch.channels_last)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, 28, 28) noisy images in [0, 1] -> denoised images in [0, 1]."""
        return torch.sigmoid(self.logits(x))

    def _step(self, batch, stage: str) -> torch.Tensor:
        noisy, clean = batch
        loss = F.binary_cross_entropy_with_logits(self.logits(noisy), clean)
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, batch_size=len(noisy))
        return loss
