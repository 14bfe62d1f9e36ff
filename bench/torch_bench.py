"""PyTorch reference for `npm run bench`: the same models, batches and optimiser as LayerLab's training bench,
timed on the same machine in the same run. Prints one JSON array on stdout.

Usage: python3 bench/torch_bench.py '<json list of cases>'
A case: {"model": "digits-mlp" | "mlp-64-256-256-10" | "small-cnn", "batch": 32, "epochs": 3}
"""
import csv
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn

torch.set_num_threads(os.cpu_count() or 1)
torch.manual_seed(0)
HERE = os.path.dirname(os.path.abspath(__file__))


def digits():
    with open(os.path.join(HERE, '..', 'resources', 'examples', 'digits.csv')) as f:
        rows = list(csv.reader(f))[1:]
    data = np.array(rows, dtype=np.float32)
    x, y = data[:, :-1], data[:, -1].astype(np.int64)
    x = (x - x.mean(0)) / (x.std(0) + 1e-7)
    n = int(len(x) * 0.7)  # the train part of a 70/15/15 split, as LayerLab trains on
    return torch.from_numpy(x[:n]), torch.from_numpy(y[:n])


def synthetic(n, shape, classes=10):
    g = torch.Generator().manual_seed(1)
    return torch.randn((n, *shape), generator=g), torch.randint(0, classes, (n,), generator=g)


def build(name):
    if name == 'digits-mlp':
        return nn.Sequential(nn.Linear(64, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 10))
    if name == 'mlp-64-256-256-10':
        return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    # small CNN on 28x28x1: conv(16,3,same) relu, maxpool, conv(32,3,same) relu, maxpool, flatten, dense 64 relu, dense 10
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))


def data_for(name):
    if name == 'digits-mlp':
        return digits()
    if name == 'mlp-64-256-256-10':
        return synthetic(4096, (64,))
    return synthetic(2048, (1, 28, 28))


def run(case):
    x, y = data_for(case['model'])
    model = build(case['model'])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    batch, epochs = case['batch'], case.get('epochs', 3)
    times = []
    for epoch in range(epochs + 1):  # the first epoch is warm-up
        perm = torch.randperm(len(x))
        start = time.perf_counter()
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
        if epoch:
            times.append((time.perf_counter() - start) * 1000)
    ms = float(np.median(times))
    return {'model': case['model'], 'batch': batch, 'msPerEpoch': ms, 'samplesPerSec': len(x) / (ms / 1000), 'spread': [min(times), max(times)], 'torch': torch.__version__, 'threads': torch.get_num_threads()}


if __name__ == '__main__':
    cases = json.loads(sys.argv[1]) if len(sys.argv) > 1 else [{'model': 'digits-mlp', 'batch': 32}]
    print(json.dumps([run(c) for c in cases]))
