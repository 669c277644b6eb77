"""A 1-D CNN on MNIST-1D at full size: the model class MNIST-1D was made to tell apart.

Data: the proxy tasks' own MNIST-1D generator and split (proxy_tasks/mnist1d.py, 4000
training / 1000 validation signals of length 40, the data set's standard size). Model: three
``nn.Conv1d`` layers of 32 channels (kernel 5; strides 1, 2, 2) with ReLU, then a linear
classifier (about 14k parameters), trained 1500 steps of 128 (48 epochs). The search's
``mnist1d_cnn`` proxy is a smaller, shorter, lane-batched cousin of this model.
"""

from __future__ import annotations

import torch
from torch import nn

from optsearch.compare.task import CompareTask, TaskData


class Mnist1dCnn(nn.Module):
    def __init__(self, channels: int = 32, length: int = 40, classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(1, channels, 5, padding=2), nn.ReLU(),
            nn.Conv1d(channels, channels, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv1d(channels, channels, 5, stride=2, padding=2), nn.ReLU(),
        )
        self.head = nn.Linear(channels * (length // 4), classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x.unsqueeze(1)).flatten(1))


class Mnist1dCnnTask(CompareTask):
    """MNIST-1D classification with :class:`Mnist1dCnn` (see the module docstring)."""

    name = "mnist1d_cnn_full"
    steps = 1500
    batch_size = 128
    lr = 3e-3
    target = 0.5

    def make_model(self, seed: int) -> nn.Module:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return Mnist1dCnn()

    def make_data(self) -> TaskData:
        from proxy_tasks.mnist1d import MNIST1DMLP

        d = MNIST1DMLP("small").make_data()  # the proxy's data and split, not a copy of them
        return d
