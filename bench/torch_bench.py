"""PyTorch reference for `npm run bench`: the same models, batches and optimiser as LayerLab's training bench
(adam, lr 1e-3, L2 5e-4 added to the gradient as LayerLab's default blocks do), timed on the same machine in the
same run. With "validation": rows, every timed epoch also scores that many held-out rows (no gradient, eval mode,
loss and accuracy, one pass) and keeps a copy of the weights when the validation loss improves, as LayerLab's epochs
do (its ms/epoch counts scoring the validation part and keeping the best weights). Data: the digits CSV's first 1,259 rows standardised (the size of LayerLab's train part), its 61
non-constant pixels (LayerLab's import leaves the 3 constant ones out), and synthetic
rows of the same shapes as LayerLab's synthetic sets; timings do not depend on the values.

Usage:
  python3 bench/torch_bench.py '<json list of cases>'    prints one JSON array
  python3 bench/torch_bench.py --serve                   one JSON case per stdin line, one JSON result per line
A case: {"model": "digits-mlp" | "mlp-64-256-256-10" | "small-cnn" | "cnn-medium", "batch": 32, "epochs": 1, "rows": 1024,
         "validation": 256}
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
DIGITS_TRAIN_ROWS = 1259
DIGITS_FEATURES = 61


def digits(first=0, count=DIGITS_TRAIN_ROWS):
    """Rows first .. first + count of the standardised digits (the train part by default; held-out rows after it)."""
    with open(os.path.join(HERE, '..', 'resources', 'examples', 'digits.csv')) as f:
        rows = list(csv.reader(f))[1:]
    data = np.array(rows, dtype=np.float32)
    x, y = data[:, :-1], data[:, -1].astype(np.int64)
    x = x[:, x.std(0) > 0]
    x = (x - x.mean(0)) / x.std(0)
    return torch.from_numpy(x[first:first + count]), torch.from_numpy(y[first:first + count])


def synthetic(n, shape, classes=10, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn((n, *shape), generator=g), torch.randint(0, classes, (n,), generator=g)


def build(name):
    if name == 'digits-mlp':
        return nn.Sequential(nn.Linear(DIGITS_FEATURES, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 10))
    if name == 'mlp-64-256-256-10':
        return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    if name == 'cnn-medium':
        # LayerLab's cnn-medium preset: three stages of conv3x3 (linear) -> batch norm -> relu -> conv3x3 relu ->
        # maxpool 2 (32, 64, 128 filters), global average pool, dropout 0.3, dense 128 relu, dense 10
        layers, channels = [], 3
        for filters in (32, 64, 128):
            layers += [nn.Conv2d(channels, filters, 3, padding=1), nn.BatchNorm2d(filters, eps=1e-3, momentum=0.01), nn.ReLU(),
                       nn.Conv2d(filters, filters, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True)]
            channels = filters
        return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))
    # small CNN on 28x28x1: conv(16,3,same) relu, maxpool, conv(32,3,same) relu, maxpool, flatten, dense 64 relu, dense 10
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))


_data = {}
_warm = set()


# The synthetic cases' row shape and default row count.
SYNTHETIC = {'mlp-64-256-256-10': ((64,), 4096), 'cnn-medium': ((3, 64, 64), 256), 'small-cnn': ((1, 28, 28), 2048)}


def data_for(case):
    key = (case['model'], case.get('rows'))
    if key not in _data:
        if case['model'] == 'digits-mlp':
            _data[key] = digits()
        else:
            shape, rows = SYNTHETIC[case['model']]
            _data[key] = synthetic(case.get('rows', rows), shape)
    return _data[key]


def held_out(case):
    """A case's validation rows: the digits after the train part, or synthetic rows of its shape from another seed."""
    key = (case['model'], 'validation', case['validation'])
    if key not in _data:
        if case['model'] == 'digits-mlp':
            _data[key] = digits(DIGITS_TRAIN_ROWS, case['validation'])
        else:
            _data[key] = synthetic(case['validation'], SYNTHETIC[case['model']][0], seed=2)
    return _data[key]


def validate(model, loss_fn, x, y):
    """One pass over the validation rows in eval mode: loss and accuracy (what LayerLab's epoch reports)."""
    model.eval()
    with torch.no_grad():
        logits = model(x)
        loss = float(loss_fn(logits, y))
        accuracy = float((logits.argmax(1) == y).float().mean())
    model.train()
    return loss, accuracy


def epoch(model, opt, loss_fn, x, y, batch, limit=None):
    perm = torch.randperm(len(x))
    for b, i in enumerate(range(0, len(x), batch)):
        if limit is not None and b >= limit:
            break
        idx = perm[i:i + batch]
        opt.zero_grad()
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()


def run(case):
    x, y = data_for(case)
    model = build(case['model'])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    batch, epochs = case['batch'], case.get('epochs', 1)
    key = (case['model'], batch)
    validation = held_out(case) if case.get('validation') else None
    if key not in _warm:  # first use of a model and batch in this process: a few batches of warm-up
        epoch(model, opt, loss_fn, x, y, batch, limit=5)
        _warm.add(key)
    if validation is not None and (key, 'validation') not in _warm:  # and one validation pass
        validate(model, loss_fn, *validation)
        _warm.add((key, 'validation'))
    best_loss, best = float('inf'), None
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        epoch(model, opt, loss_fn, x, y, batch)
        if validation is not None:
            loss, _ = validate(model, loss_fn, *validation)
            if loss < best_loss:  # the copy is the cost measured: LayerLab keeps the best epoch's weights too
                best_loss, best = loss, {k: v.detach().clone() for k, v in model.state_dict().items()}
        times.append((time.perf_counter() - start) * 1000)
    ms = float(np.median(times))
    return {'model': case['model'], 'batch': batch, 'rows': len(x), 'validation': case.get('validation', 0), 'msPerEpoch': ms, 'times': times,
            'torch': torch.__version__, 'threads': torch.get_num_threads()}


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--serve':
        print(json.dumps({'ready': True, 'torch': torch.__version__, 'threads': torch.get_num_threads()}), flush=True)
        for line in sys.stdin:
            if line.strip():
                print(json.dumps(run(json.loads(line))), flush=True)
    else:
        cases = json.loads(sys.argv[1]) if len(sys.argv) > 1 else [{'model': 'digits-mlp', 'batch': 32}]
        print(json.dumps([run(c) for c in cases]))
